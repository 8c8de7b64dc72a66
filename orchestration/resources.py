"""The Mailroom resource: settings (paths, as-of date) and warehouse connections."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version

import duckdb
from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    InitResourceContext,
    RetryRequested,
)
from dagster_dbt import DbtCliResource
from packaging.version import Version
from pydantic import Field

from mailroom.settings import Settings, duckdb_memory_limit


class WarehouseBusy(RuntimeError):
    """Another process holds the DuckDB file: a notebook, a BI tool, another run.

    DuckDB lets one process open the file and refuses the next at once rather than
    waiting, so this is the transient failure a step is retried on.
    """


class MailroomResource(ConfigurableResource):
    """Paths and the as-of date of a run; empty fields fall back to environment
    variables (MAILROOM_HOME, MAILROOM_AS_OF, ...) and then defaults."""

    home: str = ""
    as_of: str = ""
    # An instant (UTC, ISO 8601) for near-real-time runs; its date is the as-of date.
    as_of_at: str = ""
    busy_retries: int = Field(
        default=4,
        ge=0,
        description="Retries of a step that finds the warehouse held by another "
        "process.",
    )
    busy_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Wait before the first such retry; each next wait doubles.",
    )

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
    def connect(
        self,
        context: AssetExecutionContext | None = None,
        memory_limit: str | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection: DuckDB lets one process hold the file at a time.

        DuckDB may use ``memory_limit`` (default: ``MAILROOM_DUCKDB_MEMORY_LIMIT``).

        Given the step's ``context``, a file held by another process retries the
        step with exponential backoff (``busy_retries``, ``busy_wait_seconds``). Only
        that is retried: any other failure (a failed dbt test, bad configuration)
        fails the step at once, leaving downstream steps unrun and the tables and
        outbox of the last good run as they were.
        """
        path = self.settings().warehouse
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(
                str(path),
                config={"memory_limit": memory_limit or duckdb_memory_limit()},
            )
        except duckdb.IOException as error:
            if "Could not set lock" not in str(error):
                raise
            busy = WarehouseBusy(
                f"the warehouse {path} is held by another process; close that "
                "process (a DuckDB CLI, notebook or dashboard query) or wait for it"
            )
            if context is None or context.retry_number >= self.busy_retries:
                raise busy from error
            raise self._retry_later(context, busy) from busy
        with con:
            con.execute("set enable_progress_bar = false")
            yield con

    def _retry_later(
        self, context: AssetExecutionContext, busy: WarehouseBusy
    ) -> RetryRequested:
        wait = self.busy_wait_seconds * 2**context.retry_number
        context.log.warning(
            f"{busy}: retry {context.retry_number + 1} of {self.busy_retries} "
            f"in {wait:g} s"
        )
        return RetryRequested(max_retries=self.busy_retries, seconds_to_wait=wait)


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
