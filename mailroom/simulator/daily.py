"""A day of new data on top of what a warehouse already holds: for tests and
benchmarks of incremental refreshes.

New events copy a sample of the events already loaded (same visitor, email or
customer, under a new id, on the new day or late among the history), so they touch
existing people and sessions the way a real daily file does, and a few re-deliver
an event id loaded before, which staging must quarantine as a duplicate. Everything
is written by DuckDB straight from ``raw.*``: nothing passes through Python memory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

# Load metadata ingestion adds to every raw table; never part of a landing file.
LOAD_COLUMNS = "_file_name, _row_number, _loaded_at, _file_checksum"
# Event sources and the column holding their timestamp and their id.
EVENT_SOURCES = {
    "web_events": ("event_id", "occurred_at"),
    "email_events": ("event_id", "occurred_at"),
    "orders": ("order_id", "ordered_at"),
}
NEW_ID_PREFIX = "new-"


def _new_time(column: str, key: str, day: date, late_share: float) -> str:
    """SQL: the ISO 8601 UTC time of a new event copied from one at ``column``: the
    same time of day on ``day``, or, for ``late_share`` of them (by hash of the id),
    one minute after it (a late event, landing among the visitor's history)."""
    original = f"try_cast({column} as timestamp)"
    return f"""strftime(
        case
            when hash({key}) % 10000 < {round(late_share * 10000)}
                then {original} + interval 1 minute
            else cast('{day.isoformat()}' as timestamp)
                + ({original} - date_trunc('day', {original}))
        end,
        '%Y-%m-%dT%H:%M:%SZ'
    )"""


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """Write ``query`` to a Parquet landing file; return its row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({query}) to '{path}' (format parquet)")
    return con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]


def _sample(source: str, size: str, seed: int) -> str:
    """SQL: a reproducible sample (``size``: DuckDB's ``10 percent`` or ``5 rows``) of
    the rows of ``raw.<source>`` that have an id and a readable timestamp."""
    key, timestamp = EVENT_SOURCES[source]
    return f"""
        select * exclude ({LOAD_COLUMNS}) from raw.{source}
        where try_cast({timestamp} as timestamp) is not null and {key} is not null
        using sample reservoir({size}) repeatable ({seed})
    """


def land_next_day(
    warehouse: Path,
    landing: Path,
    day: date,
    fraction: float = 0.01,
    late_share: float = 0.0,
    seed: int = 1,
    name: str = "next-day",
) -> dict[str, int]:
    """Write ``landing/<source>/<name>.parquet`` with about ``fraction`` new events.

    For web events, email events and orders (with their order lines): a sample of
    ``fraction`` of the loaded rows under new ids, happening on ``day`` (or late, see
    ``_new_time``), plus one row per hundred that re-delivers an id already loaded
    (a re-delivered order comes with its lines again).
    Returns the rows written per source. The warehouse is only read.
    """
    written = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for source, (key, timestamp) in EVENT_SOURCES.items():
            loaded = con.execute(f"select count(*) from raw.{source}").fetchone()[0]
            new_rows = f"""
                select * replace (
                    '{NEW_ID_PREFIX}' || {key} as {key},
                    {_new_time(timestamp, key, day, late_share)} as {timestamp}
                )
                from ({_sample(source, f"{fraction * 100:.6f} percent", seed)})
            """
            redelivered = _sample(
                source, f"{max(1, int(loaded * fraction / 100))} rows", seed
            )
            written[source] = _copy(
                con,
                f"{new_rows} union all by name {redelivered}",
                landing / source / f"{name}.parquet",
            )
        # The lines of each order in the file: under the new id for a new order,
        # as loaded for a re-delivered one (which staging quarantines again).
        new_orders = landing / "orders" / f"{name}.parquet"
        written["order_items"] = _copy(
            con,
            f"""
            with orders as (
                select order_id from read_parquet('{new_orders}')
            )
            select * exclude ({LOAD_COLUMNS})
                replace ('{NEW_ID_PREFIX}' || order_id as order_id)
            from raw.order_items
            where '{NEW_ID_PREFIX}' || order_id in (select order_id from orders)
            union all
            select * exclude ({LOAD_COLUMNS})
            from raw.order_items
            where order_id in (select order_id from orders)
            """,
            landing / "order_items" / f"{name}.parquet",
        )
    return written
