"""The dbt project as Dagster sees it: where it lives and how its nodes are named."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtProject

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# The dbt installed beside this Python, whether or not its venv is active.
PYTHON_BIN = Path(sys.executable).parent
DBT_EXECUTABLE = PYTHON_BIN / "dbt"

mailroom_dbt_project = DbtProject(
    project_dir=REPOSITORY_ROOT,
    profiles_dir=REPOSITORY_ROOT,
)
mailroom_dbt_project.prepare_if_dev()


def dbt_target_path(warehouse: Path) -> Path:
    """The dbt target folder of runs on one warehouse file, kept between runs.

    dbt re-parses the whole project when the profile (the warehouse path) differs
    from the one its saved parse was made with; a fresh folder per run meant a full
    parse every time (about 10 s). One folder per warehouse lets the next run reuse
    the last one's parse. Runs on one warehouse never overlap (one pool slot).
    """
    key = hashlib.sha256(str(warehouse).encode()).hexdigest()[:12]
    return REPOSITORY_ROOT / "target" / "warehouses" / key


# Asset groups, in the order data flows through them.
INGESTION_GROUP = "ingestion"
STAGING_GROUP = "staging"
IDENTITY_GROUP = "identity"
MARTS_GROUP = "marts"
ML_GROUP = "ml"
EMAILS_GROUP = "emails"
EXPORT_GROUP = "export"


class MailroomTranslator(DagsterDbtTranslator):
    """All naming policy for dbt nodes in one place.

    Sources keep their schema and table (``raw/orders``, ``ml/customer_clusters``), so
    they are the very assets the ingestion and ML steps produce. Models are keyed by
    the schema they build into and their name (``marts/dim_customers``) and grouped
    by the stage of the flow their folder belongs to.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(
                [dbt_resource_props["source_name"], dbt_resource_props["name"]]
            )
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = dbt_resource_props.get("fqn", [])[1:-1]
        if "personalization" in folders:
            return EMAILS_GROUP
        if "identity" in folders:
            return IDENTITY_GROUP
        if folders and folders[0] in ("staging", "quality"):
            return STAGING_GROUP
        return MARTS_GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:analytics-engineering"]
