"""The semantic layer means what the marts say: metrics queried through MetricFlow
(`mf query`, as a user runs it, against the built demo warehouse) equal the same
figures computed here in plain SQL on that warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from mailroom.settings import Settings
from tests.conftest import REPOSITORY

MF = Path(sys.executable).parent / "mf"
SEMANTIC_MANIFEST = REPOSITORY / "target" / "semantic_manifest.json"

pytestmark = pytest.mark.e2e

#: name -> mf query arguments; each is run once for the module.
QUERIES = {
    "monthly": [
        "--metrics",
        "revenue,orders,active_customers,average_order_value",
        "--group-by",
        "metric_time__month",
    ],
    "totals": ["--metrics", "revenue,orders,customers,sendable_customers"],
    "segments": [
        "--metrics",
        "segment_size",
        "--group-by",
        "customer_segment__segment_type,customer_segment__segment",
    ],
    "campaigns": [
        "--metrics",
        "campaign_sends,campaign_conversions,campaign_conversion_rate,open_rate,"
        "click_rate,campaign_revenue",
        "--group-by",
        "campaign",
    ],
    "active_365d": [
        "--metrics",
        "active_customers_365d",
        "--group-by",
        "metric_time__day",
    ],
}


def _parse_semantic_manifest(warehouse: Path) -> None:
    """mf reads target/semantic_manifest.json, whose tables carry the DuckDB
    file's name as their database. `make setup` writes it for the default file
    name; parse again when it is stale or names another file."""
    newest = max(
        path.stat().st_mtime
        for path in (REPOSITORY / "dbt_project").rglob("*")
        if path.is_file()
    )
    if SEMANTIC_MANIFEST.exists() and SEMANTIC_MANIFEST.stat().st_mtime >= newest:
        manifest = json.loads(SEMANTIC_MANIFEST.read_text())
        databases = {
            model["node_relation"]["database"] for model in manifest["semantic_models"]
        }
        if databases == {warehouse.stem}:
            return
    subprocess.run(
        [str(MF.with_name("dbt")), "parse", "--profiles-dir", ".", "--quiet"],
        cwd=REPOSITORY,
        env={**os.environ, "MAILROOM_WAREHOUSE": str(warehouse)},
        check=True,
    )


@pytest.fixture(scope="module")
def metrics(
    demo_run: Settings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, pd.DataFrame]:
    """Every query of QUERIES through `mf query --csv`, on the demo warehouse.

    Module-scoped, so that no test holds the DuckDB file open while mf runs."""
    _parse_semantic_manifest(demo_run.warehouse)
    out = tmp_path_factory.mktemp("mf")
    env = {
        **os.environ,
        "MAILROOM_WAREHOUSE": str(demo_run.warehouse),
        "DBT_PROFILES_DIR": str(REPOSITORY),
        "DBT_PROJECT_DIR": str(REPOSITORY),
    }
    results = {}
    for name, arguments in QUERIES.items():
        csv = out / f"{name}.csv"
        done = subprocess.run(
            [str(MF), "query", *arguments, "--csv", str(csv)],
            cwd=REPOSITORY,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert csv.exists(), f"mf query {name}:\n{done.stdout}\n{done.stderr}"
        results[name] = pd.read_csv(csv)
    return results


def _close(shown: pd.Series, expected: pd.Series) -> None:
    pd.testing.assert_series_equal(
        shown.astype(float).reset_index(drop=True),
        expected.astype(float).reset_index(drop=True),
        check_names=False,
        rtol=1e-9,
    )


def test_revenue_orders_and_active_customers_by_month(metrics, warehouse) -> None:
    shown = metrics["monthly"].sort_values("metric_time__month")
    expected = warehouse.execute(
        "select date_trunc('month', ordered_date) as month, sum(total_amount), "
        "count(*), count(distinct customer_id), sum(total_amount) / count(*) "
        "from marts.fct_orders where is_revenue_order group by 1 order by 1"
    ).df()
    assert len(shown) == len(expected) > 12
    assert list(pd.to_datetime(shown["metric_time__month"])) == list(
        pd.to_datetime(expected["month"])
    )
    for metric, column in zip(
        ("revenue", "orders", "active_customers", "average_order_value"),
        expected.columns[1:],
        strict=True,
    ):
        _close(shown[metric], expected[column])
    # The dashboard's monthly table says the same.
    monthly = warehouse.execute(
        "select revenue, orders, buying_customers from marts.fct_orders_monthly "
        "order by order_month"
    ).df()
    _close(shown["revenue"], monthly["revenue"])
    _close(shown["active_customers"], monthly["buying_customers"])


def test_totals_of_revenue_orders_and_customers(metrics, warehouse) -> None:
    shown = metrics["totals"].iloc[0]
    revenue, orders = warehouse.execute(
        "select sum(total_amount), count(*) from marts.fct_orders "
        "where is_revenue_order"
    ).fetchone()
    customers, sendable = warehouse.execute(
        "select count(*), count(case when is_email_sendable then 1 end) "
        "from marts.dim_customers"
    ).fetchone()
    assert shown["revenue"] == pytest.approx(float(revenue))
    assert (shown["orders"], shown["customers"], shown["sendable_customers"]) == (
        orders,
        customers,
        sendable,
    )


def test_segment_sizes(metrics, warehouse) -> None:
    shown = {
        (row.customer_segment__segment_type, row.customer_segment__segment): int(
            row.segment_size
        )
        for row in metrics["segments"].itertuples()
    }
    expected = dict(
        ((segment_type, segment), members)
        for segment_type, segment, members in warehouse.execute(
            "select segment_type, segment, count(distinct customer_id) "
            "from marts.fct_customer_segments group by 1, 2"
        ).fetchall()
    )
    assert shown == expected
    sizes = dict(
        ((segment_type, segment), customers)
        for segment_type, segment, customers in warehouse.execute(
            "select segment_type, segment, customers from marts.fct_segment_sizes"
        ).fetchall()
    )
    assert sizes == expected


def test_campaign_conversion_and_engagement_rates(metrics, warehouse) -> None:
    shown = metrics["campaigns"].sort_values("campaign").reset_index(drop=True)
    expected = warehouse.execute(
        "select campaign_id, sum(sends), sum(converters), "
        "sum(converters) * 1.0 / sum(sends), sum(human_openers) * 1.0 / sum(sends), "
        "sum(clickers) * 1.0 / sum(sends), sum(revenue) "
        "from marts.fct_campaign_variants group by 1 order by 1"
    ).df()
    assert list(shown["campaign"]) == list(expected["campaign_id"])
    for metric, column in zip(
        (
            "campaign_sends",
            "campaign_conversions",
            "campaign_conversion_rate",
            "open_rate",
            "click_rate",
            "campaign_revenue",
        ),
        expected.columns[1:],
        strict=True,
    ):
        _close(shown[metric], expected[column])
    assert expected.iloc[:, 2].sum() > 0


def test_active_customers_over_the_trailing_year(
    metrics, warehouse, demo_run: Settings
) -> None:
    day_before = demo_run.as_of - timedelta(days=1)
    series = metrics["active_365d"]
    shown = series.loc[
        pd.to_datetime(series["metric_time__day"]) == pd.Timestamp(day_before),
        "active_customers_365d",
    ]
    (expected,) = warehouse.execute(
        "select count(distinct customer_id) from marts.fct_orders "
        "where is_revenue_order and ordered_date > ?::date - interval 365 day "
        "and ordered_date <= ?::date",
        [day_before, day_before],
    ).fetchone()
    assert list(shown) == [expected]
    assert expected > 100
