"""Command line: ``python -m mailroom.simulator --customers N --seed S --out DIR``."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date
from pathlib import Path

from mailroom.simulator.core import DEFAULT_AS_OF, generate


def main(argv: list[str] | None = None) -> int:
    """Generate demo data and print the summary with timings."""
    parser = argparse.ArgumentParser(prog="python -m mailroom.simulator")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    parser.add_argument("--history-days", type=int, default=730)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    began = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - began:7.1f}s] {message}", flush=True)

    try:
        summary = generate(
            args.out,
            customers=args.customers,
            seed=args.seed,
            as_of=args.as_of,
            history_days=args.history_days,
            progress=progress,
            overwrite=args.overwrite,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"landing: {summary.landing_dir}")
    for name, rows in summary.rows.items():
        print(f"  {name:<14} {rows:>12,} rows in {summary.files[name]} file(s)")
    print(f"ground truth: {summary.ground_truth_dir}")
    for name, rows in summary.ground_truth_rows.items():
        print(f"  {name:<14} {rows:>12,} rows")
    print(f"total landing rows: {summary.total_rows:,}")
    print(f"wall time: {elapsed:.1f} s, peak RSS: {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
