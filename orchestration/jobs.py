"""Jobs over the asset graph."""

from dagster import AssetSelection, define_asset_job
from dagster_dbt import get_asset_key_for_model

from mailroom.ingest import RAW_SCHEMA
from orchestration.assets.dbt import mailroom_dbt_models, mailroom_dbt_personalization
from orchestration.assets.emails import email_payloads
from orchestration.assets.export import esp_sync
from orchestration.freshness import mart_freshness_checks
from orchestration.project import INGESTION_GROUP, ML_GROUP

# Freshness checks would pass by definition at the end of the run that refreshed
# their asset: the stale_marts sensor evaluates them between runs.
_FRESHNESS = AssetSelection.checks(*mart_freshness_checks)

full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all() - _FRESHNESS,
    description="Load new landing files, rebuild every model, predict and render.",
)

# What events can change between two daily runs: every model on a path from the
# event tables to the personalization mart, except the ML step (too slow for a
# trigger, and trained daily). The ML tables and every other model keep the last
# full refresh's values.
_EVENTS = AssetSelection.assets(
    [RAW_SCHEMA, "web_events"], [RAW_SCHEMA, "email_events"]
)
_PERSONALIZATION = AssetSelection.assets(
    get_asset_key_for_model([mailroom_dbt_personalization], "personalization")
)
# The quarantine and its reconciliation against raw follow every load (and
# retention purge) of events, or the reconciliation test would compare new raw
# counts with the last full refresh's quarantine.
_QUALITY = AssetSelection.assets(
    *(
        get_asset_key_for_model([mailroom_dbt_models], model)
        for model in ("quarantined_rows", "source_reconciliation")
    )
)
_EVENT_DRIVEN = (
    _EVENTS.downstream() & (_PERSONALIZATION.upstream() | _QUALITY)
) - AssetSelection.groups(ML_GROUP)

realtime_refresh = define_asset_job(
    "realtime_refresh",
    selection=(
        AssetSelection.groups(INGESTION_GROUP)
        | _EVENT_DRIVEN
        | AssetSelection.assets(email_payloads, esp_sync)
    )
    - _FRESHNESS,
    description="Load new events, rebuild what depends on them as of now (carts, "
    "journeys, consent, engagement, personalization), render the payloads and "
    "send what changed to the ESP (when one is set).",
)
