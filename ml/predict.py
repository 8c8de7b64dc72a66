"""Per-customer predictions and backtests for one as-of date (recommendations are
built in the warehouse by :func:`ml.recommend.write_recommendations`).

Every customer of ``marts.dim_customers`` gets one prediction row. Who is scored
how (``prediction_source``):

- ``model``: buyers with at least ``min_orders_for_model`` orders, when a
  classifier could be trained (calibrated gradient boosting or logistic regression,
  chosen on an out-of-time validation snapshot);
- ``probabilistic_baseline``: other buyers, scored by BG/NBD + Gamma-Gamma;
- ``heuristic``: people with no orders, scored by the observed first-purchase rate
  of similar (engaged / not engaged) non-buyers in the latest labelled snapshot;
- ``none``: nothing to estimate from (no labelled history at all).

CLV for every buyer is BG/NBD expected orders over ``clv_horizon_days`` times the
Gamma-Gamma expected order value. Training never reads anything at or after the
as-of date: snapshots are taken so that their label windows end on or before it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ml.btyd import BetaGeoModel, GammaGammaModel
from ml.config import PredictionConfig
from ml.evaluation import decile_table, render_lift_calibration_png, score_metrics
from ml.features import (
    as_timestamp,
    build_features,
    build_labels,
    preferred_categories,
    snapshot_sources,
)
from ml.propensity import (
    PropensityFit,
    Snapshot,
    baseline_scores,
    btyd_arrays,
    fit_bgnbd,
    fit_propensity,
    frame_hash,
    make_snapshot,
    snapshot_cutoffs,
    with_btyd_features,
)

MODEL_VERSION_PREFIX = "mailroom-ml-v1"

PREDICTION_COLUMNS = (
    "customer_id",
    "as_of_date",
    "horizon_days",
    "purchase_probability",
    "expected_orders",
    "churn_probability",
    "churn_band",
    "predicted_clv",
    "expected_next_order_date",
    "preferred_category",
    "prediction_source",
    "prediction_reason",
    "model_version",
)
BACKTEST_COLUMNS = (
    "model",
    "baseline",
    "horizon_days",
    "cutoff_date",
    "auc",
    "pr_auc",
    "top_decile_lift",
    "calibration_error",
    "n_customers",
    "positive_rate",
    "beats_baseline",
)


@dataclass(frozen=True)
class PredictionRun:
    """Everything one prediction run produces.

    ``backtests`` has one row per scorer (the models and their baselines) per
    horizon; ``baseline`` is True for reference scorers and ``beats_baseline`` says,
    for model rows, whether the model's AUC beats every baseline's on the same
    snapshot (null on baseline rows). The model row is named ``task:algorithm``; when
    the algorithm is logistic regression it is not compared with itself.
    ``deciles`` feeds a lift/calibration chart.
    """

    predictions: pd.DataFrame
    backtests: pd.DataFrame
    charts: dict[str, bytes]
    deciles: pd.DataFrame = field(default_factory=pd.DataFrame)


class FeatureCache:
    """Feature tables by cutoff (none after ``before``), built once per run."""

    def __init__(self, con: duckdb.DuckDBPyConnection, before: datetime) -> None:
        self.con = con
        self.before = before
        self.sources: dict[str, str] | None = None
        self.tables: dict[datetime, pd.DataFrame] = {}

    def __call__(self, cutoff: datetime) -> pd.DataFrame:
        if cutoff > self.before:
            raise ValueError(f"cutoff {cutoff} is after the run's as-of {self.before}")
        if self.sources is None:
            self.sources = snapshot_sources(self.con, self.before)
        if cutoff not in self.tables:
            self.tables[cutoff] = build_features(self.con, cutoff, self.sources)
        return self.tables[cutoff]

    def release(self, cutoffs: list[datetime]) -> None:
        """Forget these cutoffs' tables (built again if asked for later)."""
        for cutoff in cutoffs:
            self.tables.pop(cutoff, None)


