"""ML predictions on a synthetic in-memory warehouse: no leakage, determinism,
one row per customer, honest fallbacks. Needs nothing outside the repository."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from ml.config import PredictionConfig
from ml.features import (
    FEATURE_COLUMNS,
    FEATURES_TABLE,
    StaleFeaturesError,
    build_features,
    read_features,
    snapshot_sources,
    source_sql,
)
from ml.predict import (
    BACKTEST_COLUMNS,
    PREDICTION_COLUMNS,
    labelled_snapshots,
    run_predictions,
)
from ml.propensity import candidates, fit_propensity, predict_in_chunks
from ml.recommend import recommend_products
from ml.synthetic import create_synthetic_warehouse

AS_OF = date(2024, 12, 1)
CONFIG = PredictionConfig(min_training_customers=50, min_training_positives=5)
TIMED = {
    "intermediate.int_orders_resolved": "ordered_at",
    "staging.stg_web__events": "occurred_at",
    "staging.stg_esp__email_events": "occurred_at",
}


def _warehouse(**kwargs: object) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_synthetic_warehouse(con, customers=300, **kwargs)
    return con


@pytest.fixture(scope="module")
def warehouse() -> duckdb.DuckDBPyConnection:
    return _warehouse()


@pytest.fixture(scope="module")
def run(warehouse: duckdb.DuckDBPyConnection):
    return run_predictions(warehouse, AS_OF, CONFIG)


def _tamper(con: duckdb.DuckDBPyConnection, cutoff: datetime, how: str) -> None:
    """Delete, or shuffle the people of, every timed row at or after cutoff."""
    for table, column in TIMED.items():
        if how == "delete":
            con.execute(f"delete from {table} where {column} >= ?", [cutoff])
        else:
            key = (
                "email"
                if "esp" in table
                else ("customer_id" if "orders" in table else "shop_customer_id")
            )
            con.execute(
                f"""
                update {table} set {key} = shuffled.new_key
                from (
                    select rowid as row_id,
                        lead({key}, 1, {key}) over (order by rowid) as new_key
                    from {table} where {column} >= $cutoff
                ) as shuffled
                where {table}.rowid = shuffled.row_id
                """,
                {"cutoff": cutoff},
            )


@pytest.mark.parametrize("how", ["delete", "shuffle"])
def test_rows_at_or_after_the_cutoff_change_no_feature(how: str) -> None:
    cutoff = datetime(2024, 9, 15)
    con = _warehouse()
    before = build_features(con, cutoff)
    _tamper(con, cutoff, how)
    pd.testing.assert_frame_equal(before, build_features(con, cutoff))


def test_sources_read_once_per_run_match_the_direct_read() -> None:
    """The email events copied for a run give the same features as reading the
    staging table, even after a run for an earlier date copied its own rows."""
    con = _warehouse()
    cutoff = datetime(2024, 11, 15)
    sources = snapshot_sources(con, datetime(2024, 12, 1))
    snapshot_sources(con, datetime(2024, 10, 1))
    features = build_features(con, cutoff, sources)
    pd.testing.assert_frame_equal(build_features(con, cutoff), features)
    assert features["email_opens_90d"].sum() > 0


@pytest.mark.parametrize("how", ["delete", "shuffle"])
def test_rows_at_or_after_the_as_of_date_change_no_prediction(
    warehouse, run, how: str
) -> None:
    con = _warehouse()
    _tamper(con, datetime(2024, 12, 1), how)
    other = run_predictions(con, AS_OF, CONFIG)
    pd.testing.assert_frame_equal(run.predictions, other.predictions)
    pd.testing.assert_frame_equal(
        recommend_products(warehouse, AS_OF, CONFIG),
        recommend_products(con, AS_OF, CONFIG),
    )
    pd.testing.assert_frame_equal(run.backtests, other.backtests)


def test_same_inputs_give_identical_predictions(warehouse, run) -> None:
    again = run_predictions(warehouse, AS_OF, CONFIG)
    pd.testing.assert_frame_equal(run.predictions, again.predictions)
    assert run.predictions["model_version"].nunique() == 1


def test_stored_features_read_back_exactly_and_give_the_same_predictions() -> None:
    # The ml/customer_features asset stores the as-of features once; clusters and
    # predictions read them back instead of building them again.
    con = _warehouse()
    with pytest.raises(StaleFeaturesError, match="does not exist"):
        read_features(con, AS_OF)
    built = build_features(con, AS_OF)
    con.execute("create schema if not exists ml")
    con.register("_built", built.assign(as_of_date=AS_OF))
    con.execute(f"create table {FEATURES_TABLE} as select * from _built")
    stored = read_features(con, AS_OF)
    pd.testing.assert_frame_equal(stored, built)
    with pytest.raises(StaleFeaturesError, match="not as of 2024-11-30"):
        read_features(con, date(2024, 11, 30))
    con.execute(f"delete from {FEATURES_TABLE}")  # empty: no date to check
    with pytest.raises(StaleFeaturesError, match="holds features of no one"):
        read_features(con, AS_OF)  # ... so refused while there are customers
    fresh = run_predictions(con, AS_OF, CONFIG)
    reused = run_predictions(con, AS_OF, CONFIG, current=stored)
    pd.testing.assert_frame_equal(fresh.predictions, reused.predictions)
    pd.testing.assert_frame_equal(fresh.backtests, reused.backtests)


def test_every_customer_gets_one_explained_prediction(warehouse, run) -> None:
    customers = warehouse.execute(
        "select customer_id from marts.dim_customers order by 1"
    ).df()["customer_id"]
    predictions = run.predictions
    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert predictions["customer_id"].tolist() == customers.tolist()
    assert predictions["prediction_source"].notna().all()
    assert predictions["prediction_reason"].str.len().gt(10).all()
    assert set(predictions["prediction_source"]) <= {
        "model",
        "probabilistic_baseline",
        "heuristic",
        "none",
    }
    # People without orders are never scored by the buyer model.
    features = build_features(warehouse, datetime(2024, 12, 1))
    never_bought = set(features.loc[features["frequency"] == 0, "customer_id"])
    non_buyer_sources = predictions.loc[
        predictions["customer_id"].isin(never_bought), "prediction_source"
    ]
    assert set(non_buyer_sources) == {"heuristic"}


def test_probabilities_bands_and_values_are_consistent(run) -> None:
    p = run.predictions
    assert p["purchase_probability"].between(0, 1).all()
    assert p["churn_probability"].between(0, 1).all()
    assert (p["expected_orders"] >= p["purchase_probability"] - 1e-9).all()
    low, high = CONFIG.churn_bands
    expected = np.where(
        p["churn_probability"] < low,
        "low",
        np.where(p["churn_probability"] < high, "medium", "high"),
    )
    assert (p["churn_band"] == expected).all()
    buyers = p["prediction_source"].isin(["model", "probabilistic_baseline"])
    assert (p.loc[buyers, "predicted_clv"] > 0).all()


def test_backtests_compare_each_model_with_its_baselines(run) -> None:
    backtests = run.backtests
    assert list(backtests.columns) == list(BACKTEST_COLUMNS)
    for horizon in (CONFIG.horizon_days, CONFIG.churn_window_days):
        rows = backtests.loc[backtests["horizon_days"] == horizon]
        assert {"recency_only", "rfm_score", "bg_nbd", "logistic_regression"} <= set(
            rows["model"]
        )
        model = rows.loc[~rows["baseline"]]
        assert len(model) == 1
        assert rows["auc"].between(0.5, 1).all()
        assert (rows["cutoff_date"] < AS_OF).all()
    assert run.deciles["decile"].between(1, 10).all()


def test_too_little_history_falls_back_to_bg_nbd() -> None:
    con = _warehouse()
    thin = PredictionConfig(min_training_customers=100_000)
    predictions = run_predictions(con, AS_OF, thin).predictions
    sources = set(predictions["prediction_source"])
    assert "model" not in sources
    assert "probabilistic_baseline" in sources
    assert (
        predictions.loc[
            predictions["prediction_source"] == "probabilistic_baseline",
            "prediction_reason",
        ]
        .str.contains("BG/NBD")
        .all()
    )


def test_absent_web_and_email_sources_give_zeros_not_errors() -> None:
    con = _warehouse(with_web_and_email=False)
    features = build_features(con, datetime(2024, 12, 1))
    assert list(features.columns) == ["customer_id", *FEATURE_COLUMNS]
    for column in ("email_opens_90d", "product_views_30d", "sessions_90d"):
        assert (features[column] == 0).all()
    assert len(run_predictions(con, AS_OF, CONFIG).predictions) == 300


def test_an_empty_warehouse_still_gives_every_customer_a_row() -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_customers as "
        "select 'cus_' || range as customer_id from range(5)"
    )
    predictions = run_predictions(con, AS_OF, CONFIG).predictions
    assert len(predictions) == 5
    assert (predictions["prediction_source"] == "none").all()


def test_stored_features_of_no_one_are_read_as_no_one() -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.dim_customers (customer_id varchar)")
    empty = build_features(con, AS_OF)
    con.execute("create schema ml")
    con.register("_empty", empty.assign(as_of_date=AS_OF))
    con.execute(f"create table {FEATURES_TABLE} as select * from _empty")
    pd.testing.assert_frame_equal(read_features(con, AS_OF), empty)


def test_features_match_a_hand_count() -> None:
    con = duckdb.connect()
    create_synthetic_warehouse(con, customers=20)
    cutoff = datetime(2024, 10, 1)
    features = build_features(con, cutoff).set_index("customer_id")
    orders = (
        con.execute(
            "select customer_id, count(*) as n, sum(total_amount) as m "
            "from intermediate.int_orders_resolved "
            "where is_revenue_order and ordered_at < ? group by 1",
            [cutoff],
        )
        .df()
        .set_index("customer_id")
    )
    np.testing.assert_allclose(
        features.loc[orders.index, "frequency"], orders["n"].astype(float)
    )
    np.testing.assert_allclose(features.loc[orders.index, "monetary"], orders["m"])
    items = (
        con.execute(
            "select orders.customer_id, sum(items.quantity) / count(distinct "
            "orders.order_id) as per_order "
            "from intermediate.int_orders_resolved as orders "
            "inner join staging.stg_shop__order_items as items using (order_id) "
            "where orders.is_revenue_order and orders.ordered_at < ? group by 1",
            [cutoff],
        )
        .df()
        .set_index("customer_id")
    )
    np.testing.assert_allclose(
        features.loc[items.index, "avg_items_per_order"], items["per_order"]
    )
    repeat = features.loc[features["mean_gap_days"].notna()]
    np.testing.assert_allclose(
        repeat["recency_gap_ratio"],
        repeat["recency_days"] / (repeat["mean_gap_days"] + 1),
    )


@pytest.mark.parametrize(
    "cutoff", [datetime(2024, 6, 1), datetime(2024, 10, 1), datetime(2024, 11, 17, 9)]
)
def test_latest_visit_and_engagement_are_found_however_long_ago(
    warehouse: duckdb.DuckDBPyConnection, cutoff: datetime
) -> None:
    """The features read 90-day windows plus one row per person and month for
    older activity; the days since the last visit and the last engagement must
    still equal a scan of all history before the cutoff."""
    sources = source_sql(warehouse)
    latest = warehouse.execute(
        f"""
        select customer_id, max(occurred_at) as last_at, 'visit' as kind
        from ({sources["web_events"]}) as web
        where occurred_at < $cutoff
        group by customer_id
        union all
        select customer_id, max(occurred_at), 'engagement'
        from ({sources["email_events"]}) as email
        where
            occurred_at < $cutoff
            and ((event_type = 'open' and not is_machine_open) or event_type = 'click')
        group by customer_id
        """,
        {"cutoff": cutoff},
    ).df()
    latest["days"] = (cutoff - latest["last_at"]).dt.total_seconds() / 86400
    expected = latest.pivot(index="customer_id", columns="kind", values="days")
    features = build_features(warehouse, cutoff).set_index("customer_id")
    for kind, column in (
        ("visit", "days_since_visit"),
        ("engagement", "days_since_email_engagement"),
    ):
        want = expected[kind].reindex(features.index)
        assert (want > 90).any() and (want <= 90).any()
        # Features count whole seconds.
        np.testing.assert_allclose(features[column], want, rtol=0, atol=1 / 86400)


def test_config_errors_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match="churn_bands"):
        PredictionConfig(churn_bands=(0.8, 0.2))
    with pytest.raises(ValueError, match="training_snapshots"):
        PredictionConfig(training_snapshots=1)
    with pytest.raises(ValueError, match="horizon_days"):
        PredictionConfig(horizon_days=0)


def test_training_rows_above_the_cap_are_sampled_from_every_snapshot() -> None:
    config = PredictionConfig(
        min_training_customers=50, min_training_positives=5, max_training_rows=150
    )
    con = _warehouse()
    snapshots = labelled_snapshots(con, None, datetime(2024, 12, 1), 30, config)
    assert sum(len(s.frame) for s in snapshots) > config.max_training_rows
    first = fit_propensity(snapshots, config)
    second = fit_propensity(snapshots, config)
    assert first is not None and second is not None
    assert first.training_rows <= config.max_training_rows
    assert first.data_hash == second.data_hash


def test_older_snapshots_are_built_only_until_training_rows_reach_the_cap() -> None:
    con = _warehouse()
    as_of = datetime(2024, 12, 1)
    roomy = labelled_snapshots(con, None, as_of, 30, CONFIG)
    assert len(roomy) == CONFIG.training_snapshots
    capped = PredictionConfig(
        min_training_customers=50,
        min_training_positives=5,
        max_training_rows=len(roomy[1].frame),
    )
    snapshots = labelled_snapshots(con, None, as_of, 30, capped)
    assert [s.cutoff for s in snapshots] == [s.cutoff for s in roomy[:2]]


def test_validation_scores_in_chunks_equal_scores_in_one_piece() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(int)
    for name, estimator in candidates(0).items():
        model = CalibratedClassifierCV(estimator, method="sigmoid", cv=3).fit(x, y)
        whole = model.predict_proba(x)[:, 1]
        chunked = predict_in_chunks(model, x, PredictionConfig(scoring_chunk_rows=7))
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12, err_msg=name)
    empty = predict_in_chunks(model, x[:0], PredictionConfig())
    assert empty.shape == (0,)
