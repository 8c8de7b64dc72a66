"""Time a full dbt build against the daily refresh after about 1 % new events.

    .venv/bin/python bench/incremental.py --customers 100000

Generates N simulated customers, ingests them and times `dbt build` (every model,
seed and test but the personalization marts, which need the ML stage) from an
empty warehouse. Then lands a day of new events (`land_next_day`: --fraction of the
web events, email events and orders, on the day before the as-of date, --late-share
of them late among the history, a few re-delivering ids), ingests it and times
the same `dbt build` again, which now takes the incremental models' incremental
path. Prints both, their ratio (target: at most 0.10), and the same for the
event-grain models alone, from dbt's run_results.json.

``--built --home FOLDER`` starts from a warehouse already built there (e.g. by
``bench/full_run.py --home FOLDER``, at sizes where generating again costs too
much): it lands the new day in FOLDER/landing, times the incremental build, then
a ``--full-refresh`` build of the same models as the full figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from mailroom.dbt_cli import run_dbt
from mailroom.ingest import LEDGER, RAW_SCHEMA, ingest_landing
from mailroom.simulator import generate
from mailroom.simulator.daily import land_next_day

AS_OF = date(2026, 11, 1)
# The models built incrementally (their incremental path is what the refresh runs).
EVENT_MODELS = (
    "base_web__events",
    "base_esp__email_events",
    "base_shop__orders",
    "base_shop__order_items",
    "int_web_events_sessionized",
)


def _ingest(warehouse: Path, landing: Path) -> float:
    """Seconds to ingest new landing files; stops the bench if any was refused
    (timing a refresh of data that never loaded would measure nothing)."""
    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        report = ingest_landing(con, landing)
    if report.refused:
        raise SystemExit(
            "ingestion refused files, so the refresh would time nothing new:\n"
            + "\n".join(
                f"  {load.source}/{load.file_name}: {load.message}"
                for load in report.refused
            )
        )
    return time.perf_counter() - started


def _next_day(warehouse: Path, landing: Path) -> tuple[str, int]:
    """A file name neither in the landing folder nor in the load ledger, and its
    ordinal, the seed of its sample, so ``--built`` can be run again on a folder:
    a loaded file name with other content is refused, and the same seed would
    sample the same rows (so the same new ids)."""
    used = {path.name for path in landing.glob("*/next-day*.parquet")}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        used |= {
            name
            for (name,) in con.execute(
                f"select distinct file_name from {RAW_SCHEMA}.{LEDGER}"
            ).fetchall()
        }
    ordinal = 1
    while f"{(name := _day_name(ordinal))}.parquet" in used:
        ordinal += 1
    return name, ordinal


def _day_name(ordinal: int) -> str:
    return "next-day" if ordinal == 1 else f"next-day-{ordinal}"


def _build(warehouse: Path, target: Path, *full_refresh: str) -> tuple[float, float]:
    """Seconds of `dbt build`, and the seconds dbt spent in the event models."""
    started = time.perf_counter()
    run_dbt(
        "build",
        *full_refresh,
        "--exclude",
        "tag:after_ml",
        warehouse=warehouse,
        as_of=AS_OF.isoformat(),
        target_path=target,
    )
    seconds = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text())["results"]
    events = sum(
        result["execution_time"]
        for result in results
        if result["unique_id"].split(".")[-1] in EVENT_MODELS
    )
    return seconds, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument(
        "--late-share",
        type=float,
        default=0.01,
        help="share of the new events that arrive late, among the history",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", type=Path, help="work folder (default: a temp dir)")
    parser.add_argument(
        "--built",
        action="store_true",
        help="start from the warehouse already built in --home",
    )
    args = parser.parse_args()
    if args.built and args.home is None:
        parser.error("--built needs --home: the folder of an earlier full run")
    home = args.home or Path(tempfile.mkdtemp(prefix="mailroom-incremental-"))
    warehouse, landing = home / "warehouse.duckdb", home / "landing"
    if args.built:
        print(f"work folder: {home} (built before)", flush=True)
    else:
        print(f"customers: {args.customers:,}  work folder: {home}", flush=True)
        generate(home, customers=args.customers, seed=args.seed, as_of=AS_OF)
        ingested = _ingest(warehouse, landing)
        print(f"ingest (all files)       {ingested:8.1f} s", flush=True)
        full, full_events = _build(warehouse, home / "target-full")
        print(f"dbt build (full)         {full:8.1f} s", flush=True)

    name, ordinal = _next_day(warehouse, landing)
    written = land_next_day(
        warehouse,
        landing,
        AS_OF - timedelta(days=1),
        fraction=args.fraction,
        late_share=args.late_share,
        name=name,
        seed=ordinal,
    )
    print("new rows: " + ", ".join(f"{k} {v:,}" for k, v in written.items()))
    print(f"ingest (new files)       {_ingest(warehouse, landing):8.1f} s", flush=True)
    refresh, refresh_events = _build(warehouse, home / "target-refresh")
    print(f"dbt build (incremental)  {refresh:8.1f} s", flush=True)
    if args.built:
        full, full_events = _build(warehouse, home / "target-full", "--full-refresh")
        print(f"dbt build (full refresh) {full:8.1f} s")
    print(f"ratio incremental/full   {refresh / full:8.3f}  (target <= 0.10)")
    print(
        f"event models: full {full_events:.1f} s, incremental {refresh_events:.1f} s, "
        f"ratio {refresh_events / full_events:.3f} (dbt's model seconds, all threads)"
    )


if __name__ == "__main__":
    main()
