"""Ingestion: files load once, as delivered; bad files are refused with a clear line."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mailroom.ingest import IngestError, ingest_landing

ORDERS_HEADER = "Order_ID,customer_id,ORDERED_AT,total_amount\n"


def _write(landing: Path, source: str, name: str, text: str) -> Path:
    path = landing / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    with duckdb.connect() as connection:
        yield connection


def test_files_load_once_with_metadata_and_case_insensitive_columns(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path, "orders", "a.csv", ORDERS_HEADER + "o1,c1,2024-01-02,10.5\n")
    first = ingest_landing(con, tmp_path)
    second = ingest_landing(con, tmp_path)
    rows = con.execute(
        "select order_id, total_amount, _file_name, _row_number from raw.orders"
    ).fetchall()
    assert rows == [("o1", "10.5", "a.csv", 1)]
    assert first.rows_loaded() == 1
    assert second.rows_loaded() == 0 and second.files("skipped") == 1


def test_missing_required_column_refuses_the_file_and_the_rest_loads(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path, "orders", "good.csv", ORDERS_HEADER + "o1,c1,2024-01-02,10\n")
    _write(
        tmp_path, "orders", "bad.csv", "order_id,customer_id,total_amount\no2,c2,5\n"
    )
    report = ingest_landing(con, tmp_path)
    [refused] = report.refused
    assert refused.file_name == "bad.csv"
    assert "\n" not in refused.message
    assert "orders/bad.csv" in refused.message
    assert "row 1" in refused.message and "'ordered_at'" in refused.message
    assert con.execute("select count(*) from raw.orders").fetchone() == (1,)
    ledger = con.execute(
        "select status from raw._file_loads where file_name = 'bad.csv'"
    ).fetchone()
    assert ledger == ("refused",)


def test_customer_id_or_email_is_enough(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(
        tmp_path,
        "orders",
        "guest.csv",
        "order_id,email,ordered_at,total_amount\no1,a@b.com,2024-01-02,3\n",
    )
    assert not ingest_landing(con, tmp_path).refused


def test_unparsable_dates_name_file_row_and_column(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(
        tmp_path,
        "orders",
        "dates.csv",
        ORDERS_HEADER + "o1,c1,2024-01-02,1\no2,c1,31/02/2025 25:61,1\no3,c1,x,1\n",
    )
    report = ingest_landing(con, tmp_path)
    [issue] = report.row_issues
    line = str(issue)
    assert "orders/dates.csv row 2, column ordered_at" in line
    assert "'31/02/2025 25:61'" in line and "1 more row" in line
    # Kept, to be quarantined by staging: nothing is lost.
    assert con.execute("select count(*) from raw.orders").fetchone() == (3,)


def test_unreadable_file_is_refused_whole(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path, "orders", "a.csv", ORDERS_HEADER + "o1,c1,2024-01-02,1\n")
    _write(tmp_path, "orders", "b.csv", ORDERS_HEADER + "o2,c1,2024-01-02,1,extra\n")
    _write(tmp_path, "orders", "c.parquet", "not parquet at all")
    report = ingest_landing(con, tmp_path)
    assert sorted(load.file_name for load in report.refused) == ["b.csv", "c.parquet"]
    assert all("cannot be read" in load.message for load in report.refused)
    assert con.execute("select count(*) from raw.orders").fetchone() == (1,)


def test_changed_content_under_a_loaded_name_is_refused(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = _write(tmp_path, "orders", "a.csv", ORDERS_HEADER + "o1,c1,2024-01-02,1\n")
    ingest_landing(con, tmp_path)
    path.write_text(ORDERS_HEADER + "o1,c1,2024-01-02,1\no2,c1,2024-01-03,2\n")
    [refused] = ingest_landing(con, tmp_path).refused
    assert "new file name" in refused.message
    assert con.execute("select count(*) from raw.orders").fetchone() == (1,)


def test_no_orders_at_all_is_an_error(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    (tmp_path / "products").mkdir()
    with pytest.raises(IngestError, match="no orders have been loaded"):
        ingest_landing(con, tmp_path)


def test_every_source_table_exists_when_only_orders_arrive(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path, "orders", "a.csv", ORDERS_HEADER + "o1,c1,2024-01-02,1\n")
    ingest_landing(con, tmp_path)
    tables = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw'"
        ).fetchall()
    }
    assert {"orders", "web_events", "consents", "campaigns"} <= tables
