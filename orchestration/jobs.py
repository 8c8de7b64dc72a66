"""Jobs over the asset graph."""

from dagster import AssetSelection, define_asset_job

full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all(),
    description="Load new landing files, rebuild every model, predict and render.",
)
