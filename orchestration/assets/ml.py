"""ML assets: scikit-learn models over warehouse tables, written back to ml.*."""

from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import get_asset_key_for_model

from mailroom.warehouse import replace_table
from ml.clustering import ClusteringConfig, cluster_customers
from orchestration.assets.dbt import mailroom_dbt_models
from orchestration.assets.ingestion import POOL
from orchestration.project import ML_GROUP
from orchestration.resources import MailroomResource


@asset(
    key=["ml", "customer_clusters"],
    deps=[get_asset_key_for_model([mailroom_dbt_models], "fct_customer_rfm")],
    group_name=ML_GROUP,
    kinds={"scikit-learn", "duckdb"},
    owners=["team:machine-learning"],
    pool=POOL,
)
def customer_clusters(
    context: AssetExecutionContext, mailroom: MailroomResource
) -> MaterializeResult:
    """Behavioural clusters of buyers (K-Means on log RFM, k by silhouette)."""
    with mailroom.connect() as con:
        rfm = con.execute(
            "select customer_id, recency_days, frequency, monetary "
            "from marts.fct_customer_rfm where frequency is not null"
        ).df()
        result = cluster_customers(rfm, ClusteringConfig())
        replace_table(con, "ml", "customer_clusters", result.assignments)
        replace_table(con, "ml", "customer_cluster_profiles", result.profile)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(result.assignments),
            "k": result.k,
            "silhouette": result.silhouette,
            "model_version": result.model_version,
            "cluster_profile": MetadataValue.md(
                result.profile.to_markdown(index=False)
            ),
        }
    )
