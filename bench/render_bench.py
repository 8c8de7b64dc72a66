"""Rendering throughput: payloads per second for synthetic recipients.

    .venv/bin/python bench/render_bench.py --recipients 100000 --processes 1 2

Each configuration renders the whole audience through ``renderer.pipeline``
(guard, experiment arm, block selection, MJML-compiled HTML, text, merge vars,
decision audit) and writes the payloads to an outbox run (JSONL + CSV). With more
than one process, the audience is split into contiguous shards and each process
writes its own run (``<run>-part-<n>``), which is how a parallel render would be
wired. Figures are wall-clock, from before the first render to the last fsync, and
also per CPU second of the slowest process, which is what the wall figure would be
on otherwise idle cores (the machine this runs on is often shared). Peak memory is
the largest resident set of any process, synthetic input included.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from renderer.catalog import load_catalog
from renderer.guard import SendGuard
from renderer.outbox import write_outbox
from renderer.pipeline import payloads, render_campaign
from renderer.render import Campaign, Renderer

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
CAMPAIGN = Campaign(campaign_id="bench-26", name="Bench")
SEGMENTS = (
    "champions",
    "loyal_customers",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "no_orders",
)
NAMES = ("Ana", "Jules", "Zoë", "Liam", None, "Wiśniewski", "Max", "Nils")
BATCH = 5_000
SHOP = "https://shop.example.com"


def synthetic(start: int, stop: int) -> list[tuple[list[dict], dict[str, list]]]:
    """Recipients ``start..stop`` with up to three picks each, in batches."""
    batches = []
    for first in range(start, stop, BATCH):
        rows, picks = [], {}
        for index in range(first, min(first + BATCH, stop)):
            customer_id = f"cus_{index:08d}"
            rows.append(
                {
                    "customer_id": customer_id,
                    "email": f"person{index}@example.com",
                    "first_name": NAMES[index % len(NAMES)],
                    "last_name": "Doe",
                    "rfm_segment": SEGMENTS[index % len(SEGMENTS)],
                    "cluster_name": "runners",
                    "preferred_category": "running",
                    "r_score": index % 5 + 1,
                    "f_score": index % 4 + 1,
                    "m_score": index % 3 + 1,
                    "lifetime_orders": index % 7,
                    "lifetime_revenue": Decimal(index % 3000),
                    "currency": "EUR",
                    "days_since_last_order": index % 400,
                    "is_vip": index % 13 == 0,
                    "as_of_date": None,
                    "last_order_at": None,
                    "consent_status": "opted_in",
                }
            )
            picks[customer_id] = [
                {
                    # 500 products: URLs and prices repeat, as in a real catalog
                    "customer_id": customer_id,
                    "pick_rank": rank,
                    "product_id": f"p-{(index + rank) % 500}",
                    "product_name": f"Trail Runner {(index + rank) % 500}",
                    "category": "running",
                    "price": Decimal("49.95") + rank,
                    "currency": "EUR",
                    "product_url": f"https://shop.example.com/p/{(index + rank) % 500}",
                    "image_url": (
                        f"https://shop.example.com/img/{(index + rank) % 500}.jpg"
                    ),
                    "pick_reason": "popular",
                }
                for rank in range(1, index % 4 + 1)
            ]
        batches.append((rows, picks))
    return batches


def run_shard(args: tuple[int, int, str, str]) -> tuple[int, float, float, int]:
    """Render and write one shard: ``(payloads, wall s, CPU s, peak RSS bytes)``."""
    start, stop, root, run_id = args
    batches = synthetic(start, stop)
    renderer = Renderer(catalog=load_catalog())
    guard = SendGuard([], 3, [], NOW)
    began, began_cpu = time.perf_counter(), time.process_time()
    rendered = render_campaign(
        batches, CAMPAIGN, guard, {"A": 1, "B": 1, "holdout": 0.05}, "bench",
        renderer=renderer,
    )  # fmt: skip
    manifest = write_outbox(payloads(rendered), Path(root), run_id)
    return (
        manifest.payload_count,
        time.perf_counter() - began,
        time.process_time() - began_cpu,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
    )


def measure(
    recipients: int, processes: int, root: Path
) -> tuple[int, float, float, int]:
    """Render with ``processes`` workers: ``(payloads, wall s, slowest CPU s, peak
    RSS bytes of the largest process)``."""
    bounds = [recipients * i // processes for i in range(processes + 1)]
    shards = [
        (bounds[i], bounds[i + 1], str(root), f"p{processes}-part-{i}")
        for i in range(processes)
    ]
    if processes == 1:
        return run_shard(shards[0])
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(run_shard, shards)
    # shards run side by side: wall time is the slowest one
    return (
        sum(r[0] for r in results),
        max(r[1] for r in results),
        max(r[2] for r in results),
        max(r[3] for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for processes in options.processes:
            count, seconds, cpu, peak = measure(
                options.recipients, processes, Path(folder)
            )
            print(
                f"{processes} process(es): {count:,} payloads of "
                f"{options.recipients:,} recipients in {seconds:.1f} s wall = "
                f"{count / seconds:,.0f} payloads/s ({count / cpu:,.0f}/s if each "
                f"process had its core: {cpu:.1f} s CPU in the slowest process); "
                f"peak memory {peak / 2**20:,.0f} MiB per process"
            )


if __name__ == "__main__":
    main()
