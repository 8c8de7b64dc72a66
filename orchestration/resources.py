"""The Mailroom resource: settings (paths, as-of date) and warehouse connections."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_dbt import DbtCliResource
from packaging.version import Version

from mailroom.settings import Settings


class MailroomResource(ConfigurableResource):
    """Paths and the as-of date of a run; empty fields fall back to environment
    variables (MAILROOM_HOME, MAILROOM_AS_OF, ...) and then defaults."""

    home: str = ""
    as_of: str = ""
    # An instant (UTC, ISO 8601) for near-real-time runs; its date is the as-of date.
    as_of_at: str = ""

    def settings(self) -> Settings:
        return Settings.load(
            home=self.home or None,
            as_of=self.as_of or None,
            as_of_at=self.as_of_at or None,
        )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # dbt runs as a subprocess and reads the warehouse path and as-of date from
        # the environment: hand the resolved settings down to it.
        self.settings().export()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection: DuckDB lets one process hold the file at a time."""
        path = self.settings().warehouse
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path)) as con:
            con.execute("set enable_progress_bar = false")
            yield con


class MailroomDbtCli(DbtCliResource):
    """dbt as a subprocess, without the two start-up costs dagster-dbt adds per run.

    Before each run's first dbt command dagster-dbt runs ``dbt --version`` in a
    subprocess and opens a dbt adapter in the run's own process (for row counts and
    column metadata, which Mailroom does not fetch). Both import dbt: 5-8 s of every
    run on this machine, where a real-time run has 30 s in all. The dbt used is the
    one installed beside this Python, so its version is the installed dbt-core's;
    dagster-dbt treats a missing adapter as supported (it catches failures to make
    one). dagster-dbt is pinned exactly, so these private hooks cannot move unseen.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None
