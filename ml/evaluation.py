"""Backtest metrics, a lift/calibration table by decile and an optional chart."""

from __future__ import annotations

import importlib.util
import io
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score


def top_decile_lift(y_true: np.ndarray, score: np.ndarray) -> float:
    """Positive rate among the top 10 % by score divided by the overall rate.

    Ties are broken by position, so sort rows deterministically (by customer id)
    before calling.
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    if len(y) == 0 or y.mean() == 0:
        return float("nan")
    top = max(1, int(np.ceil(len(y) / 10)))
    order = np.argsort(-s, kind="stable")[:top]
    return float(y[order].mean() / y.mean())


def expected_calibration_error(
    y_true: np.ndarray, probability: np.ndarray, bins: int = 10
) -> float:
    """Weighted mean |observed rate - mean probability| over equal-width bins."""
    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    if len(y) == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(error)


def score_metrics(
    y_true: np.ndarray, score: np.ndarray, probability: np.ndarray | None = None
) -> dict[str, float]:
    """AUC, PR-AUC, top-decile lift and (when probabilities are given) ECE."""
    y = np.asarray(y_true, dtype=int)
    s = np.asarray(score, dtype=float)
    both_classes = 0 < y.sum() < len(y)
    return {
        "auc": float(roc_auc_score(y, s)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, s)) if both_classes else np.nan,
        "top_decile_lift": top_decile_lift(y, s),
        "calibration_error": (
            expected_calibration_error(y, probability)
            if probability is not None
            else float("nan")
        ),
        "n_customers": len(y),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
    }


def decile_table(
    y_true: np.ndarray, probability: np.ndarray, model: str = "model"
) -> pd.DataFrame:
    """One row per score decile (1 = highest): customers, mean probability,
    observed rate, lift and cumulative share of positives captured."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probability, dtype=float)
    order = np.argsort(-p, kind="stable")
    decile = np.empty(len(p), dtype=int)
    decile[order] = np.arange(len(p)) * 10 // max(len(p), 1) + 1
    frame = pd.DataFrame({"decile": decile, "y": y, "p": p})
    table = (
        frame.groupby("decile", as_index=False)
        .agg(
            customers=("y", "size"), mean_probability=("p", "mean"), rate=("y", "mean")
        )
        .assign(model=model)
    )
    base = y.mean() if len(y) else np.nan
    table["lift"] = table["rate"] / base if base else np.nan
    positives = frame.groupby("decile")["y"].sum().cumsum().to_numpy()
    table["cumulative_capture"] = positives / max(y.sum(), 1)
    return table.loc[
        :,
        [
            "model",
            "decile",
            "customers",
            "mean_probability",
            "rate",
            "lift",
            "cumulative_capture",
        ],
    ]


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (charts are skipped otherwise)."""
    return importlib.util.find_spec("matplotlib") is not None


def render_lift_calibration_png(deciles: pd.DataFrame) -> bytes | None:
    """A two-panel PNG (lift by decile, calibration) or None without matplotlib."""
    if not matplotlib_available() or deciles.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (lift_axis, calibration_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for model, table in deciles.groupby("model", sort=True):
        lift_axis.plot(table["decile"], table["lift"], marker="o", label=model)
        calibration_axis.plot(
            table["mean_probability"], table["rate"], marker="o", label=model
        )
    lift_axis.axhline(1.0, color="grey", linewidth=0.8)
    lift_axis.set(xlabel="decile (1 = highest score)", ylabel="lift", title="Lift")
    calibration_axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    calibration_axis.set(
        xlabel="mean predicted probability",
        ylabel="observed rate",
        title="Calibration",
    )
    lift_axis.legend()
    return figure_png(figure, dpi=100)


def figure_png(figure: Any, dpi: int = 90) -> bytes:
    """A matplotlib figure as PNG bytes (laid out, no software tag), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def compare_with_baseline(
    backtests: pd.DataFrame, baseline: str = "recency_only"
) -> pd.DataFrame:
    """Each model row of ``backtests`` next to one baseline on the same snapshot.

    Returns one row per model with its AUC, the baseline's AUC and ``beats``
    (strictly higher AUC), for checks that fail when a model is no better than the
    naive baseline.
    """
    keys = ["horizon_days", "cutoff_date"]
    models = backtests.loc[~backtests["baseline"].astype(bool), ["model", *keys, "auc"]]
    reference = backtests.loc[
        backtests["baseline"].astype(bool) & (backtests["model"] == baseline),
        [*keys, "auc"],
    ].rename(columns={"auc": "baseline_auc"})
    compared = models.merge(reference, on=keys, how="left")
    compared["beats"] = compared["auc"] > compared["baseline_auc"]
    return compared.reset_index(drop=True)
