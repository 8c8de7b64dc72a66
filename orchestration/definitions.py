"""The one Dagster code location of Mailroom: every stage of the flow as assets."""

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    in_process_executor,
)
from dagster_dbt import DbtCliResource

from orchestration.assets.dbt import mailroom_dbt_models, mailroom_dbt_personalization
from orchestration.assets.emails import (
    email_payloads,
    outbox_has_consent_for_every_recipient,
)
from orchestration.assets.ingestion import raw_tables
from orchestration.assets.ml import customer_clusters, customer_predictions
from orchestration.project import DBT_EXECUTABLE, mailroom_dbt_project
from orchestration.resources import MailroomResource

full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all(),
    description="Load new landing files, rebuild every model, predict and render.",
)

defs = Definitions(
    assets=[
        raw_tables,
        mailroom_dbt_models,
        customer_clusters,
        customer_predictions,
        mailroom_dbt_personalization,
        email_payloads,
    ],
    asset_checks=[outbox_has_consent_for_every_recipient],
    jobs=[full_refresh],
    resources={
        "dbt": DbtCliResource(
            project_dir=mailroom_dbt_project, dbt_executable=str(DBT_EXECUTABLE)
        ),
        "mailroom": MailroomResource(),
    },
    # Every asset opens the one DuckDB file, which admits a single process: run the
    # steps of a run in one process, one after the other.
    executor=in_process_executor,
)
