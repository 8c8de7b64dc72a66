"""Where Mailroom keeps its data, and the date it runs as of.

One typed settings object, read from flags or environment variables and validated at
the edge. ``MAILROOM_HOME`` is the data folder; the landing folder, the DuckDB file and
the outbox live inside it unless set one by one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

DEFAULT_HOME = Path(".mailroom")

ENV_HOME = "MAILROOM_HOME"
ENV_LANDING = "MAILROOM_LANDING"
ENV_WAREHOUSE = "MAILROOM_WAREHOUSE"
ENV_OUTBOX = "MAILROOM_OUTBOX"
ENV_AS_OF = "MAILROOM_AS_OF"
ENV_AS_OF_AT = "MAILROOM_AS_OF_AT"
ENV_RETENTION_DAYS = "MAILROOM_RETENTION_DAYS"
# The simulator's as-of date: the day after its last simulated day (here, not in
# mailroom.simulator, so that the command line can name it without loading pandas).
DEFAULT_AS_OF = date(2026, 11, 1)
# Raw web and email events older than this many days before the as-of date are
# purged by every ingestion (two years: long enough for yearly seasonality).
DEFAULT_RETENTION_DAYS = 730
# What DuckDB may hold in memory before it spills to disk, in dbt (profiles.yml,
# same default) and in every Python step that opens the warehouse. Without it
# DuckDB takes up to 80 % of RAM beside the step's own frames: the ML step at
# 1,000,000 customers was killed for memory on a 24 GiB machine.
ENV_DUCKDB_MEMORY_LIMIT = "MAILROOM_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"
# The ML steps keep feature tables and fitted models of their own beside DuckDB,
# whose queries there (features per cutoff) are light: with 4GB the ML stage at
# 1,000,000 customers peaked at 6.0 GiB, with 3GB at 5.0 GiB (its feature queries
# spill a little: about 6 s more of 300).
ENV_ML_DUCKDB_MEMORY_LIMIT = "MAILROOM_ML_DUCKDB_MEMORY_LIMIT"
DEFAULT_ML_DUCKDB_MEMORY_LIMIT = "3GB"
# How many models and tests dbt runs at once (profiles.yml's ``threads``). On the
# two cores this default is tuned for, two won at 100,000 customers (dbt's build
# 36.7 s against 47.1 s with one) and lost a little at 1,000,000 (a refresh 307 s
# against 267 s, a full build 540 s against 556 s): overlapping two statements
# hides dbt's cost per node, but two large ones share the cores and the memory
# limit. More cores, more threads.
ENV_DBT_THREADS = "MAILROOM_DBT_THREADS"
DEFAULT_DBT_THREADS = 2


def duckdb_memory_limit() -> str:
    """DuckDB's ``memory_limit`` for Mailroom's connections (e.g. ``4GB``)."""
    return os.environ.get(ENV_DUCKDB_MEMORY_LIMIT) or DEFAULT_DUCKDB_MEMORY_LIMIT


def ml_duckdb_memory_limit() -> str:
    """DuckDB's ``memory_limit`` for the ML steps' connections."""
    return os.environ.get(ENV_ML_DUCKDB_MEMORY_LIMIT) or DEFAULT_ML_DUCKDB_MEMORY_LIMIT


class SettingsError(ValueError):
    """A path or date setting that cannot be used; the message says what to fix."""


def parse_as_of(value: str | date | None) -> date:
    """Parse an as-of date given as ``YYYY-MM-DD``; ``None`` or empty means today (UTC).

    The pipeline sees everything strictly before midnight UTC that starts the as-of day.
    """
    if value is None or value == "":
        return datetime.now(UTC).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise SettingsError(
            f"as-of date {value!r} is not a date: write it as YYYY-MM-DD, "
            "for example --as-of 2011-12-11"
        ) from None


def parse_retention_days(value: str | int | None) -> int:
    """A retention age in whole days (at least 1); ``None`` or empty: the default."""
    return _at_least_one(
        value,
        DEFAULT_RETENTION_DAYS,
        f"retention {value!r} is not a number of days: give a whole number of at "
        f"least 1, for example --retention-days {DEFAULT_RETENTION_DAYS}",
    )


def parse_dbt_threads(value: str | int | None) -> int:
    """dbt's thread count (at least 1); ``None`` or empty: the default."""
    return _at_least_one(
        value,
        DEFAULT_DBT_THREADS,
        f"{ENV_DBT_THREADS}={value!r} is not a thread count: give a whole number "
        f"of at least 1 (models and tests dbt runs at once), for example "
        f"{ENV_DBT_THREADS}={DEFAULT_DBT_THREADS}",
    )