def run_predictions(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    config: PredictionConfig | None = None,
    current: pd.DataFrame | None = None,
) -> PredictionRun:
    """Score every customer as of ``as_of`` and backtest the models.

    Parameters
    ----------
    con
        Warehouse connection (read-only is enough; nothing is written).
    as_of
        Scoring date; only data strictly before its midnight is read.
    config
        Horizons, thresholds and random state.
    current
        The features as of ``as_of`` if already built (e.g. read back with
        :func:`ml.features.read_features`); built here otherwise.

    Returns
    -------
    PredictionRun
        Predictions (contract of ``ml.customer_predictions``), backtests (contract
        of ``ml.model_backtests`` without ``run_at``), PNG charts (empty without
        matplotlib) and the decile table behind them.
    """
    config = config or PredictionConfig()
    as_of_ts = as_timestamp(as_of)
    features = FeatureCache(con, as_of_ts)
    if current is not None:
        features.tables[as_of_ts] = current
    current = features(as_of_ts)

    propensity_task = _fit_task(con, features, as_of_ts, config.horizon_days, config)
    churn_task = _fit_task(con, features, as_of_ts, config.churn_window_days, config)
    propensity, churn = propensity_task.fit, churn_task.fit

    buyers = current.loc[current["frequency"] >= 1].reset_index(drop=True)
    btyd = _fit_btyd(buyers)
    heuristics = {
        config.horizon_days: propensity_task.non_buyer_rates,
        config.churn_window_days: churn_task.non_buyer_rates,
    }

    version = _model_version(config, propensity, churn, current)
    predictions = _assemble(
        current,
        as_of_ts,
        config,
        propensity,
        churn,
        btyd,
        heuristics,
        preferred_categories(con, as_of_ts),
        version,
    )

    backtests, deciles = _backtests(
        (
            ("purchase_propensity", propensity, propensity_task.validation, False),
            ("churn_risk", churn, churn_task.validation, True),
        ),
        config,
    )
    chart = render_lift_calibration_png(deciles)
    return PredictionRun(
        predictions=predictions,
        backtests=backtests,
        charts={"lift_calibration": chart} if chart else {},
        deciles=deciles,
    )


def labelled_snapshots(
    con: duckdb.DuckDBPyConnection,
    features: FeatureCache | None,
    as_of: datetime,
    window_days: int,
    config: PredictionConfig,
) -> list[Snapshot]:
    """Labelled snapshots for a window, latest first (label windows end <= as_of).

    Up to ``config.training_snapshots``; older ones are only built while the
    training snapshots (all but the latest) hold fewer than
    ``config.max_training_rows`` rows, since training samples that many anyway.
    """
    features = features or FeatureCache(con, as_of)
    snapshots: list[Snapshot] = []
    for cutoff in snapshot_cutoffs(as_of, window_days, config):
        if sum(len(s.frame) for s in snapshots[1:]) >= config.max_training_rows:
            break
        labels = build_labels(con, cutoff, cutoff + timedelta(days=window_days))
        snapshots.append(
            make_snapshot(features(cutoff), labels, cutoff, window_days, config)
        )
    return snapshots


@dataclass(frozen=True)
class _Task:
    """What scoring and backtests need of one task (a window's classifier)."""

    fit: PropensityFit | None
    validation: Snapshot
    non_buyer_rates: dict[bool, float]


def _fit_task(
    con: duckdb.DuckDBPyConnection,
    features: FeatureCache,
    as_of: datetime,
    window_days: int,
    config: PredictionConfig,
) -> _Task:
    """Fit a window's classifier, then let go of its snapshots' feature tables
    and training frames (at a million customers about 370 MB per table)."""
    snapshots = labelled_snapshots(con, features, as_of, window_days, config)
    task = _Task(
        fit_propensity(snapshots, config),
        snapshots[0],
        _non_buyer_rates(snapshots[0], features),
    )
    features.release([snapshot.cutoff for snapshot in snapshots])
    return task


