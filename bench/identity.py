"""Measure person resolution: pairwise precision and recall, time and peak memory.

    .venv/bin/python bench/identity.py --customers 100000     # the simulator's truth
    .venv/bin/python bench/identity.py --febrl                # FEBRL dataset 3

Only the sources identity reads are loaded (customers, CRM contacts, orders), then
`dbt build` runs the identity models and their tests; the seconds of the models in
`intermediate/identity` (from dbt's run_results.json) are reported apart from the
staging they need. Peak memory covers this process and dbt.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
from full_run import PeakMemory

from mailroom.datasets import febrl
from mailroom.identity_quality import build_identities, febrl_scores, simulator_scores
from mailroom.ingest import ingest_landing
from mailroom.simulator import generate

AS_OF = date(2026, 11, 1)
FEBRL_CSV = Path(__file__).resolve().parents[2] / "shared/data/febrl/febrl_dataset3.csv"
IDENTITY_SOURCES = ("customers", "crm_contacts", "orders")


def _identity_landing(home: Path) -> Path:
    """A landing folder holding only the sources identity reads (linked, not copied)."""
    landing = home / "landing-identity"
    landing.mkdir(exist_ok=True)
    for source in IDENTITY_SOURCES:
        if (home / "landing" / source).is_dir() and not (landing / source).exists():
            (landing / source).symlink_to(home / "landing" / source)
    return landing


def _model_seconds(target: Path) -> dict[str, float]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results
        if r["unique_id"].startswith("model.")
    }


def _identity_span(target: Path) -> float:
    """Wall seconds from the first identity model's start to the last one's end,
    with the data tests dbt runs between them."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    spans = [
        (datetime.fromisoformat(timing["started_at"]), timing["completed_at"])
        for r in results
        if r["unique_id"].split(".")[-1].startswith("int_identity")
        for timing in r["timing"]
        if timing["name"] == "execute"
    ]
    first = min(start for start, _ in spans)
    last = max(datetime.fromisoformat(end) for _, end in spans)
    return (last - first).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--febrl", action="store_true", help="FEBRL instead")
    parser.add_argument("--home", type=Path, help="work folder (default: a temp dir)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data already in --home"
    )
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="mailroom-identity-"))
    home.mkdir(parents=True, exist_ok=True)
    memory = PeakMemory()

    started = time.perf_counter()
    if args.febrl:
        landing = home / "landing"
        rows = febrl.write_landing(FEBRL_CSV, landing)
        print(f"FEBRL: {rows:,} contacts from {FEBRL_CSV}")
    elif args.reuse and (home / "ground_truth").is_dir():
        landing = _identity_landing(home)
        print(f"reusing the simulated data in {home}")
    else:
        summary = generate(home, args.customers, args.seed, AS_OF, overwrite=True)
        landing = _identity_landing(home)
        print(f"simulated {args.customers:,} customers ({summary.total_rows:,} rows)")
    print(f"generate  {time.perf_counter() - started:8.1f} s")

    warehouse = home / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    with memory.measure(), duckdb.connect(str(warehouse)) as con:
        started = time.perf_counter()
        report = ingest_landing(con, landing, require_orders=not args.febrl)
    print(
        f"ingest    {time.perf_counter() - started:8.1f} s  "
        f"({report.rows_loaded():,} rows)"
    )

    target = home / "target-identity"
    with memory.measure():
        started = time.perf_counter()
        build_identities(warehouse, AS_OF.isoformat(), target)
        build = time.perf_counter() - started
    seconds = _model_seconds(target)
    resolution = sum(
        s for name, s in seconds.items() if name.startswith("int_identity")
    )
    print(f"dbt build {build:8.1f} s  (models, tests and start-up)")
    print(f"identity  {resolution:8.1f} s  (the int_identity_* models)")
    span = _identity_span(target)
    print(f"          {span:8.1f} s  from the first to the last, tests between")
    for name, s in sorted(seconds.items(), key=lambda item: -item[1])[:8]:
        print(f"          {s:8.1f} s  {name}")
    print(f"peak      {memory.peak / 2**30:8.2f} GiB")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        records, identifiers = con.execute(
            "select (select count(*) from intermediate.int_identity_person_records), "
            "(select count(*) from intermediate.int_identity_components)"
        ).fetchall()[0]
        decisions = con.execute(
            "select decision, count(*) from intermediate.int_identity_fuzzy_matches "
            "group by 1 order by 1"
        ).fetchall()
        scores = (
            febrl_scores(con)
            if args.febrl
            else simulator_scores(con, home / "ground_truth")
        )
    print(f"person records {records:,}, identifiers {identifiers:,}")
    print("fuzzy decisions:", ", ".join(f"{d} {n:,}" for d, n in decisions))
    print(scores)
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
