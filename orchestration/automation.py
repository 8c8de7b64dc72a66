"""Keeping the data fresh without anyone pressing a button: a daily schedule for the
full refresh, and a sensor that starts a run when new landing files arrive."""

import json

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
from mailroom.settings import Settings
from orchestration.jobs import full_refresh

daily_refresh = ScheduleDefinition(
    name="daily_full_refresh",
    job=full_refresh,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
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
