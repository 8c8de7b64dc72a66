"""Clustering: deterministic ids, names and distances for the same input."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.clustering import cluster_customers


def _buyers(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "recency_days": np.choose(groups, [5, 90, 400]) + rng.integers(0, 10, n),
            "frequency": np.choose(groups, [12, 3, 1]) + rng.integers(0, 2, n),
            "monetary": np.choose(groups, [2000.0, 300.0, 40.0])
            * rng.uniform(0.8, 1.2, n),
        }
    )


def test_same_input_gives_same_clusters_in_any_row_order() -> None:
    buyers = _buyers()
    first = cluster_customers(buyers).assignments
    second = cluster_customers(buyers.sample(frac=1, random_state=1)).assignments
    pd.testing.assert_frame_equal(first, second)


def test_clusters_are_ordered_by_value_and_named_in_words() -> None:
    result = cluster_customers(_buyers())
    assert 3 <= result.k <= 6
    profile = result.profile.sort_values("cluster_id")
    assert profile["mean_monetary"].is_monotonic_decreasing
    assert profile["cluster_name"].iloc[0] == "recent frequent high-value buyers"
    assert profile["cluster_name"].is_unique
