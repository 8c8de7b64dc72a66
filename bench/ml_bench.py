"""Benchmark and evaluate the ml package on a built warehouse.

Prints seconds and peak RSS per step, backtests, and (with ``--holdout-end``) an
out-of-time evaluation with a fixed feature cutoff, e.g. Online Retail:

    python bench/ml_bench.py --warehouse /tmp/or-ml/warehouse.duckdb \
        --as-of 2011-09-10 --horizon 90 --holdout-end 2011-12-10
    python bench/ml_bench.py --warehouse /tmp/demo-ml/warehouse.duckdb \
        --as-of 2026-11-01 --ground-truth /tmp/demo-ml/ground_truth

The warehouse is copied to a temporary file and opened read-only (``--in-place``
opens it directly: only for a warehouse no one else uses). ``--scale`` times the
issue's budget (feature build, clustering, propensity training and scoring):

    python bench/ml_bench.py --warehouse /tmp/w1m.duckdb --as-of 2026-11-01 \
        --scale --skip-run --in-place
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from mailroom.settings import ml_duckdb_memory_limit
from ml.clustering import cluster_customers
from ml.config import PredictionConfig
from ml.evaluation import score_metrics
from ml.features import build_features, build_labels
from ml.predict import (
    FeatureCache,
    labelled_snapshots,
    run_predictions,
    score_buyers,
)
from ml.propensity import baseline_scores, fit_propensity, make_snapshot
from ml.recommend import write_recommendations

T = TypeVar("T")
# The warehouse may be open read-only: recommendations go to a temporary table.
RECOMMENDATIONS = "temp.main.product_recommendations"


def timed(step: str, function: Callable[[], T]) -> T:
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = function()
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{step:<34} {seconds:8.2f} s  (cpu {cpu:7.2f} s)  peak RSS {peak_mb:8.0f} MB"
    )
    return result


def _cpu_seconds() -> float:
    """CPU time of this process and its threads (DuckDB's and OpenMP's included):
    on a shared machine wall time also counts the time spent waiting for a core."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def holdout(
    con: duckdb.DuckDBPyConnection,
    cutoff: datetime,
    end: datetime,
    config: PredictionConfig,
) -> pd.DataFrame:
    """Train only on snapshots whose labels end by ``cutoff``; score buyers at
    ``cutoff``; compare with baselines on purchases in ``[cutoff, end)``."""
    snapshots = timed(
        "training snapshots",
        lambda: labelled_snapshots(con, None, cutoff, config.horizon_days, config),
    )
    fit = timed("fit + select + calibrate", lambda: fit_propensity(snapshots, config))
    test = make_snapshot(
        build_features(con, cutoff),
        build_labels(con, cutoff, end),
        cutoff,
        config.horizon_days,
        config,
    )
    y = test.frame["label"].to_numpy()
    rows = {}
    if fit is not None:
        x = test.frame.loc[:, fit.features].to_numpy(dtype=float)
        probability = fit.estimator.predict_proba(x)[:, 1]
        rows[f"model ({fit.algorithm})"] = score_metrics(y, probability, probability)
        from ml.propensity import _calibrated, candidates

        full = pd.concat([s.frame for s in snapshots], ignore_index=True)
        for name, estimator in candidates(config.random_state).items():
            model = _calibrated(estimator, full, config).fit(
                full.loc[:, fit.features].to_numpy(dtype=float), full["label"]
            )
            p = model.predict_proba(x)[:, 1]
            rows[name] = score_metrics(y, p, p)
    for name, (score, probability) in baseline_scores(test, config).items():
        rows[name] = score_metrics(y, score, probability)
    return pd.DataFrame(rows).T.round(4)


def cluster_ari(
    con: duckdb.DuckDBPyConnection, ground_truth: Path, as_of: datetime
) -> None:
    features = build_features(con, as_of)
    result = timed("cluster_customers", lambda: cluster_customers(features))
    people = pd.read_parquet(ground_truth / "people.parquet")
    identifiers = pd.read_parquet(ground_truth / "identifiers.parquet")
    identity = con.execute(
        "select customer_id, id_type, id_value from marts.customer_identity_map"
    ).df()
    mapped = identity.merge(
        identifiers,
        left_on=["id_type", "id_value"],
        right_on=["id_type", "normalized_value"],
    )
    person = (
        mapped.groupby("customer_id")["person_id"]
        .agg(lambda s: s.value_counts().index[0])
        .rename("person_id")
        .reset_index()
        .merge(people.loc[:, ["person_id", "archetype"]], on="person_id")
    )
    joined = result.assignments.merge(person, on="customer_id")
    ari = adjusted_rand_score(joined["archetype"], joined["cluster_id"])
    print(f"clusters: k={result.k} silhouette={result.silhouette}")
    print(f"ARI vs archetypes (buyers only, n={len(joined)}): {ari:.3f}")
    with pd.option_context("display.width", 200):
        print(pd.crosstab(joined["archetype"], joined["cluster_id"]).to_string())
        print(result.profile.to_string())