def _at_least_one(value: str | int | None, default: int, refusal: str) -> int:
    """A whole number of at least 1 from ``value``; ``None`` or empty: ``default``;
    anything else: ``SettingsError(refusal)``."""
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise SettingsError(refusal)
    return number


def parse_as_of_at(value: str | datetime | None) -> datetime | None:
    """Parse an as-of instant (ISO 8601; naive means UTC) into naive UTC, or None.

    The near-real-time path runs as of an instant rather than a midnight, so that a
    cart abandoned a minute ago counts now rather than tomorrow.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise SettingsError(
                f"as-of instant {value!r} is not a timestamp: write it as ISO 8601, "
                "for example 2026-11-25T10:03:00Z"
            ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


@dataclass(frozen=True)
class Settings:
    """Resolved, absolute paths and the as-of date of one Mailroom run.

    ``as_of_at``, when set, is the instant the run sees up to (UTC); ``as_of`` is
    then its date. Unset, the run sees everything before midnight starting ``as_of``.
    """

    home: Path
    landing: Path
    warehouse: Path
    outbox: Path
    as_of: date
    as_of_at: datetime | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    dbt_threads: int = DEFAULT_DBT_THREADS

    @classmethod
    def load(
        cls,
        home: str | Path | None = None,
        landing: str | Path | None = None,
        warehouse: str | Path | None = None,
        outbox: str | Path | None = None,
        as_of: str | date | None = None,
        as_of_at: str | datetime | None = None,
        retention_days: str | int | None = None,
    ) -> Settings:
        """Settings from arguments, else environment variables, else defaults.

        A ``home`` given as an argument wins over every path variable: the landing
        folder, warehouse and outbox then live in it unless given as arguments too.
        """
        env = {} if home else os.environ
        home_path = _absolute(home or env.get(ENV_HOME) or DEFAULT_HOME)
        # An as-of date given here wins over an instant left in the environment.
        if as_of_at is None and as_of is None:
            as_of_at = os.environ.get(ENV_AS_OF_AT)
        instant = parse_as_of_at(as_of_at)
        if instant is not None:
            as_of = instant.date()
        return cls(
            home=home_path,
            landing=_absolute(landing or env.get(ENV_LANDING) or home_path / "landing"),
            warehouse=_absolute(
                warehouse or env.get(ENV_WAREHOUSE) or home_path / "warehouse.duckdb"
            ),
            outbox=_absolute(outbox or env.get(ENV_OUTBOX) or home_path / "outbox"),
            as_of=parse_as_of(
                as_of if as_of is not None else os.environ.get(ENV_AS_OF)
            ),
            as_of_at=instant,
            retention_days=parse_retention_days(
                retention_days
                if retention_days is not None
                else os.environ.get(ENV_RETENTION_DAYS)
            ),
            dbt_threads=parse_dbt_threads(os.environ.get(ENV_DBT_THREADS)),
        )

    def with_as_of(self, as_of: str | date | None) -> Settings:
        return replace(self, as_of=parse_as_of(as_of), as_of_at=None)

    def as_env(self) -> dict[str, str]:
        """The environment variables that hand these settings to dbt and Dagster."""
        return {
            ENV_HOME: str(self.home),
            ENV_LANDING: str(self.landing),
            ENV_WAREHOUSE: str(self.warehouse),
            ENV_OUTBOX: str(self.outbox),
            ENV_AS_OF: self.as_of.isoformat(),
            ENV_AS_OF_AT: self.as_of_at.isoformat() if self.as_of_at else "",
            ENV_RETENTION_DAYS: str(self.retention_days),
            ENV_DBT_THREADS: str(self.dbt_threads),
        }

    def export(self) -> None:
        """Put these settings into this process's environment (for dbt and Dagster)."""
        os.environ.update(self.as_env())
        if self.as_of_at is None:
            os.environ.pop(ENV_AS_OF_AT, None)


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()
