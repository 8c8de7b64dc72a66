"""The dashboard page on a real built warehouse, run by Streamlit's AppTest: it shows
the warehouse's own figures (recomputed here from the marts, not from the aggregate
tables it reads), and when a pipeline holds the DuckDB file it says so instead of
failing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mailroom.dashboard import APP
from mailroom.settings import Settings

pytestmark = pytest.mark.e2e


def _page(monkeypatch: pytest.MonkeyPatch, warehouse: Path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MAILROOM_WAREHOUSE", str(warehouse))
    app = AppTest.from_file(str(APP), default_timeout=60)
    return app.run()


@pytest.fixture
def page(demo_run: Settings, monkeypatch: pytest.MonkeyPatch):
    app = _page(monkeypatch, demo_run.warehouse)
    assert not app.exception, [error.value for error in app.exception]
    return app


def _tables_under(app, heading: str) -> list[pd.DataFrame]:
    """The tables of one section: the page's elements between its header and the
    next one, in order."""
    tables, inside = [], False
    for element in app.main:
        if element.type == "header" or getattr(element, "tag", "") == "h2":
            inside = element.value == heading
        elif inside and element.type == "table":
            tables.append(element.value)
    return tables


def test_headline_figures_are_the_warehouses(page, warehouse) -> None:
    people, sendable = warehouse.execute(
        "select count(*), count(case when is_email_sendable then 1 end) "
        "from marts.dim_customers"
    ).fetchone()
    revenue, orders = warehouse.execute(
        "select sum(total_amount), count(*) from marts.fct_orders "
        "where is_revenue_order"
    ).fetchone()
    sends, open_rate, conversion_rate = warehouse.execute(
        "select sum(sends), sum(human_openers) / sum(sends), "
        "sum(converters) / sum(sends) from marts.fct_campaign_variants"
    ).fetchone()
    shown = {metric.label: metric.value for metric in page.metric}
    assert {
        "People": f"{people:,}",
        "Sendable": f"{sendable:,}",
        "Revenue": f"{float(revenue):,.2f}",
        "Orders": f"{orders:,}",
        "Campaign sends": f"{sends:,}",
        "Sends, all campaigns": f"{sends:,}",
        "Open rate": f"{open_rate * 100:.1f} %",
        "Conversion rate": f"{conversion_rate * 100:.1f} %",
    }.items() <= shown.items()
    assert people > 1000 and sends > 0


def test_segment_tables_count_the_members_of_each_segment(page, warehouse) -> None:
    expected = {
        (segment_type, segment): (f"{members:,}", f"{sendable:,}")
        for segment_type, segment, members, sendable in warehouse.execute(
            "select segments.segment_type, segments.segment, count(*), "
            "count(case when customers.is_email_sendable then 1 end) "
            "from marts.fct_customer_segments as segments "
            "inner join marts.dim_customers as customers using (customer_id) "
            "group by 1, 2"
        ).fetchall()
    }
    headings = [
        heading.value.removesuffix(" segments").lower()
        for heading in page.subheader
        if heading.value.endswith(" segments")
    ]
    tables = _tables_under(page, "Segments")
    assert len(tables) == len(headings) == 4
    shown = {
        (segment_type, row["Segment"]): (row["People"], row["Sendable"])
        for segment_type, frame in zip(headings, tables, strict=True)
        for _, row in frame.iterrows()
    }
    assert shown == expected


def test_rfm_grid_clusters_models_and_campaigns_are_shown(page, warehouse) -> None:
    grid = _tables_under(page, "RFM grid")[0]
    for r_score, f_score, buyers in warehouse.execute(
        "select r_score, f_score, count(*) from marts.fct_customer_rfm "
        "where r_score is not null group by 1, 2"
    ).fetchall():
        assert grid.loc[f"R {r_score}", f"F {f_score}"] == f"{buyers:,}"

    clusters = _tables_under(page, "Clusters")[0]
    assert dict(zip(clusters["Cluster"], clusters["People"], strict=True)) == {
        name: f"{size:,}"
        for name, size in warehouse.execute(
            "select cluster_name, count(*) from ml.customer_clusters group by 1"
        ).fetchall()
    }

    models = _tables_under(page, "Model quality")[0]
    latest = warehouse.execute(
        "select model, auc from ml.model_backtests "
        "where run_at = (select max(run_at) from ml.model_backtests) "
        "and not baseline and auc is not null"
    ).fetchall()
    assert latest
    for model, auc in latest:
        assert f"{auc:.3f}" in set(models.loc[models["Model"] == model, "AUC"])

    # The ten latest campaigns, variant by variant.
    campaigns = _tables_under(page, "Campaigns")[0]
    latest = warehouse.execute(
        "with latest as (select campaign_id, min(first_sent_at) as sent_at "
        "from marts.fct_campaign_variants group by 1 "
        "order by sent_at desc, campaign_id limit 10) "
        "select coalesce(campaign_name, campaign_id) || ' / ' || variant, sends, "
        "converters from marts.fct_campaign_variants inner join latest "
        "using (campaign_id) order by latest.sent_at desc, campaign_id, variant"
    ).fetchall()
    assert len(latest) >= 10
    assert list(
        zip(
            campaigns["Campaign / variant"],
            campaigns["Sends"],
            campaigns["Converters"],
            strict=True,
        )
    ) == [(name, f"{sends:,}", f"{converters:,}") for name, sends, converters in latest]


def test_the_page_shows_no_personal_data(page, warehouse) -> None:
    emails = {
        email
        for (email,) in warehouse.execute(
            "select email from marts.dim_customers where email is not null"
        ).fetchall()
    }
    names = {
        name
        for (name,) in warehouse.execute(
            "select last_name from marts.dim_customers where last_name is not null"
        ).fetchall()
        if len(name) > 3
    }
    text = " ".join(
        str(value)
        for element in page.main
        for value in (
            element.value.to_numpy().ravel()
            if isinstance(getattr(element, "value", None), pd.DataFrame)
            else [getattr(element, "value", "")]
        )
    )
    assert emails and names
    assert "@" not in text
    assert not [name for name in names if f" {name} " in f" {text} "]


@pytest.fixture
def held_warehouse(demo_run: Settings, tmp_path: Path) -> Iterator[Path]:
    """A copy of the demo warehouse held open for writing by another process, as a
    pipeline run holds it."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_run.warehouse, copy)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "print('holding', flush=True); sys.stdin.read()",
            str(copy),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield copy
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_running_pipeline_gets_a_message_not_a_traceback(
    held_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _page(monkeypatch, held_warehouse)
    assert not app.exception
    assert [warning.value for warning in app.warning] == [
        f"The warehouse {held_warehouse} is in use by another process, most likely "
        "a pipeline run: DuckDB lets no one read the file while it is written. "
        "Reload this page when the run has finished."
    ]
    assert not app.metric


def test_a_missing_warehouse_says_how_to_build_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _page(monkeypatch, tmp_path / "nowhere.duckdb")
    assert not app.exception
    assert "mailroom demo" in app.warning[0].value