@dataclass(frozen=True)
class _Btyd:
    bgnbd: BetaGeoModel | None
    gamma_gamma: GammaGammaModel | None


def _fit_btyd(buyers: pd.DataFrame) -> _Btyd:
    bgnbd = gamma_gamma = None
    if len(buyers) >= 3:
        bgnbd = fit_bgnbd(buyers)
        try:
            gamma_gamma = GammaGammaModel(penalizer=0.001).fit(
                buyers["frequency"].to_numpy(), buyers["avg_order_value"].to_numpy()
            )
        except ValueError:
            gamma_gamma = None
    return _Btyd(bgnbd, gamma_gamma)


def _engaged(frame: pd.DataFrame) -> pd.Series:
    return (
        (frame["sessions_30d"] > 0)
        | (frame["email_opens_90d"] + frame["email_clicks_90d"] > 0)
        | (frame["cart_adds_30d"] > 0)
    )


def _non_buyer_rates(latest: Snapshot, features: FeatureCache) -> dict[bool, float]:
    """First-purchase rate of non-buyers (engaged or not) in the latest snapshot."""
    table = features(latest.cutoff)
    non_buyers = table.loc[table["frequency"] == 0]
    if non_buyers.empty or not latest.window_buyers:
        # No one bought in the window at all: nothing to estimate a rate from.
        return {}
    outcome = non_buyers["customer_id"].isin(latest.window_buyers)
    engaged = _engaged(non_buyers)
    rates: dict[bool, float] = {}
    for flag in (True, False):
        group = outcome[engaged == flag]
        # Laplace-smoothed rate so a tiny group never gives exactly 0 or 1.
        rates[flag] = float((group.sum() + 1) / (len(group) + 2))
    return rates


