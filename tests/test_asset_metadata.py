"""What the Dagster UI shows on each materialization: the figures of the tables a
run built (row counts, quarantine reasons, segment sizes, the RFM grid as a chart)
and a preview of the payloads, all equal to what the warehouse and outbox hold."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from mailroom.settings import Settings
from renderer.outbox import read_outbox

pytestmark = pytest.mark.e2e

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def instance(demo_run: Settings) -> Iterator[DagsterInstance]:
    with DagsterInstance.from_config(str(demo_run.home / "dagster")) as instance:
        yield instance


def _metadata(instance: DagsterInstance, *key: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(list(key)))
    assert event is not None, f"{'/'.join(key)} was never materialized"
    materialization = event.asset_materialization
    return {name: value.value for name, value in materialization.metadata.items()}


def _markdown_rows(markdown: str) -> list[list[str]]:
    """The body rows of a markdown table, cell by cell."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_every_dbt_table_reports_its_row_count(
    instance: DagsterInstance, warehouse: duckdb.DuckDBPyConnection
) -> None:
    for schema, table in [
        ("marts", "dim_customers"),
        ("marts", "fct_orders"),
        ("marts", "personalization"),
        ("intermediate", "int_identity_components"),
    ]:
        (rows,) = warehouse.execute(f"select count(*) from {schema}.{table}").fetchone()
        assert _metadata(instance, schema, table)["dagster/row_count"] == rows > 0


def test_views_are_not_counted(instance: DagsterInstance) -> None:
    # Counting a view would run its query over the raw table it reads.
    assert "dagster/row_count" not in _metadata(
        instance, "staging", "stg_crm__contacts"
    )


def test_quarantine_reports_rows_by_source_and_reason(
    instance: DagsterInstance, warehouse: duckdb.DuckDBPyConnection
) -> None:
    expected = warehouse.execute(
        "select source_name, quarantine_reason, count(*) "
        "from quality.quarantined_rows group by all"
    ).fetchall()
    table = _metadata(instance, "quality", "quarantined_rows")["quarantine_by_reason"]
    shown = {
        (source, reason, int(rows)) for source, reason, rows in _markdown_rows(table)
    }
    assert shown == set(expected)
    assert len(expected) > 3


def test_reconciliation_is_shown_adding_up(instance: DagsterInstance) -> None:
    table = _metadata(instance, "quality", "source_reconciliation")["reconciliation"]
    rows = _markdown_rows(table)
    assert len(rows) >= 9
    for source, raw, staged, quarantined, adds_up in rows:
        assert int(raw) == int(staged) + int(quarantined), source
        assert adds_up == "True"


def test_segment_sizes_are_shown(
    instance: DagsterInstance, warehouse: duckdb.DuckDBPyConnection
) -> None:
    expected = warehouse.execute(
        "select segment, count(*) from marts.fct_customer_segments "
        "where segment_type = 'rfm' group by all"
    ).fetchall()
    table = _metadata(instance, "marts", "fct_customer_segments")["segment_sizes"]
    shown = {
        (segment, int(customers))
        for segment_type, segment, customers in _markdown_rows(table)
        if segment_type == "rfm"
    }
    assert shown == set(expected)


def _png(markdown: str, title: str) -> bytes:
    prefix = f"![{title}](data:image/png;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    return base64.b64decode(markdown[len(prefix) : -1])


def test_rfm_grid_is_drawn_as_a_heatmap(instance: DagsterInstance) -> None:
    metadata = _metadata(instance, "marts", "fct_rfm_grid")
    assert _png(metadata["rfm_heatmap"], "rfm heatmap").startswith(PNG_SIGNATURE)
    assert len(_markdown_rows(metadata["rfm_grid"])) >= 9


def test_clusters_and_backtests_are_drawn(instance: DagsterInstance) -> None:
    clusters = _metadata(instance, "ml", "customer_clusters")
    chart = _png(clusters["cluster_chart"], "cluster profile")
    assert chart.startswith(PNG_SIGNATURE)
    assert len(_markdown_rows(clusters["cluster_profile"])) == clusters["k"]
    backtests = _metadata(instance, "ml", "model_backtests")
    chart = _png(backtests["lift_and_calibration"], "lift and calibration")
    assert chart.startswith(PNG_SIGNATURE)


def test_payloads_show_a_preview_without_personal_data(
    instance: DagsterInstance, demo_run: Settings
) -> None:
    metadata = _metadata(instance, "outbox", "payloads")
    _, payloads = read_outbox(demo_run.outbox)
    first = [payload for payload, _ in zip(payloads, range(10), strict=False)]
    rows = _markdown_rows(metadata["preview"])
    assert [row[0] for row in rows] == [payload["recipient_id"] for payload in first]
    for row, payload in zip(rows, first, strict=True):
        assert row[3] == ", ".join(payload["blocks"])
        assert payload["email"] not in metadata["preview"]
    assert metadata["payloads_written"] >= len(first) > 0


def test_runs_are_tagged_with_their_trigger_and_stage(
    instance: DagsterInstance, demo_run: Settings
) -> None:
    stages = {
        run.tags.get("mailroom/stage")
        for run in instance.get_runs()
        if run.tags.get("mailroom/trigger") == "mailroom run"
        and run.tags.get("mailroom/as_of") == demo_run.as_of.isoformat()
    }
    assert {"ingest", "dbt", "ml", "personalize", "render"} <= stages