def scale_run(
    con: duckdb.DuckDBPyConnection, as_of: datetime, config: PredictionConfig
) -> None:
    """The issue's budget: feature build + clustering + propensity training and
    scoring of every buyer, timed step by step and in total."""
    start = time.perf_counter()
    cache = FeatureCache(con, as_of)
    features = timed("scale: build_features (as-of)", lambda: cache(as_of))
    timed("scale: cluster_customers", lambda: cluster_customers(features))
    snapshots = timed(
        "scale: training snapshots",
        lambda: labelled_snapshots(con, cache, as_of, config.horizon_days, config),
    )
    fit = timed(
        "scale: fit + select + calibrate", lambda: fit_propensity(snapshots, config)
    )
    buyers = features.loc[features["frequency"] >= 1]
    scores = timed(
        "scale: score buyers",
        lambda: score_buyers(fit, buyers, config) if fit is not None else None,
    )
    total = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"scale total: {total:.1f} s for {len(features):,} customers "
        f"({len(buyers):,} buyers, {sum(len(s.frame) for s in snapshots):,} "
        f"training rows, {0 if scores is None else len(scores):,} scored), "
        f"peak RSS {peak_mb:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--snapshots", type=int, default=3)
    parser.add_argument("--step", type=int, default=None)
    parser.add_argument("--holdout-end", type=date.fromisoformat, default=None)
    parser.add_argument("--ground-truth", type=Path, default=None)
    parser.add_argument("--skip-run", action="store_true")
    parser.add_argument(
        "--scale", action="store_true", help="time the 1M-customer budget steps"
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="open the warehouse itself (read-only) instead of a copy",
    )
    parser.add_argument(
        "--duckdb-memory",
        default=ml_duckdb_memory_limit(),
        help="DuckDB memory_limit (default: the ML steps', %(default)s)",
    )
    args = parser.parse_args()
    config = PredictionConfig(
        horizon_days=args.horizon,
        training_snapshots=args.snapshots,
        snapshot_step_days=args.step,
    )
    as_of = datetime.combine(args.as_of, datetime.min.time())
    with tempfile.TemporaryDirectory() as folder:
        copy = args.warehouse
        if not args.in_place:
            copy = Path(folder) / "warehouse.duckdb"
            shutil.copy(args.warehouse, copy)
        con = duckdb.connect(str(copy), read_only=True)
        con.execute("set enable_progress_bar = false")
        con.execute(f"set memory_limit = '{args.duckdb_memory}'")
        customers = con.execute("select count(*) from marts.dim_customers").fetchone()
        orders = con.execute(
            "select count(*) from intermediate.int_orders_resolved"
        ).fetchone()
        print(f"{args.warehouse}: {customers[0]:,} customers, {orders[0]:,} orders")
        if args.scale:
            scale_run(con, as_of, config)
        else:
            timed("build_features (as-of)", lambda: build_features(con, as_of))
        if args.holdout_end:
            end = datetime.combine(args.holdout_end, datetime.min.time())
            print(f"\nholdout: features < {as_of:%Y-%m-%d}, label in [.., {end:%F})")
            with pd.option_context("display.width", 160):
                print(holdout(con, as_of, end, config).to_string())
        if args.ground_truth:
            cluster_ari(con, args.ground_truth, as_of)
        if not args.skip_run:
            run = timed(
                "run_predictions (all steps)",
                lambda: run_predictions(con, args.as_of, config),
            )
            rows = timed(
                "write_recommendations",
                lambda: write_recommendations(
                    con, args.as_of, config, table=RECOMMENDATIONS, temporary=True
                ),
            )
            sources = con.sql(
                f"select source, count(*) from {RECOMMENDATIONS} group by 1 order by 1"
            ).fetchall()
            print(f"recommendations: {rows:,} rows, {dict(sources)}")
            with pd.option_context("display.width", 200):
                print(run.backtests.to_string())
                p = run.predictions
                print(p["prediction_source"].value_counts().to_string())
                print(p["churn_band"].value_counts(dropna=False).to_string())
                print(f"charts: {sorted(run.charts) or 'none (no matplotlib)'}")
                print(f"mean predicted_clv {np.nanmean(p['predicted_clv']):.2f}")
        con.close()


if __name__ == "__main__":
    main()
