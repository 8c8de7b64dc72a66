"""The Mailroom resource: settings (paths, as-of date) and warehouse connections."""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource, InitResourceContext

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
