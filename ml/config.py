"""Typed, validated settings of the prediction step (propensity, churn, CLV, recs)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class PredictionConfig:
    """Settings of :func:`ml.predict.run_predictions`.

    Parameters
    ----------
    horizon_days
        Purchase-propensity horizon: "buys within the next N days".
    churn_window_days
        Churn is "no purchase within the next N days".
    clv_horizon_days
        Horizon of the customer lifetime value (expected revenue).
    training_snapshots
        Labelled snapshots used for training; the latest one is the time-based
        validation snapshot, the older ones train the candidates. At least 2.
        Older snapshots are only built while the training snapshots so far (all
        but the latest) hold fewer than ``max_training_rows`` buyers; with a
        million customers one older snapshot does.
    snapshot_step_days
        Days between training snapshots; ``None`` means ``horizon_days`` (label
        windows then never overlap).
    refit_on_all_snapshots
        Refit the selected classifier on every snapshot, the validation one
        included, before scoring (the backtests still report the model as judged).
    min_orders_for_model
        Buyers with fewer revenue orders before the as-of date are scored by the
        probabilistic (BG/NBD) model instead of the classifier.
    min_training_customers, min_training_positives
        A classifier is only trained when the training snapshots hold at least this
        many buyers and positive labels; otherwise buyers fall back to BG/NBD.
    max_training_rows
        Deterministic subsample of the training rows above this size (speed).
    cross_fit_calibration_below
        Training tables smaller than this are calibrated by three-fold cross-fitting;
        larger ones by a single split (a third of the fitting time).
    scoring_chunk_rows
        Buyers scored per batch (bounds the memory of scoring).
    churn_bands
        ``(low_below, high_from)``: churn probability below the first is "low", at or
        above the second "high", in between "medium".
    n_recommendations
        Recommendations per customer.
    rule_window_days, rule_min_customers, rule_max_products, rule_min_lift
        Co-purchase rules "bought A, then B within N days", kept when at least
        ``rule_min_customers`` people followed them and their lift exceeds
        ``rule_min_lift``, among the most-bought ``rule_max_products`` products.
    popular_window_days, view_window_days
        Windows for "popular in category" and "viewed, not bought".
    replenishable_categories
        Categories whose products may be recommended again to people who bought them.
    recommendation_batch_customers
        Customers whose recommendations are built by one statement (bounds the
        memory and temporary disk of the candidate windows; more customers make
        more batches, each one more pass over the purchases and web events).
    model_threads
        OpenMP threads for gradient boosting; ``None`` (the default) means one
        thread for tables under ``parallel_model_rows`` rows and every CPU this
        process may use above. On a quiet 2-CPU machine two threads fit 250,000
        rows in 4.1 s instead of 7.5 s with the same trees; on small tables in a
        busy container extra threads were measured many times slower (2.1 s vs
        27 s for 9,500 rows), and there is little to gain.
    parallel_model_rows
        Table size from which ``model_threads=None`` uses every CPU.
    random_state
        Seed of every randomized step.
    """

    horizon_days: int = 30
    churn_window_days: int = 90
    clv_horizon_days: int = 365
    training_snapshots: int = 3
    snapshot_step_days: int | None = None
    refit_on_all_snapshots: bool = True
    min_orders_for_model: int = 1
    min_training_customers: int = 200
    min_training_positives: int = 20
    max_training_rows: int = 250_000
    cross_fit_calibration_below: int = 100_000
    scoring_chunk_rows: int = 200_000
    churn_bands: tuple[float, float] = (0.4, 0.7)
    n_recommendations: int = 3
    rule_window_days: int = 30
    rule_min_customers: int = 3
    rule_max_products: int = 500
    rule_min_lift: float = 1.0
    popular_window_days: int = 90
    view_window_days: int = 90
    replenishable_categories: tuple[str, ...] = ()
    recommendation_batch_customers: int = 1_000_000
    model_threads: int | None = None
    parallel_model_rows: int = 50_000
    random_state: int = 42

    def __post_init__(self) -> None:
        for name in (
            "horizon_days",
            "churn_window_days",
            "clv_horizon_days",
            "min_orders_for_model",
            "n_recommendations",
            "rule_window_days",
            "rule_min_customers",
            "rule_max_products",
            "popular_window_days",
            "view_window_days",
            "max_training_rows",
            "scoring_chunk_rows",
            "recommendation_batch_customers",
            "cross_fit_calibration_below",
            "parallel_model_rows",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.model_threads is not None and (
            not isinstance(self.model_threads, int) or self.model_threads < 1
        ):
            raise ValueError(
                "model_threads must be a positive integer or None (automatic), "
                f"got {self.model_threads!r}"
            )
        if not isinstance(self.training_snapshots, int) or self.training_snapshots < 2:
            raise ValueError(
                "training_snapshots must be an integer of at least 2 (one snapshot "
                f"validates, the others train), got {self.training_snapshots!r}"
            )
        if self.snapshot_step_days is not None and self.snapshot_step_days < 1:
            raise ValueError(
                "snapshot_step_days must be a positive integer or None (= horizon), "
                f"got {self.snapshot_step_days!r}"
            )
        if self.min_training_customers < 2 or self.min_training_positives < 1:
            raise ValueError(
                "min_training_customers must be at least 2 and "
                "min_training_positives at least 1"
            )
        low, high = self.churn_bands
        if not 0.0 < low < high < 1.0:
            raise ValueError(
                f"churn_bands {self.churn_bands!r} must be two thresholds with "
                "0 < low < high < 1, e.g. (0.4, 0.7)"
            )
        if isinstance(self.replenishable_categories, str):
            raise ValueError(
                "replenishable_categories must be a tuple of category names, "
                f"not the string {self.replenishable_categories!r}"
            )

    def threads_for(self, rows: int) -> int:
        """OpenMP threads for fitting or scoring a table of ``rows`` rows."""
        if self.model_threads is not None:
            return self.model_threads
        if rows < self.parallel_model_rows:
            return 1
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1

    @property
    def step_days(self) -> int:
        """Days between training snapshots."""
        return self.snapshot_step_days or self.horizon_days
