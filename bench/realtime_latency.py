"""Event-to-payload latency of the real-time path, and where the time goes.

    .venv/bin/python bench/realtime_latency.py --customers 1500 --window-seconds 20

Generates demo data and runs the full pipeline once (not timed), then posts one
add-to-cart through a real `mailroom intake`, polls the `elapsed_cart_windows`
sensor every second as the daemon would, runs the real-time refresh it asks for and
prints the latency from the post to the payload in the outbox, minus the window, with
the seconds of each step. The machine is often shared: the figure is an upper bound.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from dagster import DagsterInstance

from mailroom.intake_client import IntakeClient, running_intake
from mailroom.realtime import ENV_WINDOW_HOURS
from mailroom.settings import Settings
from orchestration.automation import elapsed_cart_windows
from orchestration.pipeline import (
    parse_dbt_project,
    poll_sensor,
    run_requested,
    run_stages,
)


def _a_shopper(warehouse: Path) -> tuple[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            """
            select identity.id_value, products.product_id
            from marts.personalization as people
            inner join marts.customer_identity_map as identity
                on people.customer_id = identity.customer_id
            cross join (
                select min(product_id) as product_id
                from intermediate.int_products_sellable
            ) as products
            where identity.id_type = 'customer_id'
            order by identity.customer_id
            limit 1
            """
        ).fetchone()


def _prepare(home: Path, from_home: Path | None, customers: int) -> None:
    """A data folder after one full run as of 2026-11-01 (the daily state)."""
    if from_home:
        shutil.copytree(from_home / "landing", home / "landing")
        shutil.copy(from_home / "warehouse.duckdb", home / "warehouse.duckdb")
        return
    from mailroom.simulator import generate

    generate(home, customers=customers, seed=7, as_of=date(2026, 11, 1))
    daily = Settings.load(home=home, as_of=date(2026, 11, 1))
    list(run_stages(daily, log_path=home / "logs" / "pipeline.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--window-seconds", type=int, default=20)
    parser.add_argument(
        "--from-home",
        type=Path,
        help="copy this already-run data folder instead of generating one",
    )
    parser.add_argument("--keep", type=Path, help="copy the run's logs here")
    args = parser.parse_args()
    os.environ[ENV_WINDOW_HOURS] = str(args.window_seconds / 3600)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        _prepare(home, args.from_home, args.customers)
        settings = Settings.load(home=home)
        shop_id, product_id = _a_shopper(settings.warehouse)
        parse_dbt_project(settings)

        with running_intake(home) as (host, port):
            client = IntakeClient(host, port)
            posted = time.monotonic()
            client.post(
                "web_events",
                {
                    "event_id": "w-bench-1",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "event_type": "add_to_cart",
                    "customer_id": shop_id,
                    "product_id": product_id,
                },
            )
            client.close()
        settings.export()
        request = poll_sensor(elapsed_cart_windows, args.window_seconds + 600)
        requested = time.monotonic()
        result = run_requested(
            settings, "realtime_refresh", request, log_path=home / "logs" / "rt.log"
        )
        done = time.monotonic()
        with DagsterInstance.get() as instance:
            steps = instance.get_run_step_stats(result.run_id)
        print(
            f"{args.customers:,} customers, window {args.window_seconds} s: "
            f"event-to-payload {done - posted:.1f} s = window + "
            f"{requested - posted - args.window_seconds:.1f} s to the sensor's request"
            f" + {done - requested:.1f} s run (success: {result.success})"
        )
        for step in steps:
            print(f"  {step.step_key:<40} {step.end_time - step.start_time:5.1f} s")
        print(f"  dbt log: {home / 'logs' / 'rt.log'} (kept with --keep)")
        if args.keep:
            shutil.copytree(home / "logs", args.keep, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
