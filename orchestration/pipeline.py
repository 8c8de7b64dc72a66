"""Run the asset graph stage by stage from Python (the `mailroom` command, benchmarks).

Each stage is one Dagster run on the instance in MAILROOM_HOME/dagster, so the runs
the command line starts show up in the UI like any other.
"""

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import psutil
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    ExecuteInProcessResult,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    build_sensor_context,
)

from mailroom.settings import Settings
from orchestration.assets.dbt import mailroom_dbt_models, mailroom_dbt_personalization
from orchestration.assets.emails import email_payloads
from orchestration.assets.export import esp_sync
from orchestration.definitions import defs
from orchestration.project import (
    DBT_EXECUTABLE,
    INGESTION_GROUP,
    ML_GROUP,
    REPOSITORY_ROOT,
    dbt_target_path,
)

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

# Runs executed in this process (``mailroom run``, scripts standing in for the
# daemon) carry "host:pid:start time" of the process, so a later run on the same
# host can tell that one was abandoned (the process was killed) rather than still
# going.
PROCESS_TAG = "mailroom/process"
# Runs that have not reported an end (Dagster's own list of these is private).
UNFINISHED_RUN_STATUSES = [
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
    DagsterRunStatus.SUSPENDED,
]

# Runs that open the warehouse share one pool slot: DuckDB admits one process.
DAGSTER_YAML = """\
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    selection: AssetSelection


STAGES = (
    Stage("ingest", "load new landing files", AssetSelection.groups(INGESTION_GROUP)),
    Stage(
        "dbt",
        "stage, quarantine, resolve people, build marts and run dbt tests",
        AssetSelection.assets(mailroom_dbt_models),
    ),
    Stage(
        "ml",
        "cluster, predict, recommend and backtest",
        AssetSelection.groups(ML_GROUP),
    ),
    Stage(
        "personalize",
        "build the personalization marts",
        AssetSelection.assets(mailroom_dbt_personalization),
    ),
    Stage(
        "render",
        "render payloads into the outbox",
        AssetSelection.assets(email_payloads),
    ),
    Stage(
        "export",
        "send changed payloads to the ESP (skipped when none is set)",
        AssetSelection.assets(esp_sync),
    ),
)


class StageFailed(RuntimeError):
    """A stage's Dagster run failed; the message names the stage and the step."""


@dataclass(frozen=True)
class StageResult:
    stage: Stage
    seconds: float
    run_id: str


def prepare_dagster_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at MAILROOM_HOME/dagster, creating it with pool limits."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_stages(
    settings: Settings,
    stages: tuple[Stage, ...] = STAGES,
    on_start: Callable[[int, Stage], None] | None = None,
    log_path: Path | None = None,
) -> Iterator[StageResult]:
    """Materialize each stage's assets in turn, yielding timings as they finish.

    With ``log_path``, what the steps print (dbt's log, for one) goes to that file
    instead of the terminal.
    """
    settings.export()
    prepare_dagster_home(settings)
    job = defs.resolve_job_def("full_refresh")
    graph = defs.resolve_asset_graph()
    with DagsterInstance.get() as instance:
        release_abandoned_runs(instance)
        for index, stage in enumerate(stages, start=1):
            if on_start:
                on_start(index, stage)
            keys: set[AssetKey] = stage.selection.resolve(graph)
            started = time.perf_counter()
            with _output_to(log_path):
                result = job.execute_in_process(
                    instance=instance,
                    asset_selection=sorted(keys, key=lambda key: key.to_user_string()),
                    run_config=QUIET_LOGS,
                    tags={
                        "mailroom/trigger": "mailroom run",
                        "mailroom/stage": stage.name,
                        "mailroom/as_of": settings.as_of.isoformat(),
                        PROCESS_TAG: this_process(),
                    },
                    raise_on_error=False,
                )
            if not result.success:
                raise StageFailed(_failure_message(stage, result))
            yield StageResult(stage, time.perf_counter() - started, result.run_id)


