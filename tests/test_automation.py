"""The sensor starts a run for new landing files, and that run loads only them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context

from mailroom.settings import Settings
from orchestration.automation import daily_refresh, new_landing_files
from orchestration.pipeline import STAGES, run_stages

pytestmark = pytest.mark.e2e


def _evaluate(cursor: str | None) -> tuple[RunRequest | SkipReason, str | None]:
    context = build_sensor_context(cursor=cursor)
    result = new_landing_files(context)
    return result, context.cursor


def test_a_new_landing_file_starts_a_run_that_loads_only_it(
    demo_run: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo_run.landing, home / "landing")
    shutil.copy(demo_run.warehouse, tmp_path / "warehouse.duckdb")
    settings = Settings.load(
        home=home, warehouse=tmp_path / "warehouse.duckdb", as_of=demo_run.as_of
    )
    settings.export()
    try:
        first, cursor = _evaluate(None)
        assert isinstance(first, RunRequest)  # everything is new to a fresh sensor
        quiet, cursor = _evaluate(cursor)
        assert isinstance(quiet, SkipReason)

        new_file = home / "landing" / "orders" / "zz-late-orders.csv"
        new_file.write_text(
            "order_id,customer_id,ordered_at,total_amount\n"
            "o-late-1,c-000001,2026-10-30T10:00:00Z,42.00\n"
            "o-late-2,c-000002,2026-10-30T11:00:00Z,17.50\n"
        )
        request, cursor = _evaluate(cursor)
        assert isinstance(request, RunRequest)
        assert request.tags["mailroom/files"] == "orders/zz-late-orders.csv"
        assert json.loads(request.run_key) == {
            "orders/zz-late-orders.csv": json.loads(cursor)["orders/zz-late-orders.csv"]
        }
        again, _ = _evaluate(cursor)
        assert isinstance(again, SkipReason)

        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            before = con.execute("select count(*) from raw.orders").fetchone()[0]
        list(run_stages(settings, stages=STAGES[:1], log_path=tmp_path / "run.log"))
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            after = con.execute("select count(*) from raw.orders").fetchone()[0]
            loaded = con.execute(
                "select file_name, row_count from raw._file_loads "
                "where loaded_at = (select max(loaded_at) from raw._file_loads)"
            ).fetchall()
        assert after - before == 2
        assert loaded == [("zz-late-orders.csv", 2)]
    finally:
        demo_run.export()


def test_daily_schedule_runs_the_full_refresh() -> None:
    assert daily_refresh.cron_schedule == "0 5 * * *"
    assert daily_refresh.job_name == "full_refresh"
