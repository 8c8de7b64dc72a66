"""Freshness checks that fail when the marts and the outbox go stale.

Stale sources are caught in dbt instead (the ``fresh_as_of`` tests on the staged
orders and events, severity warn), since only the data knows when a source stopped
delivering; here it is the runs that must have happened."""

import warnings
from datetime import timedelta

from dagster import (
    DefaultSensorStatus,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
)
from dagster_dbt import get_asset_key_for_model

from orchestration.assets.dbt import mailroom_dbt_models, mailroom_dbt_personalization
from orchestration.assets.emails import PAYLOADS_KEY
from orchestration.assets.ml import PREDICTIONS_KEY

# The daily refresh runs at 05:00 UTC; a mart older than a day and two hours missed
# it (a failed or skipped run, a stopped schedule).
MART_MAX_AGE = timedelta(hours=26)

# Freshness checks rather than the newer FreshnessPolicy: they are asset checks that
# fail where every other check does (and can be tested), where a policy's state
# needs the daemon's freshness evaluation, still a preview in this Dagster.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SupersessionWarning)
    mart_freshness_checks = build_last_update_freshness_checks(
        assets=[
            get_asset_key_for_model([mailroom_dbt_models], "dim_customers"),
            get_asset_key_for_model([mailroom_dbt_models], "fct_customer_segments"),
            PREDICTIONS_KEY,
            get_asset_key_for_model([mailroom_dbt_personalization], "personalization"),
            PAYLOADS_KEY,
        ],
        lower_bound_delta=MART_MAX_AGE,
    )
    # Evaluates the checks every ten minutes (off until turned on, like the
    # other automations); they read run history only, never the warehouse.
    stale_marts = build_sensor_for_freshness_checks(
        freshness_checks=mart_freshness_checks,
        name="stale_marts",
        minimum_interval_seconds=600,
        default_status=DefaultSensorStatus.STOPPED,
    )
