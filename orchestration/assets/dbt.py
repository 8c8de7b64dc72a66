"""The dbt project as assets: everything before the ML step, and the personalization
marts after it. dbt data tests run inside `dbt build` and show as asset checks."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.assets.ingestion import POOL
from orchestration.project import MailroomTranslator, mailroom_dbt_project
from orchestration.resources import MailroomResource

AFTER_ML = "tag:after_ml"
TRANSLATOR = MailroomTranslator()


def _build(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    # The as-of date reaches dbt through MAILROOM_AS_OF, set by the mailroom
    # resource: passing it as --vars would force a full re-parse on every run.
    yield from dbt.cli(["build"], context=context).stream()


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
    yield from _build(context, dbt)


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
    yield from _build(context, dbt)
