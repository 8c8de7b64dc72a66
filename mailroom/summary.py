"""A short, readable account of what a pipeline run produced."""

from __future__ import annotations

import duckdb

from mailroom.settings import Settings
from renderer.outbox import latest_run_id, read_outbox


def collect(settings: Settings) -> dict[str, object]:
    """Figures of the latest run: rows per stage, segment sizes, payloads written."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        reconciliation = con.execute(
            "select source_name, raw_rows, staged_rows, quarantined_rows "
            "from quality.source_reconciliation order by raw_rows desc"
        ).fetchall()
        reasons = con.execute(
            "select source_name, quarantine_reason, count(*) "
            "from quality.quarantined_rows group by all order by 3 desc limit 8"
        ).fetchall()
        people = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
        orders = con.execute("select count(*) from marts.fct_orders").fetchone()[0]
        segments = con.execute(
            "select rfm_segment, count(*) from marts.fct_customer_rfm "
            "group by 1 order by 2 desc"
        ).fetchall()
        clusters = con.execute(
            "select cluster_name, count(*) from ml.customer_clusters "
            "group by 1 order by 2 desc"
        ).fetchall()
        sendable = con.execute("select count(*) from marts.personalization").fetchone()[
            0
        ]
    run_id = latest_run_id(settings.outbox)
    manifest, _ = read_outbox(settings.outbox, run_id)
    return {
        "reconciliation": reconciliation,
        "quarantine_reasons": reasons,
        "people": people,
        "orders": orders,
        "segments": segments,
        "clusters": clusters,
        "sendable": sendable,
        "payloads": manifest.payload_count,
        "outbox": settings.outbox / run_id,
    }


def print_summary(settings: Settings) -> None:
    figures = collect(settings)
    print("rows per source (raw = staged + quarantined):")
    for source, raw, staged, quarantined in figures["reconciliation"]:
        print(f"  {source:<13} {raw:>10,} = {staged:>10,} + {quarantined:>8,}")
    if figures["quarantine_reasons"]:
        print("top quarantine reasons:")
        for source, reason, count in figures["quarantine_reasons"]:
            print(f"  {source}.{reason:<32} {count:>8,}")
    print(f"people (resolved): {figures['people']:,}   orders: {figures['orders']:,}")
    print("RFM segments:")
    for segment, count in figures["segments"]:
        print(f"  {segment:<22} {count:>8,}")
    print("behavioural clusters:")
    for cluster, count in figures["clusters"]:
        print(f"  {cluster:<40} {count:>8,}")
    print(
        f"sendable recipients (opted in, not suppressed): {figures['sendable']:,}\n"
        f"payloads written: {figures['payloads']:,} to {figures['outbox']}\n"
        f"open the Dagster UI: mailroom ui --home {settings.home}"
    )
