"""Incremental event models: a daily refresh reads only what was loaded since the
last run, and ends with the same tables a full rebuild of the same data makes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from mailroom.dbt_cli import run_dbt
from mailroom.ingest import ingest_landing
from mailroom.simulator import generate
from mailroom.simulator.daily import land_next_day
from tests.conftest import DEMO_AS_OF

# The event models and everything they read, plus the quarantine and reconciliation.
SELECTION = ("+int_web_events_enriched", "+quarantined_rows", "+source_reconciliation")
# Tables compared between the refreshed and the rebuilt warehouse.
EVENT_TABLES = (
    "staging.base_web__events",
    "intermediate.int_web_events_sessionized",
    "intermediate.int_web_events_enriched",
    "staging.base_esp__email_events",
)
OTHER_TABLES = (
    "staging.base_shop__orders",
    "staging.base_shop__order_items",
    "quality.quarantined_rows",
    "quality.source_reconciliation",
)
# A page_url no event has: set before the refresh on rows it must not rebuild.
MARKER = "marked-before-the-refresh"


@dataclass(frozen=True)
class Refresh:
    """A warehouse refreshed incrementally, the same data rebuilt, and the events
    marked in between: one of a visitor the new file does not touch, one of a
    visitor it does."""

    refreshed: Path
    rebuilt: Path
    next_day: Path
    untouched_event_id: str
    touched_event_id: str


def _ingest(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        ingest_landing(con, landing)


def _build(warehouse: Path, target: Path, *args: str) -> None:
    """Build the selection with its data tests (the reconciliation among them)."""
    run_dbt(
        "build",
        "--select",
        *SELECTION,
        "--exclude-resource-type",
        "unit_test",
        *args,
        warehouse=warehouse,
        as_of=DEMO_AS_OF.isoformat(),
        target_path=target,
    )


def _mark_events(warehouse: Path, next_day: Path) -> tuple[str, str]:
    """Mark the sessionized row of one event whose visitor has new events in
    ``next_day`` and one whose visitor has none (and that event's base row too)."""
    with duckdb.connect(str(warehouse)) as con:
        touched, untouched = (
            con.execute(
                f"""
                select min(events.event_id)
                from intermediate.int_web_events_sessionized as events
                where events.visitor_key {operator} (
                    select anonymous_id from read_parquet('{next_day}')
                    where anonymous_id is not null
                )
                """
            ).fetchone()[0]
            for operator in ("in", "not in")
        )
        for table, event_ids in (
            ("intermediate.int_web_events_sessionized", [touched, untouched]),
            ("staging.base_web__events", [untouched]),
        ):
            con.execute(
                f"update {table} set page_url = ? where list_contains(?, event_id)",
                [MARKER, event_ids],
            )
    return untouched, touched


@pytest.fixture(scope="module")
def refresh(tmp_path_factory: pytest.TempPathFactory) -> Refresh:
    """400 customers built once; then a day of new events (2 % more, some
    re-delivering an event id) landed, ingested and refreshed; then the same data
    rebuilt from scratch with --full-refresh in a copy."""
    home = tmp_path_factory.mktemp("incremental")
    generate(home, customers=400, seed=11, as_of=DEMO_AS_OF)
    warehouse = home / "warehouse.duckdb"
    _ingest(warehouse, home / "landing")
    _build(warehouse, home / "target")

    land_next_day(warehouse, home / "landing", fraction=0.02)
    next_day = home / "landing" / "web_events" / "next-day.parquet"
    untouched, touched = _mark_events(warehouse, next_day)
    _ingest(warehouse, home / "landing")
    _build(warehouse, home / "target")

    rebuilt = home / "rebuilt.duckdb"
    shutil.copy(warehouse, rebuilt)
    _build(rebuilt, home / "target-rebuilt", "--full-refresh")
    return Refresh(warehouse, rebuilt, next_day, untouched, touched)


@pytest.fixture
def con(refresh: Refresh) -> Iterator[duckdb.DuckDBPyConnection]:
    """The refreshed warehouse, with the rebuilt one attached as ``rebuilt``."""
    con = duckdb.connect(str(refresh.refreshed), read_only=True)
    con.execute(f"attach '{refresh.rebuilt}' as rebuilt (read_only)")
    yield con
    con.close()


def _differences(con: duckdb.DuckDBPyConnection, table: str, where: str) -> int:
    """Rows of ``table`` in one warehouse and not the other, duplicates counted."""
    refreshed = f"select * from {table} where {where}"
    rebuilt = f"select * from rebuilt.{table} where {where}"
    return con.execute(
        f"""
        select count(*) from (
            ({refreshed} except all {rebuilt})
            union all
            ({rebuilt} except all {refreshed})
        )
        """
    ).fetchone()[0]


@pytest.mark.parametrize("table", EVENT_TABLES + OTHER_TABLES)
def test_a_refresh_ends_with_the_tables_a_full_rebuild_makes(
    refresh: Refresh, con: duckdb.DuckDBPyConnection, table: str
) -> None:
    # The marked event is the one row the refresh rightly left alone.
    where = (
        f"event_id != '{refresh.untouched_event_id}'"
        if table in EVENT_TABLES
        else "true"
    )
    assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0
    assert _differences(con, table, where) == 0


def test_a_refresh_rebuilds_only_new_rows_and_the_sessions_of_their_visitors(
    refresh: Refresh, con: duckdb.DuckDBPyConnection
) -> None:
    def page_url(table: str, event_id: str) -> str:
        return con.execute(
            f"select page_url from {table} where event_id = ?", [event_id]
        ).fetchone()[0]

    sessionized = "intermediate.int_web_events_sessionized"
    assert page_url("staging.base_web__events", refresh.untouched_event_id) == MARKER
    assert page_url(sessionized, refresh.untouched_event_id) == MARKER
    assert page_url(sessionized, refresh.touched_event_id) != MARKER


@pytest.mark.parametrize("base", ["base_web__events", "base_esp__email_events"])
def test_an_event_id_delivered_again_in_a_later_file_is_quarantined(
    con: duckdb.DuckDBPyConnection, base: str
) -> None:
    # Only ids whose first delivery was valid: a copy of a defective row keeps its
    # defect as the reason.
    reasons = con.execute(
        f"""
        select again.quarantine_reason
        from staging.{base} as again
        inner join staging.{base} as first
            on again.event_id = first.event_id
            and first.file_name != again.file_name
            and first.quarantine_reason is null
        where again.file_name = 'next-day.parquet'
        """
    ).fetchall()
    assert reasons and set(reasons) == {("duplicate_event_id",)}


def test_every_raw_row_is_staged_or_quarantined_after_a_refresh(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for source, raw_rows, staged, quarantined in con.execute(
        "select source_name, raw_rows, staged_rows, quarantined_rows "
        "from quality.source_reconciliation"
    ).fetchall():
        loaded = con.execute(f"select count(*) from raw.{source}").fetchone()[0]
        assert raw_rows == loaded == staged + quarantined, source
