"""The dashboard page. `mailroom dashboard` serves it; Streamlit runs this file on
every visit, and each run reads the warehouse once, read-only, then lets it go.

Only aggregate tables are read (see ``data.TABLES``): segment sizes, the RFM grid,
monthly orders, cluster profiles, model backtests and campaign variants. No person
appears on screen.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from mailroom.dashboard.data import DashboardData, DashboardUnavailable, load
from mailroom.settings import Settings

#: Campaigns listed variant by variant, the latest first; the rates cover all.
RECENT_CAMPAIGNS = 10


def whole(value: object) -> str:
    """A count as the page shows it: 12,345."""
    return f"{int(value):,}"


def money(value: object) -> str:
    return f"{float(value):,.2f}"


def percent(value: object) -> str:
    return "" if pd.isna(value) else f"{float(value) * 100:.1f} %"


def decimal(value: object, digits: int = 3) -> str:
    return "" if pd.isna(value) else f"{float(value):.{digits}f}"


def yes_no(value: object) -> str:
    return "" if pd.isna(value) else ("yes" if bool(value) else "no")


def shown(frame: pd.DataFrame, columns: dict[str, tuple[str, object]]) -> pd.DataFrame:
    """The columns to show, renamed to their labels and formatted as text."""
    return pd.DataFrame(
        {
            label: frame[column].map(format_) if format_ else frame[column]
            for column, (label, format_) in columns.items()
        }
    )


def table(frame: pd.DataFrame) -> None:
    st.table(frame, hide_index=True)


def missing(what: str) -> None:
    st.info(f"No {what} yet: run the whole pipeline (`mailroom run`) to build it.")


def headline(data: DashboardData) -> None:
    people, sendable = data.people(), data.sendable_people()
    orders = data.orders_monthly
    campaigns = data.campaigns
    columns = st.columns(5)
    columns[0].metric("People", whole(people) if people is not None else "-")
    columns[1].metric("Sendable", whole(sendable) if sendable is not None else "-")
    if orders is not None:
        columns[2].metric("Revenue", money(orders["revenue"].sum()))
        columns[3].metric("Orders", whole(orders["orders"].sum()))
    if campaigns is not None:
        columns[4].metric("Campaign sends", whole(campaigns["sends"].sum()))


def segments(data: DashboardData) -> None:
    st.header("Segments")
    frame = data.segment_sizes
    if frame is None:
        missing("segments")
        return
    st.caption(
        "People per segment as of the run's date, and how many of them may be "
        "emailed (consent and suppression applied)."
    )
    chart = (
        alt.Chart(data.rfm_segment_sizes())
        .mark_bar()
        .encode(
            x=alt.X("customers:Q", title="people"),
            y=alt.Y("segment:N", sort="-x", title="RFM segment"),
            tooltip=["segment", "customers", "sendable_customers"],
        )
    )
    st.altair_chart(chart, width="stretch")
    for segment_type, rows in frame.groupby("segment_type", sort=True):
        title = "RFM" if segment_type == "rfm" else segment_type.capitalize()
        st.subheader(f"{title} segments")
        table(
            shown(
                rows,
                {
                    "segment": ("Segment", None),
                    "customers": ("People", whole),
                    "sendable_customers": ("Sendable", whole),
                    "share_of_people": ("Share of people", percent),
                },
            )
        )


def rfm_grid(data: DashboardData) -> None:
    st.header("RFM grid")
    frame = data.rfm_grid
    if frame is None or frame.empty:
        missing("RFM scores")
        return
    st.caption(
        "Buyers by recency score (5: bought most recently) and frequency score "
        "(5: most orders); each cell is named for its most common segment."
    )
    base = alt.Chart(frame).encode(
        x=alt.X("f_score:O", title="frequency score"),
        y=alt.Y("r_score:O", sort="descending", title="recency score"),
    )
    heatmap = base.mark_rect().encode(
        color=alt.Color("customers:Q", title="people", scale=alt.Scale(scheme="blues")),
        tooltip=[
            "r_score",
            "f_score",
            "main_segment",
            "customers",
            "average_monetary",
            "average_recency_days",
        ],
    )
    labels = base.mark_text(baseline="middle").encode(text="customers:Q")
    st.altair_chart(heatmap + labels, width="stretch")
    grid = frame.pivot_table(
        index="r_score", columns="f_score", values="customers", aggfunc="sum"
    ).sort_index(ascending=False)
    grid.index = [f"R {score}" for score in grid.index]
    grid.columns = [f"F {score}" for score in grid.columns]
    st.table(grid.map(lambda value: "" if pd.isna(value) else whole(value)))


def revenue(data: DashboardData) -> None:
    st.header("Revenue")
    frame = data.orders_monthly
    if frame is None or frame.empty:
        missing("orders")
        return
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("order_month:T", title="month"),
            y=alt.Y("revenue:Q", title="revenue"),
            tooltip=["order_month", "orders", "buying_customers", "revenue"],
        )
    )
    st.altair_chart(chart, width="stretch")


def clusters(data: DashboardData) -> None:
    st.header("Clusters")
    frame = data.clusters
    if frame is None or frame.empty:
        missing("clusters")
        return
    st.caption("Behavioural clusters of buyers (K-Means) and their mean behaviour.")
    columns = {
        "cluster_name": ("Cluster", None),
        "customers": ("People", whole),
        "share": ("Share", percent),
    }
    for column, label in (
        ("mean_recency_days", "Days since last order"),
        ("mean_frequency", "Orders"),
        ("mean_monetary", "Spend"),
        ("mean_tenure_days", "Days as a customer"),
    ):
        if column in frame:
            columns[column] = (label, lambda value: decimal(value, 1))
    table(shown(frame, columns))


def model_quality(data: DashboardData) -> None:
    st.header("Model quality")
    frame = data.backtests
    if frame is None or frame.empty:
        missing("model backtests")
        return
    st.caption(
        "The latest backtest on a time-based holdout before the as-of date: each "
        "model against its baselines (AUC 0.5 is a coin toss)."
    )
    table(
        shown(
            frame,
            {
                "model": ("Model", None),
                "horizon_days": ("Horizon (days)", whole),
                "baseline": ("Baseline", yes_no),
                "auc": ("AUC", decimal),
                "pr_auc": ("PR-AUC", decimal),
                "top_decile_lift": ("Top-decile lift", lambda value: decimal(value, 2)),
                "calibration_error": ("Calibration error", decimal),
                "beats_baseline": ("Beats baseline", yes_no),
            },
        )
    )


def campaigns(data: DashboardData) -> None:
    st.header("Campaigns")
    frame = data.campaigns
    if frame is None or frame.empty:
        missing("campaign results")
        return
    st.caption(
        "Per campaign and variant: opens by people (machine opens apart), clicks, "
        "orders attributed by UTM within the window, and each variant's conversion "
        "rate tested against the campaign's control."
    )
    totals = frame[["sends", "human_openers", "clickers", "converters"]].sum()
    columns = st.columns(4)
    columns[0].metric("Sends, all campaigns", whole(totals["sends"]))
    columns[1].metric("Open rate", percent(totals["human_openers"] / totals["sends"]))
    columns[2].metric("Click rate", percent(totals["clickers"] / totals["sends"]))
    columns[3].metric(
        "Conversion rate", percent(totals["converters"] / totals["sends"])
    )
    first_sent = frame.groupby("campaign_id")["first_sent_at"].transform("min")
    named = frame.assign(
        campaign=frame["campaign_name"].fillna(frame["campaign_id"])
        + " / "
        + frame["variant"],
        campaign_sent_at=first_sent,
    ).sort_values(
        ["campaign_sent_at", "campaign_id", "variant"], ascending=[False, True, True]
    )
    recent = named["campaign_id"].drop_duplicates().head(RECENT_CAMPAIGNS)
    named = named[named["campaign_id"].isin(recent)]
    st.caption(
        f"The {len(recent)} latest of {frame['campaign_id'].nunique():,} campaigns, "
        "variant by variant."
    )
    table(
        shown(
            named,
            {
                "campaign": ("Campaign / variant", None),
                "sends": ("Sends", whole),
                "human_open_rate": ("Open rate", percent),
                "click_rate": ("Click rate", percent),
                "converters": ("Converters", whole),
                "conversion_rate": ("Conversion", percent),
                "revenue": ("Revenue", money),
                "conversion_rate_lift": ("Lift", percent),
                "p_value": ("p-value", decimal),
                "is_significant": ("Significant", yes_no),
            },
        )
    )


def main() -> None:
    st.set_page_config(page_title="Mailroom dashboard", layout="wide")
    settings = Settings.load()
    st.title("Mailroom dashboard")
    try:
        data = load(settings.warehouse)
    except DashboardUnavailable as reason:
        st.warning(str(reason))
        st.stop()
    st.caption(
        f"As of {data.as_of_date or 'no run yet'}, from {settings.warehouse}. "
        "Aggregates only: no person is shown."
    )
    headline(data)
    segments(data)
    rfm_grid(data)
    revenue(data)
    clusters(data)
    model_quality(data)
    campaigns(data)


main()
