"""Freshness: a source that stops delivering fails its dbt freshness test (a warning
check), and a mart or outbox that misses the daily refresh fails its freshness
check."""

from __future__ import annotations

import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    ExecuteInProcessResult,
    build_sensor_context,
)
from dagster._core.definitions.asset_checks.asset_check_factories.freshness_checks import (  # noqa: E501
    last_update,
)

from mailroom.dbt_cli import run_dbt
from mailroom.settings import Settings
from orchestration.definitions import defs
from orchestration.freshness import MART_MAX_AGE, mart_freshness_checks, stale_marts

STAGED_EVENTS = ("stg_shop__orders", "stg_web__events", "stg_esp__email_events")
CHECK_KEYS = {key for checks in mart_freshness_checks for key in checks.check_keys}


def _stale_sources(warehouse: Path, as_of: str, target: Path) -> set[str]:
    run_dbt(
        "test",
        "--select",
        "test_name:fresh_as_of",
        warehouse=warehouse,
        as_of=as_of,
        target_path=target,
    )
    results = [
        result
        for result in json.loads((target / "run_results.json").read_text())["results"]
        if result["unique_id"].startswith("test.")
    ]
    assert len(results) == len(STAGED_EVENTS)
    return {
        model
        for result in results
        for model in STAGED_EVENTS
        if model in result["unique_id"] and result["status"] == "warn"
    }


@pytest.mark.e2e
def test_a_source_that_stops_delivering_warns(demo_run: Settings, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    target = tmp_path / "target"
    # source_max_age_days: orders 7, web events 2, email events 14 (campaigns go out
    # weekly: the last email events of the demo are six days old).
    assert _stale_sources(warehouse, demo_run.as_of.isoformat(), target) == set()
    four_days_on = (demo_run.as_of + timedelta(days=4)).isoformat()
    assert _stale_sources(warehouse, four_days_on, target) == {"stg_web__events"}
    ten_days_on = (demo_run.as_of + timedelta(days=10)).isoformat()
    assert _stale_sources(warehouse, ten_days_on, target) == set(STAGED_EVENTS)


def _evaluate(instance: DagsterInstance) -> ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_check_selection=CHECK_KEYS, asset_selection=set()
    )
    return job.execute_in_process(instance=instance, raise_on_error=False)


def _verdicts(result: ExecuteInProcessResult) -> dict[str, bool]:
    return {
        event.event_specific_data.asset_key.to_user_string(): (
            event.event_specific_data.passed
        )
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_marts_that_miss_the_daily_refresh_fail_their_freshness_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with DagsterInstance.ephemeral() as instance:
        for key in CHECK_KEYS:
            instance.report_runless_asset_event(
                AssetMaterialization(asset_key=key.asset_key)
            )
        # The sensor asks for every check to be evaluated.
        tick = stale_marts.evaluate_tick(
            build_sensor_context(instance=instance, definitions=defs)
        )
        assert {
            key for request in tick.run_requests for key in request.asset_check_keys
        } == CHECK_KEYS

        fresh = _verdicts(_evaluate(instance))
        assert set(fresh) == {
            "marts/dim_customers",
            "marts/fct_customer_segments",
            "ml/customer_predictions",
            "marts/personalization",
            "outbox/payloads",
        }
        assert all(fresh.values())

        # A day and three hours later, with no refresh in between.
        later = time.time() + MART_MAX_AGE.total_seconds() + 3600
        monkeypatch.setattr(last_update, "get_current_timestamp", lambda: later)
        stale = _verdicts(_evaluate(instance))
        assert set(stale) == set(fresh)
        assert not any(stale.values())
