"""Purchase propensity: labelled snapshots, candidate models, time-based selection.

A snapshot at cutoff ``c`` pairs the features built from data before ``c`` with the
label "bought within [c, c + window)". Snapshots are taken at
``as_of - window - j * step`` so every label window ends on or before the as-of date.
The latest snapshot validates (out of time): each candidate is trained on the older
snapshots whose label windows end by the validation cutoff, so no validation label
is seen in training. The candidate with the best validation AUC is then refitted on
every snapshot, the latest included, with isotonic calibration (cross-fitted by
customer) for scoring: the most recent behaviour is the most telling.

Besides the SQL features, each snapshot carries the BG/NBD probability of being
alive and expected orders in the window, fitted on that snapshot's own buyers (so
they are as point in time as the features they come from).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from ml.btyd import BetaGeoModel
from ml.config import PredictionConfig
from ml.evaluation import score_metrics
from ml.features import FEATURE_COLUMNS

BTYD_FEATURES: tuple[str, ...] = ("bgnbd_p_alive", "bgnbd_expected_orders")
MODEL_FEATURES: tuple[str, ...] = (*FEATURE_COLUMNS, *BTYD_FEATURES)

FeatureSource = Callable[[datetime], pd.DataFrame]


@dataclass(frozen=True)
class Snapshot:
    """Buyers' features at ``cutoff`` and whether they bought in the window after."""

    cutoff: datetime
    window_days: int
    frame: pd.DataFrame  # customer_id, features, label, window_orders
    window_buyers: frozenset[str] = frozenset()  # everyone who bought in the window
    bgnbd: BetaGeoModel | None = None  # fitted on this snapshot's buyers


@dataclass(frozen=True)
class PropensityFit:
    """A selected, calibrated classifier and its out-of-time validation."""

    algorithm: str
    estimator: CalibratedClassifierCV  # refitted on every snapshot
    features: tuple[str, ...]  # columns the estimator takes, in order
    validation: pd.DataFrame  # customer_id, label, one score column per scorer
    validation_metrics: dict[str, dict[str, float]]
    validation_cutoff: datetime
    window_days: int
    training_rows: int
    data_hash: str


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """log1p that keeps the sign (for trend features in [-1, 1] and money)."""
    return np.sign(values) * np.log1p(np.abs(values))


def candidates(random_state: int) -> dict[str, BaseEstimator]:
    """The two candidate classifiers, unfitted.

    The boosting settings (shallow trees, large leaves) were picked on Online
    Retail's out-of-time validation; deeper trees overfit the few thousand buyers.
    """
    return {
        "hist_gradient_boosting": HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=7,
            min_samples_leaf=100,
            l2_regularization=1.0,
            random_state=random_state,
        ),
        "logistic_regression": make_pipeline(
            SimpleImputer(
                strategy="median", add_indicator=True, keep_empty_features=True
            ),
            FunctionTransformer(signed_log1p),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000),
        ),
    }


def snapshot_cutoffs(
    as_of: datetime, window_days: int, config: PredictionConfig
) -> list[datetime]:
    """Cutoffs of the labelled snapshots, latest first."""
    return [
        as_of - timedelta(days=window_days + j * config.step_days)
        for j in range(config.training_snapshots)
    ]


def make_snapshot(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    cutoff: datetime,
    window_days: int,
    config: PredictionConfig,
) -> Snapshot:
    """Join labels onto the eligible buyers of a feature table."""
    eligible = features.loc[features["frequency"] >= config.min_orders_for_model]
    frame = eligible.merge(
        labels.loc[:, ["customer_id", "window_orders"]], on="customer_id", how="left"
    )
    frame["window_orders"] = frame["window_orders"].fillna(0).astype(float)
    frame["label"] = (frame["window_orders"] > 0).astype(int)
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    bgnbd = fit_bgnbd(frame)
    return Snapshot(
        cutoff,
        window_days,
        with_btyd_features(frame, window_days, bgnbd),
        frozenset(labels["customer_id"].astype(str)),
        bgnbd,
    )


def rfm_score(frame: pd.DataFrame) -> np.ndarray:
    """r + f + m quintile scores (1-5 each) within the frame."""

    def quintile(values: pd.Series) -> np.ndarray:
        ranks = values.rank(method="average", pct=True).to_numpy()
        return np.ceil(ranks * 5).clip(1, 5)

    return (
        quintile(-frame["recency_days"])
        + quintile(frame["frequency"])
        + quintile(frame["monetary"])
    )