def _assemble(
    current: pd.DataFrame,
    as_of: datetime,
    config: PredictionConfig,
    propensity: PropensityFit | None,
    churn: PropensityFit | None,
    btyd: _Btyd,
    heuristics: dict[int, dict[bool, float]],
    preferred: pd.DataFrame,
    version: str,
) -> pd.DataFrame:
    n = len(current)
    purchase = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    churn_probability = np.full(n, np.nan)
    clv = np.full(n, np.nan)
    source = np.full(n, "none", dtype=object)
    reason = np.full(
        n, "no orders and no labelled history to estimate from", dtype=object
    )

    frequency = current["frequency"].to_numpy()
    recency = current["recency_days"].to_numpy()
    is_buyer = frequency >= 1
    for_model = frequency >= config.min_orders_for_model

    if btyd.bgnbd is not None and is_buyer.any():
        rows = np.flatnonzero(is_buyer)
        x, t_x, age = btyd_arrays(current.iloc[rows])
        model = btyd.bgnbd
        purchase[rows] = model.probability_purchase(config.horizon_days, x, t_x, age)
        expected[rows] = model.expected_purchases(config.horizon_days, x, t_x, age)
        churn_probability[rows] = 1 - model.probability_purchase(
            config.churn_window_days, x, t_x, age
        )
        orders_clv = model.expected_purchases(config.clv_horizon_days, x, t_x, age)
        value = (
            btyd.gamma_gamma.expected_order_value(
                frequency[rows], current["avg_order_value"].to_numpy()[rows]
            )
            if btyd.gamma_gamma is not None
            else current["avg_order_value"].to_numpy()[rows]
        )
        clv[rows] = orders_clv * value
        source[rows] = "probabilistic_baseline"
        why = (
            "classifier unavailable (too little labelled history)"
            if propensity is None
            else f"fewer than {config.min_orders_for_model} orders for the model"
        )
        reason[rows] = [
            f"BG/NBD: {int(f)} orders, last {r:.0f} days ago; {why}"
            for f, r in zip(frequency[rows], recency[rows], strict=True)
        ]

    if propensity is not None and (is_buyer & for_model).any():
        rows = np.flatnonzero(is_buyer & for_model)
        chosen = current.iloc[rows]
        probability = score_buyers(propensity, chosen, config, btyd.bgnbd)
        if not np.isnan(expected[rows]).all():
            # Keep BG/NBD's orders-per-buyer ratio, scaled to the model probability.
            ratio = np.where(purchase[rows] > 0, expected[rows] / purchase[rows], 1.0)
            expected[rows] = probability * np.maximum(ratio, 1.0)
        else:
            expected[rows] = probability
        purchase[rows] = probability
        if churn is not None:
            churn_probability[rows] = 1 - score_buyers(
                churn, chosen, config, btyd.bgnbd
            )
        source[rows] = "model"
        label = propensity.algorithm.replace("_", " ")
        reason[rows] = [
            f"{label} model on {propensity.training_rows} labelled snapshot rows: "
            f"{int(f)} orders, last {r:.0f} days ago"
            for f, r in zip(frequency[rows], recency[rows], strict=True)
        ]

    non_buyers = np.flatnonzero(~is_buyer)
    rates_h = heuristics.get(config.horizon_days, {})
    rates_c = heuristics.get(config.churn_window_days, {})
    if rates_h and len(non_buyers):
        engaged = _engaged(current.iloc[non_buyers]).to_numpy()
        purchase[non_buyers] = np.where(engaged, rates_h[True], rates_h[False])
        expected[non_buyers] = purchase[non_buyers]
        if rates_c:
            churn_probability[non_buyers] = 1 - np.where(
                engaged, rates_c[True], rates_c[False]
            )
        clv[non_buyers] = 0.0
        source[non_buyers] = "heuristic"
        reason[non_buyers] = np.where(
            engaged,
            "no orders yet; first-purchase rate of recently engaged non-buyers",
            "no orders yet; first-purchase rate of non-buyers with no recent activity",
        )

    next_order = _expected_next_order(purchase, config, as_of)
    low, high = config.churn_bands
    band = np.select(
        [churn_probability < low, churn_probability < high, churn_probability >= high],
        ["low", "medium", "high"],
        default=None,
    )
    frame = pd.DataFrame(
        {
            "customer_id": current["customer_id"],
            "as_of_date": pd.Timestamp(as_of).date(),
            "horizon_days": config.horizon_days,
            "purchase_probability": np.round(purchase, 6),
            "expected_orders": np.round(expected, 6),
            "churn_probability": np.round(churn_probability, 6),
            "churn_band": band,
            "predicted_clv": np.round(clv, 2),
            "expected_next_order_date": next_order,
            "source_": source,
            "reason_": reason,
            "model_version": version,
        }
    )
    frame = frame.merge(preferred, on="customer_id", how="left")
    frame = frame.rename(
        columns={"source_": "prediction_source", "reason_": "prediction_reason"}
    )
    return frame.loc[:, list(PREDICTION_COLUMNS)].reset_index(drop=True)


def score_buyers(
    fit: PropensityFit,
    buyers: pd.DataFrame,
    config: PredictionConfig,
    bgnbd: BetaGeoModel | None = None,
) -> np.ndarray:
    """Calibrated probability of a purchase in the fit's window for ``buyers``.

    Scored ``config.scoring_chunk_rows`` rows at a time, so memory stays flat
    however many buyers there are. ``bgnbd`` (fitted on all buyers) supplies the
    BG/NBD features; without it one is fitted on ``buyers``.
    """
    if bgnbd is None:
        bgnbd = fit_bgnbd(buyers)
    chunks = []
    with threadpool_limits(limits=config.threads_for(len(buyers)), user_api="openmp"):
        for start in range(0, len(buyers), config.scoring_chunk_rows):
            chunk = buyers.iloc[start : start + config.scoring_chunk_rows]
            frame = with_btyd_features(chunk, fit.window_days, bgnbd)
            x = frame.loc[:, fit.features].to_numpy(dtype=float)
            chunks.append(fit.estimator.predict_proba(x)[:, 1])
    return np.concatenate(chunks) if chunks else np.empty(0)