def parse_dbt_project(settings: Settings) -> None:
    """Parse the dbt project into the target folder of this warehouse.

    Any run on the warehouse leaves this behind; a fresh copy of a data folder (a
    test, a benchmark) calls it so that its first triggered run starts from a
    partial parse, as it would in steady use.
    """
    settings.export()
    command = [str(DBT_EXECUTABLE), "parse", "--profiles-dir", str(REPOSITORY_ROOT)]
    command += ["--target-path", str(dbt_target_path(settings.warehouse)), "--quiet"]
    subprocess.run(command, cwd=REPOSITORY_ROOT, check=True, capture_output=True)


def poll_sensor(
    sensor: SensorDefinition, timeout_seconds: float, interval_seconds: float = 1.0
) -> RunRequest:
    """Evaluate ``sensor`` every ``interval_seconds``, keeping its cursor, as the
    daemon would, until it asks for a run; TimeoutError after ``timeout_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    cursor = None
    while time.monotonic() < deadline:
        context = build_sensor_context(cursor=cursor)
        result = sensor(context)
        cursor = context.cursor
        if isinstance(result, RunRequest):
            return result
        time.sleep(interval_seconds)
    raise TimeoutError(f"sensor {sensor.name} asked for no run in {timeout_seconds}s")


def run_requested(
    settings: Settings, job_name: str, request: RunRequest, log_path: Path | None = None
) -> ExecuteInProcessResult:
    """Run what a sensor asked for in this process, as the daemon would launch it.

    Scripts and tests stand in for the daemon with this; the run lands on the same
    instance and shows up in the UI with the sensor's tags.
    """
    settings.export()
    prepare_dagster_home(settings)
    job = defs.resolve_job_def(job_name)
    with DagsterInstance.get() as instance, _output_to(log_path):
        release_abandoned_runs(instance)
        return job.execute_in_process(
            instance=instance,
            run_config={**request.run_config, **QUIET_LOGS},
            tags={**request.tags, PROCESS_TAG: this_process()},
            raise_on_error=False,
        )


def this_process() -> str:
    """The :data:`PROCESS_TAG` value of the current process."""
    process = psutil.Process()
    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.3f}"


def _abandoned(tag: str) -> bool:
    """Whether the process a :data:`PROCESS_TAG` names ran on this host and is gone
    (a process of another host is never judged)."""
    host, _, process_id = tag.partition(":")
    pid, _, started = process_id.partition(":")
    if host != socket.gethostname():
        return False
    try:
        process = psutil.Process(int(pid))
        return abs(process.create_time() - float(started)) >= 0.01
    except psutil.NoSuchProcess:
        return True
    except (ValueError, psutil.Error):
        return False


def release_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Fail the in-progress runs whose executing process is gone and free the
    pool slots they hold; returns their run ids.

    A run killed outright (out of memory, Ctrl-C twice, a closed terminal) never
    reports its end: it stays "started" and keeps its slot in the
    ``duckdb_warehouse`` pool, so every later run would wait for that slot
    forever. Only runs tagged with :data:`PROCESS_TAG` by a process of this host
    are judged; runs the daemon launched are left to Dagster's run monitoring.
    """
    released = []
    for run in instance.get_runs(RunsFilter(statuses=UNFINISHED_RUN_STATUSES)):
        tag = run.tags.get(PROCESS_TAG)
        if tag is None or not _abandoned(tag):
            continue
        instance.report_run_failed(
            run, message=f"The process that ran it ({tag}) is gone."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


@contextmanager
def _output_to(log_path: Path | None) -> Iterator[None]:
    if log_path is None:
        yield
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log, redirect_stdout(log), redirect_stderr(log):
        yield


def _failure_message(stage: Stage, result: ExecuteInProcessResult) -> str:
    lines = [f"stage {stage.name!r} failed (Dagster run {result.run_id})"]
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            cause = error.cause or error
            lines.append(f"{event.step_key}: {cause.message.strip()}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            if not check.passed:
                lines.append(
                    f"check failed: {check.asset_key.to_user_string()} "
                    f"{check.check_name}"
                )
    return "\n".join(lines)
