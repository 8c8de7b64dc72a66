"""Keeping the data fresh without anyone pressing a button: a daily schedule for the
full refresh, a sensor that starts a run when new landing files arrive, one that
starts a real-time refresh as soon as a cart posted through the intake is abandoned,
and one that fails the freshness checks of marts and outbox gone stale
(orchestration/freshness.py)."""

import json
from datetime import UTC, datetime

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from mailroom.ingest import landing_fingerprints
from mailroom.realtime import CartWindows, abandonment_window
from mailroom.settings import Settings
from orchestration.jobs import full_refresh, realtime_refresh

daily_refresh = ScheduleDefinition(
    name="daily_full_refresh",
    job=full_refresh,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    tags={"mailroom/trigger": "daily_full_refresh"},
    description="Every day at 05:00 UTC: load new files, rebuild, predict, render.",
)


@sensor(
    job=full_refresh,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
)
def new_landing_files(context: SensorEvaluationContext):
    """Starts a run when files appear (or change) in the landing folder; ingestion
    then loads only those, since every file already loaded is skipped."""
    known = json.loads(context.cursor) if context.cursor else {}
    current = landing_fingerprints(Settings.load().landing)
    new = sorted(name for name, print_ in current.items() if known.get(name) != print_)
    if not new:
        return SkipReason("no new landing files")
    context.update_cursor(json.dumps(current, sort_keys=True))
    return RunRequest(
        run_key=json.dumps({name: current[name] for name in new}, sort_keys=True),
        tags={
            "mailroom/trigger": "new_landing_files",
            "mailroom/files": ",".join(new)[:1000],
        },
    )


@sensor(
    job=realtime_refresh,
    minimum_interval_seconds=10,
    default_status=DefaultSensorStatus.STOPPED,
)
def elapsed_cart_windows(context: SensorEvaluationContext):
    """Starts a real-time refresh as of now once the abandonment window of a cart
    posted through the HTTP intake has ended, so its reminder goes out now rather
    than after the next daily run."""
    windows = CartWindows.from_cursor(context.cursor)
    windows.read_new_intake_files(Settings.load().landing, abandonment_window())
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    elapsed = windows.pop_elapsed(now)
    context.update_cursor(windows.to_cursor())
    if not elapsed:
        return SkipReason(f"{len(windows.window_ends)} cart windows still open")
    return RunRequest(
        run_key=f"carts-due-{now.isoformat()}",
        run_config={
            "resources": {"mailroom": {"config": {"as_of_at": now.isoformat()}}}
        },
        tags={
            "mailroom/trigger": "elapsed_cart_windows",
            "mailroom/as_of_at": now.isoformat(),
            "mailroom/carts": str(len(elapsed)),
        },
    )