def btyd_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD inputs (x, t_x, T in days) from a feature table of buyers."""
    age = frame["tenure_days"].to_numpy(dtype=float)
    recency = np.clip(age - frame["recency_days"].to_numpy(dtype=float), 0, None)
    frequency = np.clip(frame["purchase_days"].to_numpy(dtype=float) - 1, 0, None)
    return frequency, recency, age


def fit_bgnbd(buyers: pd.DataFrame) -> BetaGeoModel | None:
    """BG/NBD fitted on a feature table of buyers; None when the fit fails (too
    few or degenerate buyers)."""
    x, t_x, age = btyd_arrays(buyers)
    try:
        return BetaGeoModel(penalizer=0.001).fit(x, t_x, age)
    except (ValueError, RuntimeError):
        return None


def with_btyd_features(
    frame: pd.DataFrame, window_days: int, model: BetaGeoModel | None
) -> pd.DataFrame:
    """``frame`` (buyers) plus :data:`BTYD_FEATURES` for a window of ``window_days``
    from a fitted ``model``; NaN without one, which the classifiers accept."""
    if model is None:
        return frame.assign(**{column: np.nan for column in BTYD_FEATURES})
    x, t_x, age = btyd_arrays(frame)
    return frame.assign(
        bgnbd_p_alive=model.probability_alive(x, t_x, age),
        bgnbd_expected_orders=model.expected_purchases(window_days, x, t_x, age),
    )


def fit_propensity(
    snapshots: list[Snapshot], config: PredictionConfig
) -> PropensityFit | None:
    """Select and calibrate a classifier; None when data are too thin.

    Parameters
    ----------
    snapshots
        Labelled snapshots, latest first; the first validates, the rest train.
    config
        Thresholds and random state.

    Returns
    -------
    PropensityFit or None
        None when the training snapshots hold fewer buyers or positives than
        ``min_training_customers`` / ``min_training_positives``, or one class only.
    """
    rows = min(sum(len(s.frame) for s in snapshots), config.max_training_rows)
    with threadpool_limits(limits=config.threads_for(rows), user_api="openmp"):
        return _fit_propensity(snapshots, config)


def _fit_propensity(
    snapshots: list[Snapshot], config: PredictionConfig
) -> PropensityFit | None:
    validation, *older = snapshots
    train = _stack(_before(validation, older), config)
    if not _trainable(train, config) or not _trainable(validation.frame, config, 1):
        return None
    # Columns that are missing everywhere (a source without any data) are dropped.
    columns = [c for c in MODEL_FEATURES if train[c].notna().any()]
    x_train = train.loc[:, columns].to_numpy(dtype=float)
    x_valid = validation.frame.loc[:, columns].to_numpy(dtype=float)
    y_valid = validation.frame["label"].to_numpy()

    # Each candidate is calibrated on the training snapshots and judged on the
    # later validation snapshot; the backtests report these judged models.
    scores: dict[str, np.ndarray] = {}
    metrics: dict[str, dict[str, float]] = {}
    fitted: dict[str, CalibratedClassifierCV] = {}
    for name, estimator in candidates(config.random_state).items():
        fitted[name] = _calibrated(estimator, train, config).fit(
            x_train, train["label"].to_numpy()
        )
        probability = predict_in_chunks(fitted[name], x_valid, config)
        scores[name] = probability
        metrics[name] = score_metrics(y_valid, probability, probability)
    algorithm = max(metrics, key=lambda name: (metrics[name]["auc"], name))
    estimator = fitted[algorithm]
    full = train
    if config.refit_on_all_snapshots:
        full = _stack(snapshots, config)
        estimator = _calibrated(
            candidates(config.random_state)[algorithm], full, config
        ).fit(full.loc[:, columns].to_numpy(dtype=float), full["label"].to_numpy())

    table = validation.frame.loc[:, ["customer_id", "label"]].copy()
    for name, probability in scores.items():
        table[name] = probability
    return PropensityFit(
        algorithm=algorithm,
        estimator=estimator,
        features=tuple(columns),
        validation=table,
        validation_metrics=metrics,
        validation_cutoff=validation.cutoff,
        window_days=validation.window_days,
        training_rows=len(full),
        data_hash=frame_hash(full.loc[:, ["customer_id", *MODEL_FEATURES, "label"]]),
    )


def predict_in_chunks(
    estimator: CalibratedClassifierCV, x: np.ndarray, config: PredictionConfig
) -> np.ndarray:
    """Probability of the positive class, ``config.scoring_chunk_rows`` rows at a
    time: the logistic pipeline's imputer, log and scaler each copy what they are
    given, and at 5,000,000 customers the whole validation snapshot (3.4 million
    buyers) at once raised the peak by 4.4 GB."""
    rows = config.scoring_chunk_rows
    return np.concatenate(
        [
            estimator.predict_proba(x[start : start + rows])[:, 1]
            for start in range(0, len(x), rows)
        ]
        or [np.empty(0)]
    )


def baseline_scores(
    snapshot: Snapshot, config: PredictionConfig
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Scores (and probabilities, where the baseline gives them) of the baselines
    on one snapshot: recency only, frequency only, RFM score and BG/NBD."""
    frame = snapshot.frame
    result: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "recency_only": (-frame["recency_days"].to_numpy(dtype=float), None),
        "frequency_only": (frame["frequency"].to_numpy(dtype=float), None),
        "rfm_score": (rfm_score(frame), None),
    }
    model = snapshot.bgnbd or fit_bgnbd(frame)
    if model is not None:
        x, t_x, age = btyd_arrays(frame)
        probability = model.probability_purchase(snapshot.window_days, x, t_x, age)
        result["bg_nbd"] = (probability, probability)
    return result


