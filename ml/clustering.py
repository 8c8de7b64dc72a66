"""Behavioural clusters of buyers from their RFM values (scikit-learn K-Means).

Features are log-scaled recency, frequency and monetary value, standardized. The
number of clusters is the one with the best silhouette score on a sample, within a
configured range. Cluster ids are ordered by value (0 = highest mean monetary) and
clusters are named in plain words from their centroids, so the same input always
gives the same ids, names and distances.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

FEATURES = ("recency_days", "frequency", "monetary")


@dataclass(frozen=True)
class ClusteringConfig:
    """Settings of the clustering step."""

    k_min: int = 3
    k_max: int = 6
    silhouette_sample: int = 5_000
    random_state: int = 42

    def __post_init__(self) -> None:
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError(
                f"cluster range {self.k_min}..{self.k_max} is invalid: "
                "k_min must be at least 2 and at most k_max"
            )


@dataclass(frozen=True)
class ClusteringResult:
    """Per-customer assignments plus a per-cluster profile and the chosen k."""

    assignments: pd.DataFrame
    profile: pd.DataFrame
    k: int
    silhouette: float
    model_version: str


def cluster_customers(
    rfm: pd.DataFrame, config: ClusteringConfig | None = None
) -> ClusteringResult:
    """Cluster buyers on their RFM values.

    Parameters
    ----------
    rfm
        One row per buyer with ``customer_id`` and the columns in ``FEATURES``.
    config
        Range of k, silhouette sample size and random state.

    Returns
    -------
    ClusteringResult
        ``assignments`` has customer_id, cluster_id, cluster_name, distance,
        model_version; ``profile`` has one row per cluster with its size and means.
    """
    config = config or ClusteringConfig()
    frame = (
        rfm.loc[:, ["customer_id", *FEATURES]]
        .dropna()
        .sort_values("customer_id")
        .reset_index(drop=True)
    )
    features = frame.loc[:, FEATURES].to_numpy(dtype=float)
    k_max = min(config.k_max, len(frame) - 1)
    if k_max < config.k_min:
        raise ValueError(
            f"{len(frame)} buyers are too few to form {config.k_min} clusters"
        )

    fitted = {k: _fit(features, k, config) for k in range(config.k_min, k_max + 1)}
    scores = {
        k: _silhouette(pipeline, features, config) for k, pipeline in fitted.items()
    }
    k = max(scores, key=lambda candidate: (scores[candidate], -candidate))
    pipeline = fitted[k]

    scaled = pipeline[:-1].transform(features)
    kmeans: KMeans = pipeline[-1]
    raw_labels = kmeans.predict(scaled)
    distances = kmeans.transform(scaled)[np.arange(len(scaled)), raw_labels]

    means = pd.DataFrame(features, columns=FEATURES).groupby(raw_labels).mean()
    order = means["monetary"].sort_values(ascending=False).index
    relabel = {raw: new for new, raw in enumerate(order)}
    names = _names(kmeans.cluster_centers_, order)
    version = _model_version(features, k, config)

    labels = np.array([relabel[label] for label in raw_labels])
    assignments = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "cluster_id": labels,
            "cluster_name": [names[label] for label in labels],
            "distance": distances.round(6),
            "model_version": version,
        }
    )
    profile = (
        assignments.join(frame.loc[:, FEATURES])
        .groupby(["cluster_id", "cluster_name"], as_index=False)
        .agg(
            customers=("customer_id", "size"),
            mean_recency_days=("recency_days", "mean"),
            mean_frequency=("frequency", "mean"),
            mean_monetary=("monetary", "mean"),
        )
        .round(2)
    )
    return ClusteringResult(assignments, profile, k, round(scores[k], 4), version)


def _fit(features: np.ndarray, k: int, config: ClusteringConfig) -> Pipeline:
    return make_pipeline(
        FunctionTransformer(np.log1p),
        StandardScaler(),
        KMeans(n_clusters=k, n_init=4, random_state=config.random_state),
    ).fit(features)


def _silhouette(
    pipeline: Pipeline, features: np.ndarray, config: ClusteringConfig
) -> float:
    scaled = pipeline[:-1].transform(features)
    return float(
        silhouette_score(
            scaled,
            pipeline[-1].labels_,
            sample_size=min(config.silhouette_sample, len(scaled)),
            random_state=config.random_state,
        )
    )


def _names(centers: np.ndarray, order: pd.Index) -> dict[int, str]:
    """Plain-word names from standardized centroids, indexed by the new cluster id."""
    names: dict[int, str] = {}
    for new_id, raw_id in enumerate(order):
        recency, frequency, monetary = centers[raw_id]
        words = [
            _word(recency, "recent", "cooling", "lapsed", reverse=True),
            _word(frequency, "frequent", "occasional", "one-off"),
            _word(monetary, "high-value", "mid-value", "low-value"),
            "buyers",
        ]
        name = " ".join(words)
        if name in names.values():
            name = f"{name} ({new_id})"
        names[new_id] = name
    return names


def _word(z: float, high: str, middle: str, low: str, reverse: bool = False) -> str:
    z = -z if reverse else z
    if z > 0.5:
        return high
    if z < -0.5:
        return low
    return middle


def _model_version(features: np.ndarray, k: int, config: ClusteringConfig) -> str:
    digest = hashlib.sha256(features.tobytes())
    digest.update(repr(config).encode())
    return f"rfm-kmeans-k{k}-{digest.hexdigest()[:10]}"
