"""Read what the dashboard shows from the warehouse: aggregate tables only.

Every read opens its own short-lived, read-only DuckDB connection and closes it at
once, so the dashboard never holds the file a pipeline run needs. DuckDB admits one
process while another writes: when a run holds the file, ``load`` raises
``WarehouseBusy`` with a message to show instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

#: The tables the dashboard reads, by what it calls them. None holds a person:
#: each row is a segment, a grid cell, a month, a cluster, a model or a variant.
TABLES = {
    "segment_sizes": "marts.fct_segment_sizes",
    "rfm_grid": "marts.fct_rfm_grid",
    "orders_monthly": "marts.fct_orders_monthly",
    "campaigns": "marts.fct_campaign_variants",
    "clusters": "ml.customer_cluster_profiles",
    "backtests": "ml.model_backtests",
}

QUERIES = {
    "segment_sizes": f"""
        select segment_type, segment, customers, sendable_customers, share_of_people,
            as_of_date
        from {TABLES["segment_sizes"]}
        order by segment_type, customers desc, segment
    """,
    "rfm_grid": f"""
        select r_score, f_score, main_segment, customers, average_monetary,
            average_recency_days
        from {TABLES["rfm_grid"]}
        order by r_score desc, f_score
    """,
    "orders_monthly": f"""
        select order_month, orders, buying_customers, revenue
        from {TABLES["orders_monthly"]}
        order by order_month
    """,
    "campaigns": f"""
        select campaign_id, campaign_name, variant, is_control, sends, human_openers,
            machine_only_openers, clickers, converters, revenue, human_open_rate,
            click_rate, conversion_rate, conversion_rate_lift, p_value,
            lift_ci_lower, lift_ci_upper, is_significant, is_attribution_complete,
            first_sent_at
        from {TABLES["campaigns"]}
        order by first_sent_at desc, campaign_id, variant
    """,
    "clusters": f"select * from {TABLES['clusters']} order by cluster_id",
    # The latest run of every model: the backtests table keeps each run's rows.
    "backtests": f"""
        select model, baseline, horizon_days, cutoff_date, auc, pr_auc,
            top_decile_lift, calibration_error, n_customers, positive_rate,
            beats_baseline, run_at
        from {TABLES["backtests"]}
        where run_at = (select max(run_at) from {TABLES["backtests"]})
        order by horizon_days, baseline, auc desc
    """,
}


class DashboardUnavailable(RuntimeError):
    """The warehouse cannot be read now; the message says why and what to do."""


class WarehouseMissing(DashboardUnavailable):
    pass


class WarehouseBusy(DashboardUnavailable):
    pass


@dataclass(frozen=True)
class DashboardData:
    """The frames the page draws; a table the pipeline has not built yet is None."""

    warehouse: Path
    segment_sizes: pd.DataFrame | None
    rfm_grid: pd.DataFrame | None
    orders_monthly: pd.DataFrame | None
    campaigns: pd.DataFrame | None
    clusters: pd.DataFrame | None
    backtests: pd.DataFrame | None

    @property
    def as_of_date(self) -> str | None:
        if self.segment_sizes is None or self.segment_sizes.empty:
            return None
        return pd.Timestamp(self.segment_sizes["as_of_date"].max()).date().isoformat()

    def rfm_segment_sizes(self) -> pd.DataFrame | None:
        if self.segment_sizes is None:
            return None
        frame = self.segment_sizes
        return frame[frame["segment_type"] == "rfm"]

    def people(self) -> int | None:
        """Everyone has exactly one rfm segment: their count is the people's."""
        rfm = self.rfm_segment_sizes()
        return None if rfm is None else int(rfm["customers"].sum())

    def sendable_people(self) -> int | None:
        rfm = self.rfm_segment_sizes()
        return None if rfm is None else int(rfm["sendable_customers"].sum())


def load(warehouse: Path) -> DashboardData:
    """Read every dashboard table in one short read-only connection."""
    if not warehouse.exists():
        raise WarehouseMissing(
            f"No warehouse at {warehouse}. Run the pipeline first (`mailroom demo` "
            "or `mailroom run`), or point the dashboard at one with --home."
        )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise WarehouseBusy(
                f"The warehouse {warehouse} is in use by another process, most "
                "likely a pipeline run: DuckDB lets no one read the file while it "
                "is written. Reload this page when the run has finished."
            ) from None
        raise DashboardUnavailable(
            f"Cannot open the warehouse {warehouse}: {error}"
        ) from None
    with con:
        existing = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        try:
            frames = {
                name: con.execute(QUERIES[name]).df() if table in existing else None
                for name, table in TABLES.items()
            }
        except duckdb.Error as error:
            raise DashboardUnavailable(
                f"The warehouse {warehouse} does not hold the tables this dashboard "
                f"reads ({error.__class__.__name__}: {str(error).splitlines()[0]}). "
                "It was probably built by another Mailroom version: run the "
                "pipeline again (`mailroom run`)."
            ) from None
    return DashboardData(warehouse=warehouse, **frames)
