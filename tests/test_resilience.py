"""A step that finds the warehouse held by another process waits and retries; a run
that still cannot get it fails by name and leaves the last good run's tables and
outbox as they were."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from mailroom.settings import Settings
from orchestration.definitions import defs
from orchestration.pipeline import PROCESS_TAG, STAGES, prepare_dagster_home

pytestmark = pytest.mark.e2e

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held_warehouse(path: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process (a notebook, say) holds the DuckDB file for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def copied_run(demo_run: Settings, tmp_path: Path) -> Iterator[Settings]:
    shutil.copytree(
        demo_run.home, tmp_path / "home", ignore=shutil.ignore_patterns("dagster")
    )
    settings = Settings.load(home=tmp_path / "home", as_of=demo_run.as_of)
    settings.export()
    try:
        yield settings
    finally:
        demo_run.export()


def _run_stage(name: str, busy_retries: int, busy_wait_seconds: float):
    stage = next(stage for stage in STAGES if stage.name == name)
    keys: set[AssetKey] = stage.selection.resolve(defs.resolve_asset_graph())
    config = {"busy_retries": busy_retries, "busy_wait_seconds": busy_wait_seconds}
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("full_refresh").execute_in_process(
            instance=instance,
            asset_selection=sorted(keys, key=lambda key: key.to_user_string()),
            run_config={"resources": {"mailroom": {"config": config}}},
            raise_on_error=False,
        )
        retries = [
            record.dagster_event
            for record in instance.all_logs(
                result.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY
            )
        ]
    return result, retries


def test_a_step_waits_for_a_held_warehouse_and_then_runs(copied_run: Settings) -> None:
    with held_warehouse(copied_run.warehouse, seconds=3):
        result, retries = _run_stage("ingest", busy_retries=4, busy_wait_seconds=1)
    assert result.success
    # Held for 3 s, retried after 1 s and 2 s (and 4 s if the machine is slow).
    assert 1 <= len(retries) <= 3


def test_a_run_that_never_gets_the_warehouse_leaves_the_last_good_run(
    copied_run: Settings,
) -> None:
    latest = (copied_run.outbox / "LATEST").read_text()
    runs_before = sorted(path.name for path in copied_run.outbox.iterdir())
    with duckdb.connect(str(copied_run.warehouse), read_only=True) as con:
        before = con.execute(
            "select count(*), sum(hash(customer_id)) from marts.personalization"
        ).fetchone()

    with held_warehouse(copied_run.warehouse, seconds=60):
        result, retries = _run_stage("render", busy_retries=2, busy_wait_seconds=0.5)

    assert not result.success
    assert len(retries) == 2
    failure = next(event for event in result.all_events if event.is_step_failure)
    message = str(
        failure.step_failure_data.error.cause or failure.step_failure_data.error
    )
    assert "held by another process" in message
    assert (copied_run.outbox / "LATEST").read_text() == latest
    assert sorted(path.name for path in copied_run.outbox.iterdir()) == runs_before
    with duckdb.connect(str(copied_run.warehouse), read_only=True) as con:
        after = con.execute(
            "select count(*), sum(hash(customer_id)) from marts.personalization"
        ).fetchone()
    assert after == before


RUN_STAGE = """
import sys
from datetime import date
from pathlib import Path
from mailroom.settings import Settings
from orchestration.pipeline import STAGES, run_stages
settings = Settings.load(home=Path(sys.argv[1]), as_of=date.fromisoformat(sys.argv[2]))
stages = tuple(stage for stage in STAGES if stage.name == sys.argv[3])
for result in run_stages(settings, stages):
    print(result.stage.name, "done", flush=True)
"""


def _stage_process(settings: Settings, stage: str) -> subprocess.Popen:
    arguments = [str(settings.home), str(settings.as_of), stage]
    return subprocess.Popen(
        [sys.executable, "-c", RUN_STAGE, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_a_killed_run_does_not_block_the_next_one(
    copied_run: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose process was killed outright keeps its pool slot; the next
    ``mailroom run`` marks it failed and frees the slot instead of waiting."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    prepare_dagster_home(copied_run)
    killed = _stage_process(copied_run, "ml")
    try:
        with DagsterInstance.get() as instance:
            deadline = time.monotonic() + 120
            while not instance.event_log_storage.get_concurrency_run_ids():
                assert time.monotonic() < deadline, "the ml run never took its slot"
                time.sleep(0.2)
    finally:
        killed.kill()
        killed.wait()

    follower = _stage_process(copied_run, "ingest")
    try:
        output, _ = follower.communicate(timeout=180)
    finally:
        follower.kill()
    assert "ingest done" in output

    with DagsterInstance.get() as instance:
        runs = {run.tags["mailroom/stage"]: run for run in instance.get_runs()}
    assert runs["ml"].status == DagsterRunStatus.FAILURE
    assert f":{killed.pid}:" in runs["ml"].tags[PROCESS_TAG]
    assert runs["ingest"].status == DagsterRunStatus.SUCCESS
