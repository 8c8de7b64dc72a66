"""How right person resolution is: pairwise precision and recall against known truth.

A pair of records that truly belong to one person and are resolved to one person is
correct. Precision is the share of resolved pairs that are correct (two people merged
lowers it), recall the share of true pairs that are resolved together (one person
split lowers it). Pairs are counted from group sizes (n records make n(n-1)/2 pairs),
never listed, so a million records cost one aggregation.

The test suite and ``bench/identity.py`` both measure through this module: on the
simulator's ground truth and on the FEBRL benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from mailroom.datasets import path_literal
from mailroom.dbt_cli import run_dbt

# The models person resolution needs, from the raw tables to the identity map.
IDENTITY_MODELS = "+customer_identity_map customer_merge_log"


@dataclass(frozen=True)
class PairwiseScores:
    """Pair counts of one resolution against the truth."""

    true_pairs: int
    resolved_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.resolved_pairs if self.resolved_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  "
            f"F1 {self.f1:.4f}  ({self.correct_pairs:,} of {self.true_pairs:,} true "
            f"pairs found, {self.resolved_pairs - self.correct_pairs:,} wrong pairs)"
        )


def pairwise_scores(con: duckdb.DuckDBPyConnection, records: str) -> PairwiseScores:
    """Score ``records``, a query with one row per record: resolved_id, true_id."""

    def pairs(group_by: str) -> str:
        return (
            f"select coalesce(sum(n * (n - 1) // 2), 0) from "
            f"(select count(*) as n from records group by {group_by})"
        )

    true_pairs, resolved_pairs, correct_pairs = con.execute(
        f"""
        with records as ({records})
        select ({pairs("true_id")}), ({pairs("resolved_id")}),
            ({pairs("resolved_id, true_id")})
        """
    ).fetchall()[0]
    return PairwiseScores(int(true_pairs), int(resolved_pairs), int(correct_pairs))


def simulator_scores(
    con: duckdb.DuckDBPyConnection, ground_truth: Path
) -> PairwiseScores:
    """Every identifier in ``marts.customer_identity_map`` against the simulator's
    people (``ground_truth/identifiers.parquet``): a record is one identifier value of
    one true person."""
    truth = path_literal(Path(ground_truth) / "identifiers.parquet")
    return pairwise_scores(
        con,
        f"""
        select distinct
            map.id_type, map.id_value, map.customer_id as resolved_id,
            truth.person_id as true_id
        from marts.customer_identity_map as map
        inner join read_parquet({truth}) as truth
            on truth.source = map.source_name
            and truth.id_type = map.id_type
            and truth.normalized_value = map.id_value
        """,
    )


def febrl_scores(con: duckdb.DuckDBPyConnection) -> PairwiseScores:
    """The FEBRL contacts (``rec-N-...`` contact ids) against their person N."""
    return pairwise_scores(
        con,
        """
        select customer_id as resolved_id, split_part(id_value, '-', 2) as true_id
        from marts.customer_identity_map
        where id_type = 'contact_id'
        """,
    )


def build_identities(
    warehouse: Path, as_of: str, target_path: Path, vars_yaml: str = "{}"
) -> None:
    """``dbt build`` the identity models (and their tests) on ``warehouse``;
    ``vars_yaml`` overrides dbt vars (thresholds, weights)."""
    run_dbt(
        "build",
        "--select",
        IDENTITY_MODELS,
        "--exclude",
        "test_type:unit",
        # Only tests whose every parent is built (not those reaching dim_customers).
        "--indirect-selection",
        "cautious",
        "--vars",
        vars_yaml,
        warehouse=warehouse,
        as_of=as_of,
        target_path=target_path,
    )
