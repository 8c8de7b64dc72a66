"""Rendering throughput: payloads per second of the production render.

    .venv/bin/python bench/render_bench.py --recipients 100000 --processes 1 2

Synthetic recipients (with up to three picks each, 500 products) are loaded into a
DuckDB warehouse as ``marts.personalization`` and its picks; then, for each number
of worker processes, ``mailroom.campaign.render_to_outbox`` renders the campaign as
``mailroom run`` does: reading the mart in batches, send guard, experiment arms,
block selection, MJML-compiled HTML, text, merge variables, one atomic outbox run
(JSONL + CSV + manifest, fsynced) and the decision audit inserted into the
warehouse. With 1 process everything runs in this process; with N, the parent
guards, writes and inserts, and N workers render (``renderer.parallel``), forked
from the fork server this process starts (so its start is counted too).

Printed per configuration: payloads per second of wall time; CPU seconds of all
processes together (parent, its DuckDB threads and the workers) and payloads per
CPU second; and the estimate for as many idle cores as worker processes (the total
CPU spread over them, but never faster than the busiest process). The machine is
often shared: then wall figures understate it and the CPU figures are the honest
ones. Peak memory is the largest resident set of one process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow as pa

from mailroom.campaign import render_to_outbox
from renderer.config import SendConfig

AS_OF = dt.date(2026, 11, 1)
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
RECIPIENT_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("rfm_segment", pa.string()),
        ("cluster_name", pa.string()),
        ("preferred_category", pa.string()),
        ("r_score", pa.int32()),
        ("f_score", pa.int32()),
        ("m_score", pa.int32()),
        ("lifetime_orders", pa.int32()),
        ("lifetime_revenue", pa.decimal128(18, 2)),
        ("currency", pa.string()),
        ("days_since_last_order", pa.int32()),
        ("is_vip", pa.bool_()),
        ("as_of_date", pa.date32()),
        ("last_order_at", pa.timestamp("us")),
        ("consent_status", pa.string()),
    ]
)
PICK_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("pick_rank", pa.int32()),
        ("product_id", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("price", pa.decimal128(18, 2)),
        ("currency", pa.string()),
        ("product_url", pa.string()),
        ("image_url", pa.string()),
        ("pick_reason", pa.string()),
    ]
)


def recipient(index: int) -> dict[str, Any]:
    return {
        "customer_id": f"cus_{index:08d}",
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


def picks(index: int) -> list[dict[str, Any]]:
    """Up to three picks of 500 products: URLs and prices repeat, as in a shop."""
    return [
        {
            "customer_id": f"cus_{index:08d}",
            "pick_rank": rank,
            "product_id": f"p-{(index + rank) % 500}",
            "product_name": f"Trail Runner {(index + rank) % 500}",
            "category": "running",
            "price": Decimal("49.95") + rank,
            "currency": "EUR",
            "product_url": f"https://shop.example.com/p/{(index + rank) % 500}",
            "image_url": f"https://shop.example.com/img/{(index + rank) % 500}.jpg",
            "pick_reason": "popular",
        }
        for rank in range(1, index % 4 + 1)
    ]


def build_warehouse(path: Path, recipients: int) -> None:
    """The synthetic mart and its picks, in a DuckDB file (not timed)."""
    tables = {
        "personalization": pa.Table.from_pylist(
            [recipient(index) for index in range(recipients)], RECIPIENT_SCHEMA
        ),
        "personalization_product_picks": pa.Table.from_pylist(
            [pick for index in range(recipients) for pick in picks(index)],
            PICK_SCHEMA,
        ),
    }
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        for name, table in tables.items():
            con.register("source_rows", table)
            con.execute(f"create table marts.{name} as select * from source_rows")
            con.unregister("source_rows")


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_children() -> float:
    """CPU of this process's descendants that ended: reaped here, or by a child
    still running (render workers are forked from the fork server, which reaps
    them), with that child's own."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    for child in psutil.Process().children():
        with suppress(psutil.Error):
            times = child.cpu_times()
            total += (
                times.user + times.system + times.children_user + times.children_system
            )
    return total


class _PeakRss:
    """The largest resident set of one process of this process's tree, sampled
    four times a second in a thread (a worker's own peak is not this process's
    to read; its resident set levels off within its first chunks)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.25):
            for process in [me, *me.children(recursive=True)]:
                with suppress(psutil.Error):
                    self.peak = max(self.peak, process.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(warehouse: Path, home: Path, processes: int) -> dict[str, float]:
    """One production render: payloads, wall and CPU seconds, busiest process."""
    config = SendConfig(
        arms={"A": 1, "B": 1, "holdout": 0.05}, render_processes=processes
    )
    home.mkdir()
    began = time.perf_counter()
    self_before, children_before = _cpu_self(), _cpu_children()
    with _PeakRss() as memory, duckdb.connect(str(warehouse)) as con:
        report = render_to_outbox(con, home / "outbox", home, AS_OF, "bench", config)
    wall = time.perf_counter() - began
    parent = _cpu_self() - self_before
    children = _cpu_children() - children_before
    workers = [
        seconds for pid, seconds in report.render_cpu.items() if pid != os.getpid()
    ]
    return {
        "payloads": report.manifest.payload_count,
        "wall": wall,
        "parent": parent,
        "children": children,
        "busiest": max([parent, *workers]),
        "in_chunks": sum(workers),
        "audit_rows": report.audit_rows,
        "bytes": report.manifest.payloads_bytes,
        # KiB on Linux; this process is fresh, so its peak is the render's
        "peak": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, memory.peak
        ),
    }


def _measure_in_fresh_process(
    warehouse: Path, home: Path, processes: int
) -> dict[str, float]:
    """:func:`measure` in a fresh interpreter, so that its figures are its own.

    Started as ``python -c``, as Dagster starts the process that runs an asset
    (``python -m``): render workers then import nothing (the fork server they
    come from loaded the renderer). A parent started from a script file makes
    each worker import that script (``multiprocessing`` re-imports the main
    module): about 0.5 s of CPU each for this one, 0.45 s for the ``mailroom``
    command.
    """
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from render_bench import measure; from pathlib import Path; "
        "print(json.dumps(measure(Path(sys.argv[2]), Path(sys.argv[3]), "
        "int(sys.argv[4]))))"
    )
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            str(warehouse),
            str(home),
            str(processes),
        ],
        check=True,
        stdout=subprocess.PIPE,  # its errors reach this terminal
        text=True,
    ).stdout
    return json.loads(output.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse.duckdb"
        build_warehouse(warehouse, options.recipients)
        for processes in options.processes:
            result = _measure_in_fresh_process(
                warehouse, Path(folder) / f"p{processes}", processes
            )
            count, total = result["payloads"], result["parent"] + result["children"]
            idle = max(total / processes, result["busiest"])
            peak = result["peak"]
            print(
                f"{processes} process(es): {count:,} payloads of "
                f"{options.recipients:,} recipients "
                f"({result['bytes'] / 2**30:.2f} GiB JSONL, "
                f"{result['audit_rows']:,} audit rows): "
                f"{result['wall']:.1f} s wall = {count / result['wall']:,.0f}/s; "
                f"{total:.1f} s CPU (parent {result['parent']:.1f} s, workers "
                f"{result['children']:.1f} s, {result['in_chunks']:.1f} s of it "
                f"rendering chunks) = {count / total:,.0f} per CPU s; "
                f"on {processes} idle core(s) {count / idle:,.0f}/s; "
                f"peak {peak / 2**20:,.0f} MiB per process"
            )


if __name__ == "__main__":
    main()
