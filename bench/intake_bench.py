"""HTTP intake throughput: events per second accepted durably on loopback.

    .venv/bin/python bench/intake_bench.py --events 10000 --batch 1 10 100 --clients 8

For each batch size, ``--clients`` threads post ``--events`` add-to-cart events in
total through keep-alive connections to a real ``mailroom intake`` process. Every
answer is a 202 sent only after the events were fsynced into a landing file, so the
figure is durable events per second. It also prints how many landing files the
group commit produced (fewer files: fewer fsyncs and a cheaper ingestion). The client
threads share the machine with the server, so the figure is a floor.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mailroom.intake_client import IntakeClient, running_intake


def _post(host: str, port: int, worker: int, batches: int, size: int) -> int:
    client = IntakeClient(host, port)
    accepted = 0
    for batch in range(batches):
        events = [
            {
                "event_id": f"b{size}-w{worker}-{batch}-{n}",
                "occurred_at": "2026-11-24T10:00:00Z",
                "event_type": "add_to_cart",
                "customer_id": f"c-{worker:06d}",
                "product_id": "p-0001",
            }
            for n in range(size)
        ]
        status, answer = client.post("web_events", events if size > 1 else events[0])
        if status != 202:
            raise RuntimeError(f"intake answered {status}: {answer}")
        accepted += answer["accepted"]
    client.close()
    return accepted


def run(events: int, batch_size: int, clients: int) -> None:
    batches = max(1, events // (batch_size * clients))
    with tempfile.TemporaryDirectory() as home, running_intake(Path(home)) as address:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            accepted = sum(
                pool.map(
                    lambda worker: _post(*address, worker, batches, batch_size),
                    range(clients),
                )
            )
        seconds = time.perf_counter() - started
        files = len(list((Path(home) / "landing" / "web_events").glob("*.jsonl")))
    requests = batches * clients
    print(
        f"batch {batch_size:>4}: {accepted:,} events in {requests:,} requests, "
        f"{seconds:.2f} s -> {accepted / seconds:,.0f} events/s, "
        f"{requests / seconds:,.0f} requests/s, {files:,} landing files"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    for size in args.batch:
        run(args.events, size, args.clients)


if __name__ == "__main__":
    main()
