"""ML assets: scikit-learn models over warehouse tables, written back to ml.*."""

from collections.abc import Iterator
from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_dbt import get_asset_key_for_model

from mailroom.settings import ml_duckdb_memory_limit
from mailroom.warehouse import append_rows, replace_table
from ml.clustering import (
    ClusteringConfig,
    cluster_customers,
    render_cluster_profile_png,
)
from ml.config import PredictionConfig
from ml.evaluation import compare_with_baseline
from ml.features import (
    FEATURE_COLUMNS,
    build_features,
    features_table,
    has_table,
    read_features,
)
from ml.predict import run_predictions
from ml.recommend import write_recommendations
from orchestration.assets.dbt import mailroom_dbt_models
from orchestration.assets.ingestion import POOL
from orchestration.metadata import png_markdown
from orchestration.project import ML_GROUP
from orchestration.resources import MailroomResource

PREDICTION_INPUTS = [
    "dim_customers",
    "int_orders_resolved",
    "int_web_events_enriched",
    "stg_shop__order_items",
    "stg_shop__products",
    "stg_esp__email_events",
]


FEATURES_KEY = ["ml", "customer_features"]


@asset(
    key=FEATURES_KEY,
    deps=[
        get_asset_key_for_model([mailroom_dbt_models], model)
        for model in PREDICTION_INPUTS
    ],
    group_name=ML_GROUP,
    kinds={"duckdb"},
    owners=["team:machine-learning"],
    pool=POOL,
)
def customer_features(
    context: AssetExecutionContext, mailroom: MailroomResource
) -> MaterializeResult:
    """One row per customer: the model features as of the run's date, built only
    from data before it (RFM values, tenure, order gaps, spend trend, category mix,
    engagement, browsing, discount use). Clusters and predictions read it."""
    settings = mailroom.settings()
    with mailroom.connect(context, ml_duckdb_memory_limit()) as con:
        features = build_features(con, settings.as_of)
        replace_table(
            con, "ml", "customer_features", features_table(features, settings.as_of)
        )
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(features),
            "as_of": settings.as_of.isoformat(),
            "features": MetadataValue.json(list(FEATURE_COLUMNS)),
        }
    )


@asset(
    key=["ml", "customer_clusters"],
    deps=[FEATURES_KEY],
    group_name=ML_GROUP,
    kinds={"scikit-learn", "duckdb"},
    owners=["team:machine-learning"],
    pool=POOL,
)
def customer_clusters(
    context: AssetExecutionContext, mailroom: MailroomResource
) -> MaterializeResult:
    """Behavioural clusters of buyers (K-Means, k by silhouette, ids kept stable
    by matching the previous run's profile)."""
    settings = mailroom.settings()
    with mailroom.connect(context, ml_duckdb_memory_limit()) as con:
        previous = (
            con.execute("select * from ml.customer_cluster_profiles").df()
            if has_table(con, "ml.customer_cluster_profiles")
            else None
        )
        result = cluster_customers(
            read_features(con, settings.as_of), ClusteringConfig(), previous
        )
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
            **(
                {"cluster_chart": png_markdown("cluster profile", chart)}
                if (chart := render_cluster_profile_png(result.profile))
                else {}
            ),
        }
    )


PREDICTIONS_KEY = ["ml", "customer_predictions"]
RECOMMENDATIONS_KEY = ["ml", "product_recommendations"]
BACKTESTS_KEY = ["ml", "model_backtests"]


def _ml_spec(key: list[str], description: str) -> AssetSpec:
    return AssetSpec(
        key=key,
        description=description,
        deps=[
            FEATURES_KEY,
            *(
                get_asset_key_for_model([mailroom_dbt_models], model)
                for model in PREDICTION_INPUTS
            ),
        ],
        group_name=ML_GROUP,
        kinds={"scikit-learn", "duckdb"},
        owners=["team:machine-learning"],
    )


@multi_asset(
    specs=[
        _ml_spec(
            PREDICTIONS_KEY,
            "One row per customer: purchase probability, expected orders, churn "
            "risk and band, CLV, expected next order date, preferred category, and "
            "which model (or fallback) produced them and why.",
        ),
        _ml_spec(
            RECOMMENDATIONS_KEY,
            "One row per customer per recommended product, with its source "
            "(co-purchase rule, viewed not bought, popular) and reason.",
        ),
        _ml_spec(
            BACKTESTS_KEY,
            "One row per model and baseline per run: AUC, PR-AUC, top-decile lift "
            "and calibration error on a time-based holdout before the as-of date.",
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            "models_beat_recency_baseline",
            asset=BACKTESTS_KEY,
            description="Every model's holdout AUC is above recency alone.",
        )
    ],
    pool=POOL,
)
def customer_predictions(
    context: AssetExecutionContext, mailroom: MailroomResource
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Train on snapshots before the as-of date, backtest, and score everyone."""
    settings = mailroom.settings()
    with mailroom.connect(context, ml_duckdb_memory_limit()) as con:
        config = PredictionConfig()
        run = run_predictions(
            con, settings.as_of, config, current=read_features(con, settings.as_of)
        )
        backtests = run.backtests.assign(
            run_at=datetime.now(UTC).replace(tzinfo=None),
            as_of_date=settings.as_of,
            dagster_run_id=context.run.run_id,
        )
        # The long build first: if it fails, neither table has changed.
        recommendations = write_recommendations(
            con, settings.as_of, config, table=".".join(RECOMMENDATIONS_KEY)
        )
        replace_table(con, "ml", "customer_predictions", run.predictions)
        append_rows(
            con,
            "ml",
            "model_backtests",
            backtests,
            replace_where=("dagster_run_id", context.run.run_id),
        )
    chart = run.charts.get("lift_calibration")
    sources = run.predictions["prediction_source"].value_counts().to_dict()
    yield MaterializeResult(
        asset_key=PREDICTIONS_KEY,
        metadata={
            "dagster/row_count": len(run.predictions),
            "prediction_sources": MetadataValue.json(
                {str(key): int(value) for key, value in sources.items()}
            ),
            "model_version": str(run.predictions["model_version"].iloc[0])
            if len(run.predictions)
            else "none",
        },
    )
    yield MaterializeResult(
        asset_key=RECOMMENDATIONS_KEY,
        metadata={"dagster/row_count": recommendations},
    )
    yield MaterializeResult(
        asset_key=BACKTESTS_KEY,
        metadata={
            "backtests": MetadataValue.md(
                run.backtests.round(3).to_markdown(index=False)
            ),
            **(
                {"lift_and_calibration": png_markdown("lift and calibration", chart)}
                if chart
                else {}
            ),
        },
    )
    compared = compare_with_baseline(run.backtests)
    yield AssetCheckResult(
        check_name="models_beat_recency_baseline",
        asset_key=BACKTESTS_KEY,
        passed=bool(len(compared)) and bool(compared["beats"].all()),
        severity=AssetCheckSeverity.ERROR,
        metadata={"comparison": MetadataValue.md(compared.to_markdown(index=False))},
    )
