"""Incremental event models: a daily refresh reads only what was loaded since the
last run, and ends with the same tables a full rebuild of the same data makes."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from mailroom.dbt_cli import run_dbt
from mailroom.ingest import ingest_landing
from mailroom.postgres import PostgresDestination
from mailroom.simulator import generate
from mailroom.simulator.daily import NEW_ID_PREFIX, land_next_day
from tests.conftest import DEMO_AS_OF
from tests.postgres_server import enter_postgres_database

# The event models and everything they read, plus the quarantine and reconciliation.
SELECTION = ("+int_web_events_enriched", "+quarantined_rows", "+source_reconciliation")
# Tables compared between the refreshed and the rebuilt warehouse.
SESSIONIZED = "intermediate.int_web_events_sessionized"
EVENT_TABLES = (
    "staging.base_web__events",
    SESSIONIZED,
    "intermediate.int_web_events_enriched",
    "staging.base_esp__email_events",
)
OTHER_TABLES = (
    "staging.base_shop__orders",
    "staging.base_shop__order_items",
    "quality.quarantined_rows",
    "quality.source_reconciliation",
)
# The day the new events happen: the last before the as-of date.
NEW_DAY = DEMO_AS_OF - timedelta(days=1)
# A value no event has: set before the refresh on rows it must leave alone.
MARKER = "marked-before-the-refresh"


@dataclass(frozen=True)
class Refresh:
    """A warehouse refreshed incrementally and the same data rebuilt. Before the
    refresh, three sessionized events were marked: one of a visitor without new
    events, one of a visitor with new events but before the earliest of them (both
    must be left alone) and one after it (which must be numbered again)."""

    home: Path
    refreshed: Path
    rebuilt: Path
    untouched_event_id: str
    before_new_event_id: str
    after_new_event_id: str

    @property
    def kept_event_ids(self) -> tuple[str, str]:
        return self.untouched_event_id, self.before_new_event_id


def _ingest(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        ingest_landing(con, landing)


def _build(warehouse: Path | None, target: Path, *args: str) -> None:
    """Build the selection with its data tests (the reconciliation among them)."""
    run_dbt(
        "build",
        "--select",
        *SELECTION,
        "--exclude-resource-type",
        "unit_test",
        *args,
        warehouse=warehouse or target / "unused.duckdb",
        as_of=DEMO_AS_OF.isoformat(),
        target_path=target,
    )


def _mark_events(warehouse: Path, next_day: Path) -> tuple[str, str, str]:
    """Mark the session of three sessionized events (see :class:`Refresh`) and the
    base row of the untouched one; return their ids."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            f"""
            create temp table first_new as
            select anonymous_id as visitor_key, min(occurred_at::timestamp) as at
            from read_parquet('{next_day}')
            where anonymous_id is not null and event_id like '{NEW_ID_PREFIX}%'
            group by anonymous_id
            """
        )
        untouched, before, after = (
            con.execute(
                f"""
                select min(events.event_id)
                from {SESSIONIZED} as events
                left join first_new using (visitor_key)
                where {condition}
                """
            ).fetchone()[0]
            for condition in (
                "first_new.at is null",
                "events.occurred_at < first_new.at",
                "events.occurred_at > first_new.at",
            )
        )
        for table, column, event_ids in (
            (SESSIONIZED, "session_id", [untouched, before, after]),
            ("staging.base_web__events", "page_url", [untouched]),
        ):
            con.execute(
                f"update {table} set {column} = ? where list_contains(?, event_id)",
                [MARKER, event_ids],
            )
    return untouched, before, after


@pytest.fixture(scope="module")
def refresh(tmp_path_factory: pytest.TempPathFactory) -> Refresh:
    """400 customers built once; then a day of new events (2 % more, half of them
    late among the history, some re-delivering an event id) landed, ingested and
    refreshed; then the same data rebuilt from scratch with --full-refresh in a
    copy."""
    home = tmp_path_factory.mktemp("incremental")
    generate(home, customers=400, seed=11, as_of=DEMO_AS_OF)
    warehouse = home / "warehouse.duckdb"
    _ingest(warehouse, home / "landing")
    _build(warehouse, home / "target")

    land_next_day(warehouse, home / "landing", NEW_DAY, fraction=0.02, late_share=0.5)
    marked = _mark_events(
        warehouse, home / "landing" / "web_events" / "next-day.parquet"
    )
    _ingest(warehouse, home / "landing")
    _build(warehouse, home / "target")

    rebuilt = home / "rebuilt.duckdb"
    shutil.copy(warehouse, rebuilt)
    _build(rebuilt, home / "target-rebuilt", "--full-refresh")
    return Refresh(home, warehouse, rebuilt, *marked)


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
    # The marked events the refresh rightly left alone are the only difference.
    where = (
        f"event_id not in {refresh.kept_event_ids}" if table in EVENT_TABLES else "true"
    )
    assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0
    assert _differences(con, table, where) == 0


def test_a_refresh_renumbers_only_new_rows_and_the_sessions_after_them(
    refresh: Refresh, con: duckdb.DuckDBPyConnection
) -> None:
    def value(table: str, column: str, event_id: str) -> str:
        return con.execute(
            f"select {column} from {table} where event_id = ?", [event_id]
        ).fetchone()[0]

    base = "staging.base_web__events"
    assert value(base, "page_url", refresh.untouched_event_id) == MARKER
    for event_id in refresh.kept_event_ids:
        assert value(SESSIONIZED, "session_id", event_id) == MARKER
    assert value(SESSIONIZED, "session_id", refresh.after_new_event_id) != MARKER


@pytest.mark.parametrize(
    ("base", "key", "reason"),
    [
        ("base_web__events", "event_id", "duplicate_event_id"),
        ("base_esp__email_events", "event_id", "duplicate_event_id"),
        ("base_shop__orders", "order_id", "duplicate_order_id"),
        ("base_shop__order_items", "order_item_id", "duplicate_order_item_id"),
    ],
)
def test_an_id_delivered_again_in_a_later_file_is_quarantined(
    con: duckdb.DuckDBPyConnection, base: str, key: str, reason: str
) -> None:
    # Only ids whose first delivery was valid: a copy of a defective row keeps its
    # defect as the reason.
    reasons = con.execute(
        f"""
        select again.quarantine_reason
        from staging.{base} as again
        inner join staging.{base} as first
            on again.{key} = first.{key}
            and first.file_name != again.file_name
            and first.quarantine_reason is null
        where again.file_name = 'next-day.parquet'
        """
    ).fetchall()
    assert reasons and set(reasons) == {(reason,)}


def test_every_raw_row_is_staged_or_quarantined_after_a_refresh(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for source, raw_rows, staged, quarantined in con.execute(
        "select source_name, raw_rows, staged_rows, quarantined_rows "
        "from quality.source_reconciliation"
    ).fetchall():
        loaded = con.execute(f"select count(*) from raw.{source}").fetchone()[0]
        assert raw_rows == loaded == staged + quarantined, source


# A full build's batch size small enough that the 400 customers' events take several.
SMALL_BATCHES = "{session_build_batch_events: 2000}"


@pytest.mark.parametrize("build", ["first", "full-refresh"])
def test_a_full_build_in_batches_of_visitors_makes_the_same_sessions(
    refresh: Refresh, tmp_path: Path, build: str
) -> None:
    batched = tmp_path / "batched.duckdb"
    shutil.copy(refresh.rebuilt, batched)
    if build == "first":
        with duckdb.connect(str(batched)) as con:
            con.execute(f"drop table {SESSIONIZED}")
    run_dbt(
        "build",
        "--select",
        "int_web_events_sessionized",
        *(["--full-refresh"] if build == "full-refresh" else []),
        "--vars",
        SMALL_BATCHES,
        warehouse=batched,
        as_of=DEMO_AS_OF.isoformat(),
        target_path=tmp_path / "target",
    )
    with duckdb.connect(str(batched), read_only=True) as con:
        con.execute(f"attach '{refresh.rebuilt}' as rebuilt (read_only)")
        events = con.execute(f"select count(*) from {SESSIONIZED}").fetchone()[0]
        assert events > 3 * 2000
        assert _differences(con, SESSIONIZED, "true") == 0
        leftovers = con.execute(
            "select table_name from information_schema.tables "
            "where suffix(table_name, '__batches')"
        ).fetchall()
        assert leftovers == []


def test_a_batch_size_below_one_is_refused_by_name(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        run_dbt(
            "compile",
            "--select",
            "int_web_events_sessionized",
            "--vars",
            "{session_build_batch_events: 0}",
            warehouse=tmp_path / "warehouse.duckdb",
            as_of=DEMO_AS_OF.isoformat(),
            target_path=tmp_path / "target",
        )
    output = capfd.readouterr()
    assert "session_build_batch_events must be a whole number" in (
        output.out + output.err
    )


# What each table must hold alike on both engines, as a set (engines sort text
# differently, and load times differ).
POSTGRES_CHECKS = {
    "staging.base_web__events": "event_id, file_row_number, quarantine_reason",
    "staging.base_esp__email_events": "event_id, file_row_number, quarantine_reason",
    "staging.base_shop__orders": "order_id, file_row_number, quarantine_reason",
    "staging.base_shop__order_items": "order_item_id, quarantine_reason",
    SESSIONIZED: "event_id, session_id",
    "intermediate.int_web_events_enriched": "event_id, session_id, customer_id",
    "quality.source_reconciliation": "*",
}


@pytest.fixture(scope="module")
def postgres(
    refresh: Refresh, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[psycopg.Connection]:
    """The same two deliveries built and refreshed on PostgreSQL."""
    with ExitStack() as stack:
        server = enter_postgres_database(stack)
        pg = stack.enter_context(server.connect())
        home = tmp_path_factory.mktemp("incremental-postgres")
        first_day = shutil.ignore_patterns("next-day.*")
        shutil.copytree(refresh.home / "landing", home / "landing", ignore=first_day)
        ingest_landing(PostgresDestination(pg), home / "landing")
        # The first build in batches (a hash of the visitor picks the batch).
        _build(None, home / "target", "--target", "postgres", "--vars", SMALL_BATCHES)

        shutil.copytree(refresh.home / "landing", home / "landing", dirs_exist_ok=True)
        ingest_landing(PostgresDestination(pg), home / "landing")
        _build(None, home / "target", "--target", "postgres")
        yield pg


@pytest.mark.postgres
@pytest.mark.parametrize("table", POSTGRES_CHECKS)
def test_the_same_refresh_on_postgres_gives_the_same_rows(
    refresh: Refresh, postgres: psycopg.Connection, table: str
) -> None:
    sql = f"select {POSTGRES_CHECKS[table]} from {table}"
    with duckdb.connect(str(refresh.rebuilt), read_only=True) as rebuilt:
        expected = set(rebuilt.execute(sql).fetchall())
    assert expected
    assert set(postgres.execute(sql).fetchall()) == expected
