"""The dbt project as assets: everything before the ML step, and the personalization
marts after it. dbt data tests run inside `dbt build` and show as asset checks."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.assets.ingestion import POOL
from orchestration.metadata import with_table_figures
from orchestration.project import (
    MailroomTranslator,
    dbt_target_path,
    mailroom_dbt_project,
)
from orchestration.resources import MailroomResource

AFTER_ML = "tag:after_ml"
TRANSLATOR = MailroomTranslator()


def _build(
    context: AssetExecutionContext, dbt: DbtCliResource, mailroom: MailroomResource
) -> Iterator[Any]:
    # The as-of date reaches dbt through MAILROOM_AS_OF, set by the mailroom
    # resource: passing it as --vars would force a full re-parse on every run. The
    # target folder is kept per warehouse so that dbt's partial parse carries over.
    settings = mailroom.settings()
    args = ["build"]
    realtime = settings.as_of_at is not None
    if realtime:
        # A real-time run (as of an instant) must answer within seconds: unit tests
        # pin logic, not data, and every daily run still runs them.
        args += ["--exclude-resource-type", "unit_test"]
    target = dbt_target_path(settings.warehouse)
    # dbt's subprocess would fail at once on a warehouse another process holds:
    # find out here, where the step can wait and retry.
    with mailroom.connect(context):
        pass
    invocation = dbt.cli(args, context=context, target_path=target)
    if realtime:
        # Nor does it wait for figures: its events pass as dbt emits them.
        yield from invocation.stream()
        return
    # dbt holds the DuckDB file until it exits, so the tables can be counted only
    # then: its events are held back and yielded with their figures at the end
    # (those of a failed build as they were, before its error).
    events = []
    try:
        for event in invocation.stream():
            events.append(event)
    except Exception:
        yield from events
        raise
    yield from with_table_figures(context, mailroom, events)


@dbt_assets(
    manifest=mailroom_dbt_project.manifest_path,
    project=mailroom_dbt_project,
    exclude=AFTER_ML,
    dagster_dbt_translator=TRANSLATOR,
    pool=POOL,
)
def mailroom_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, mailroom: MailroomResource
) -> Iterator[Any]:
    """Staging, quarantine, identity, orders, RFM and segments.

    ``mailroom`` is required for its set-up, which exports the warehouse path and
    as-of date that dbt reads from the environment.
    """
    yield from _build(context, dbt, mailroom)


@dbt_assets(
    manifest=mailroom_dbt_project.manifest_path,
    project=mailroom_dbt_project,
    select=AFTER_ML,
    dagster_dbt_translator=TRANSLATOR,
    pool=POOL,
)
def mailroom_dbt_personalization(
    context: AssetExecutionContext, dbt: DbtCliResource, mailroom: MailroomResource
) -> Iterator[Any]:
    """The personalization marts, which read the ML step's tables."""
    yield from _build(context, dbt, mailroom)
