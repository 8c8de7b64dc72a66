"""What a run reports about the tables dbt built: a row count for each, and for a few
the figures people open the asset for first (quarantine reasons, reconciliation,
segment sizes, the RFM grid as a heatmap, a preview of the personalization mart).

Plain functions over a DuckDB connection: the orchestration layer turns them into
materialization metadata. Nothing here returns a person's name, email or phone: the
previews show ids, segments and scores only.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from mailroom.dashboard.data import QUERIES

#: Rows shown in a preview table.
PREVIEW_ROWS = 10

#: Titled tables, by the table (schema, name) they describe. Each query reads only
#: that table, and every row is an aggregate or a person's non-personal fields; the
#: segment sizes and the RFM grid are read as the dashboard reads them.
TABLE_QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("quality", "quarantined_rows"): {
        "quarantine_by_reason": """
            select source_name, quarantine_reason, count(*) as rows
            from quality.quarantined_rows
            group by all
            order by rows desc, source_name, quarantine_reason
        """,
    },
    ("quality", "source_reconciliation"): {
        "reconciliation": """
            select source_name, raw_rows, staged_rows, quarantined_rows,
                raw_rows = staged_rows + quarantined_rows as adds_up
            from quality.source_reconciliation
            order by source_name
        """,
    },
    ("marts", "fct_segment_sizes"): {"segment_sizes": QUERIES["segment_sizes"]},
    ("marts", "fct_customer_segments"): {
        "segment_sizes": """
            select segment_type, segment, count(*) as customers
            from marts.fct_customer_segments
            group by all
            order by segment_type, customers desc, segment
        """,
    },
    ("marts", "fct_rfm_grid"): {"rfm_grid": QUERIES["rfm_grid"]},
    ("marts", "personalization"): {
        "preview": f"""
            select customer_id, rfm_segment, cluster_name, engagement_tier,
                consent_status, due_journey, preferred_category,
                round(purchase_probability, 3) as purchase_probability,
                churn_band, prediction_source
            from marts.personalization
            order by customer_id
            limit {PREVIEW_ROWS}
        """,
    },
}


@dataclass
class TableFigures:
    """Figures of one table: its row count (None for a view, which is not counted
    because that would run its query), titled tables and PNG charts."""

    row_count: int | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    charts: dict[str, bytes] = field(default_factory=dict)


def table_figures(
    con: duckdb.DuckDBPyConnection, relations: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], TableFigures]:
    """Figures of each (schema, name) in ``relations`` that exists in the warehouse."""
    kinds = dict(
        con.execute(
            "select table_schema || '.' || table_name, table_type "
            "from information_schema.tables"
        ).fetchall()
    )
    figures = {}
    for schema, name in relations:
        kind = kinds.get(f"{schema}.{name}")
        if kind is None:
            continue
        found = TableFigures()
        if kind == "BASE TABLE":
            (found.row_count,) = con.execute(
                f'select count(*) from "{schema}"."{name}"'
            ).fetchone()
        for title, sql in TABLE_QUERIES.get((schema, name), {}).items():
            found.tables[title] = con.execute(sql).df()
        if "rfm_grid" in found.tables:
            png = rfm_heatmap_png(found.tables["rfm_grid"])
            if png:
                found.charts["rfm_heatmap"] = png
        figures[(schema, name)] = found
    return figures


def rfm_heatmap_png(grid: pd.DataFrame) -> bytes | None:
    """A heatmap of people per recency x frequency score, each cell labelled with
    its count and main segment; None for an empty grid."""
    if grid.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = grid.pivot_table(
        index="r_score", columns="f_score", values="customers", aggfunc="sum"
    ).sort_index(ascending=False)
    segments = grid.set_index(["r_score", "f_score"])["main_segment"]
    figure, axis = plt.subplots(figsize=(7, 5))
    image = axis.imshow(counts.to_numpy(dtype=float), cmap="Blues", aspect="auto")
    axis.set_xticks(range(len(counts.columns)), [str(f) for f in counts.columns])
    axis.set_yticks(range(len(counts.index)), [str(r) for r in counts.index])
    axis.set(xlabel="frequency score", ylabel="recency score", title="People by RFM")
    # Dark cells (the upper half of the colour scale) get white labels.
    middle = (counts.min().min() + counts.max().max()) / 2
    for row, r_score in enumerate(counts.index):
        for column, f_score in enumerate(counts.columns):
            people = counts.loc[r_score, f_score]
            if pd.isna(people):
                continue
            axis.text(
                column,
                row,
                f"{int(people):,}\n{segments.get((r_score, f_score), '')}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if people > middle else "black",
            )
    figure.colorbar(image, ax=axis, label="people")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
