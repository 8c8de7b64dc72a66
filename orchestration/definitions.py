"""The one Dagster code location of Mailroom: every stage of the flow as assets."""

from dagster import (
    Definitions,
    in_process_executor,
)

from orchestration.assets.dbt import mailroom_dbt_models, mailroom_dbt_personalization
from orchestration.assets.emails import (
    email_payloads,
    outbox_recipient_checks,
)
from orchestration.assets.export import EspResource, esp_sync
from orchestration.assets.ingestion import raw_tables
from orchestration.assets.ml import (
    customer_clusters,
    customer_features,
    customer_predictions,
)
from orchestration.automation import (
    daily_refresh,
    elapsed_cart_windows,
    new_landing_files,
)
from orchestration.freshness import mart_freshness_checks, stale_marts
from orchestration.jobs import full_refresh, realtime_refresh
from orchestration.project import DBT_EXECUTABLE, mailroom_dbt_project
from orchestration.resources import MailroomDbtCli, MailroomResource

defs = Definitions(
    assets=[
        raw_tables,
        mailroom_dbt_models,
        customer_features,
        customer_clusters,
        customer_predictions,
        mailroom_dbt_personalization,
        email_payloads,
        esp_sync,
    ],
    asset_checks=[
        outbox_recipient_checks,
        *mart_freshness_checks,
    ],
    jobs=[full_refresh, realtime_refresh],
    schedules=[daily_refresh],
    sensors=[new_landing_files, elapsed_cart_windows, stale_marts],
    resources={
        "dbt": MailroomDbtCli(
            project_dir=mailroom_dbt_project, dbt_executable=str(DBT_EXECUTABLE)
        ),
        "mailroom": MailroomResource(),
        "esp": EspResource(),
    },
    # Every asset opens the one DuckDB file, which admits a single process: run the
    # steps of a run in one process, one after the other.
    executor=in_process_executor,
)