def frame_hash(frame: pd.DataFrame) -> str:
    """A short, order-sensitive content hash of a DataFrame."""
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    )
    return digest.hexdigest()[:12]


def _before(validation: Snapshot, older: list[Snapshot]) -> list[Snapshot]:
    """The older snapshots whose label windows end by the validation cutoff.

    When snapshots are closer together than their window, the nearest ones overlap
    the validation window; they are left out of selection. If every one overlaps,
    all are used (validation is then optimistic, not leaky about the as-of date).
    """
    clear = [
        s
        for s in older
        if s.cutoff + timedelta(days=s.window_days) <= validation.cutoff
    ]
    return clear or older


def _trainable(frame: pd.DataFrame, config: PredictionConfig, scale: int = 1) -> bool:
    positives = int(frame["label"].sum()) if len(frame) else 0
    return (
        len(frame) >= config.min_training_customers // scale
        and positives >= config.min_training_positives // scale
        and positives < len(frame)
    )


def _stack(snapshots: list[Snapshot], config: PredictionConfig) -> pd.DataFrame:
    """The snapshots' rows, at most ``max_training_rows`` of them.

    Above the limit each snapshot is sampled (seeded) in proportion to its size
    before stacking, so the whole stack is never held in memory at once.
    """
    total = sum(len(s.frame) for s in snapshots)
    if total <= config.max_training_rows:
        return pd.concat([s.frame for s in snapshots], ignore_index=True)
    share = config.max_training_rows / total
    return pd.concat(
        [
            s.frame.sample(
                n=int(len(s.frame) * share), random_state=config.random_state
            )
            for s in snapshots
        ],
        ignore_index=True,
    )


def _calibrated(
    estimator: BaseEstimator, frame: pd.DataFrame, config: PredictionConfig
) -> CalibratedClassifierCV:
    """Isotonic calibration cross-fitted over customers (sigmoid on small data).

    Above ``config.cross_fit_calibration_below`` rows a single split (fit on two
    thirds of the customers, calibrate on the rest) replaces three folds: a third
    of the fitting time, and a third of a large table calibrates just as well.
    """
    # Integer codes in the ids' sorted order: the same folds as the ids
    # themselves, without sorting a million strings for every split.
    groups, _ = pd.factorize(frame["customer_id"], sort=True)
    splits = list(GroupKFold(n_splits=3).split(np.zeros(len(frame)), groups=groups))
    if len(frame) >= config.cross_fit_calibration_below:
        splits = splits[:1]
    method = "isotonic" if len(frame) >= 3_000 else "sigmoid"
    return CalibratedClassifierCV(clone(estimator), method=method, cv=splits)