def _expected_next_order(
    purchase: np.ndarray, config: PredictionConfig, as_of: datetime
) -> list[date | None]:
    """Median time to next order under a constant hazard matching the probability;
    None when it lies beyond the CLV horizon."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = -np.log1p(-np.clip(purchase, 0, 1 - 1e-9)) / config.horizon_days
        days = np.log(2) / hazard
    return [
        (as_of + timedelta(days=float(d))).date()
        if np.isfinite(d) and d <= config.clv_horizon_days
        else None
        for d in days
    ]


def _backtests(
    tasks: tuple[tuple[str, PropensityFit | None, Snapshot, bool], ...],
    config: PredictionConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows: list[dict] = []
    deciles: list[pd.DataFrame] = []
    for name, fit, validation, is_churn in tasks:
        frame = validation.frame
        if frame.empty or frame["label"].nunique() < 2:
            continue
        y = frame["label"].to_numpy()
        target = 1 - y if is_churn else y
        sign = -1.0 if is_churn else 1.0
        base_rows = []
        for base_name, (score, probability) in baseline_scores(
            validation, config
        ).items():
            metrics = score_metrics(
                target,
                sign * score,
                None if probability is None else _flip(probability, is_churn),
            )
            base_rows.append(_row(base_name, True, validation, metrics, None))
        if fit is not None:
            logistic = fit.validation["logistic_regression"].to_numpy()
            base_rows.append(
                _row(
                    "logistic_regression",
                    True,
                    validation,
                    score_metrics(
                        target,
                        _flip(logistic, is_churn),
                        _flip(logistic, is_churn),
                    ),
                    None,
                )
            )
            chosen = _flip(fit.validation[fit.algorithm].to_numpy(), is_churn)
            metrics = score_metrics(target, chosen, chosen)
            # The chosen candidate is not its own baseline.
            best = max(
                (
                    r["auc"]
                    for r in base_rows
                    if not np.isnan(r["auc"]) and r["model"] != fit.algorithm
                ),
                default=-1,
            )
            rows.append(
                _row(
                    f"{name}:{fit.algorithm}",
                    False,
                    validation,
                    metrics,
                    bool(metrics["auc"] > best),
                )
            )
            deciles.append(decile_table(target, chosen, f"{name}:{fit.algorithm}"))
        rows.extend(base_rows)
    backtests = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
    backtests["beats_baseline"] = backtests["beats_baseline"].astype("boolean")
    table = (
        pd.concat(deciles, ignore_index=True)
        if deciles
        else pd.DataFrame(
            columns=[
                "model",
                "decile",
                "customers",
                "mean_probability",
                "rate",
                "lift",
                "cumulative_capture",
            ]
        )
    )
    return backtests, table


def _flip(probability: np.ndarray, is_churn: bool) -> np.ndarray:
    return 1 - probability if is_churn else probability


def _row(
    model: str,
    baseline: bool,
    snapshot: Snapshot,
    metrics: dict[str, float],
    beats: bool | None,
) -> dict:
    return {
        "model": model,
        "baseline": baseline,
        "horizon_days": snapshot.window_days,
        "cutoff_date": pd.Timestamp(snapshot.cutoff).date(),
        **{key: _round(value) for key, value in metrics.items()},
        "beats_baseline": beats,
    }


def _round(value: float) -> float:
    return value if isinstance(value, int) else round(float(value), 6)


def _model_version(
    config: PredictionConfig,
    propensity: PropensityFit | None,
    churn: PropensityFit | None,
    current: pd.DataFrame,
) -> str:
    digest = hashlib.sha256(repr(config).encode())
    for fit in (propensity, churn):
        digest.update((fit.algorithm + fit.data_hash).encode() if fit else b"none")
    digest.update(frame_hash(current).encode())
    algorithm = propensity.algorithm if propensity else "btyd"
    return f"{MODEL_VERSION_PREFIX}-{algorithm}-{digest.hexdigest()[:12]}"
