"""Time Mailroom's segment models against a hand-written DuckDB query for the same
segments, on a warehouse the pipeline has already built.

    .venv/bin/python bench/segments.py --home /tmp/bench1m --as-of 2026-11-01

Mailroom's side is `dbt run` of the segment models (dbt start-up included); the
reference is one hand-written SQL script over the same inputs, computing the RFM
scores and every segment rule with the default vars. Both run in this process's
machine, one after the other; the script prints both times, the ratio, and the
segment sizes of both so that a mismatch is visible.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from mailroom.dbt_cli import run_dbt

SEGMENT_MODELS = [
    "int_customer_rfm_values",
    "int_customer_rfm_scored",
    "fct_customer_rfm",
    "fct_rfm_score_bins",
    "int_cart_abandonments",
    "int_browse_abandonments",
    "int_customer_email_engagement",
    "int_customer_first_opt_ins",
    "int_customer_segments_current",
    "fct_customer_segment_history",
    "fct_customer_segments",
]

REFERENCE = Path(__file__).with_name("segments_reference.sql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--as-of", required=True)
    args = parser.parse_args()
    warehouse = args.home / "warehouse.duckdb"
    started = time.perf_counter()
    run_dbt(
        "run",
        "--select",
        " ".join(SEGMENT_MODELS),
        warehouse=warehouse,
        as_of=args.as_of,
        target_path=args.home / "target-bench",
    )
    mailroom = time.perf_counter() - started

    sql = REFERENCE.read_text().replace("$as_of", f"timestamp '{args.as_of}'")
    with duckdb.connect(str(warehouse)) as con:
        started = time.perf_counter()
        con.execute(sql)
        reference = time.perf_counter() - started
        sizes = con.execute(
            """
            select
                coalesce(m.segment_type, r.segment_type),
                coalesce(m.segment, r.segment),
                m.customers,
                r.customers
            from (select segment_type, segment, count(*) as customers
                  from marts.fct_customer_segments group by all) as m
            full join (select segment_type, segment, count(*) as customers
                  from bench.reference_segments group by all) as r
                using (segment_type, segment)
            order by 1, 2
            """
        ).fetchall()
        con.execute("drop schema bench cascade")
    people = sum(row[2] or 0 for row in sizes if row[0] == "rfm")
    print(f"people: {people:,}")
    print(f"{'segment':<36} {'mailroom':>10} {'reference':>10}")
    for segment_type, segment, ours, theirs in sizes:
        mark = "" if ours == theirs else "  <- differs"
        name = f"{segment_type}.{segment}"
        print(f"{name:<36} {ours or 0:>10,} {theirs or 0:>10,}{mark}")
    print(f"mailroom dbt run of {len(SEGMENT_MODELS)} segment models: {mailroom:.1f} s")
    print(f"hand-written DuckDB reference:               {reference:.1f} s")
    print(f"ratio: {mailroom / reference:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
