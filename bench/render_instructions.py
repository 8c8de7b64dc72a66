"""Instructions per payload of a render worker's chunk path, counted by Valgrind.

    .venv/bin/python bench/render_instructions.py --chunks 2

Timings on these shared machines drift by a third within an hour, which hides the
few per cent a change to the hot path is worth. Instruction counts do not drift:
this bench runs ``renderer.parallel.render_chunk`` as a render worker does (the
bench's synthetic recipients and picks as Arrow IPC streams, chunks of 1,000, arms
with a holdout) under ``valgrind --tool=cachegrind`` twice, once rendering only a
warm-up chunk (imports, templates, first shapes) and once that plus ``--chunks``
more, and prints the difference per payload: repeatable to about 0.5 %.
Instructions are not time (a copy of 22 KB is cheap per instruction, a cache miss
dear), so confirm a gain in wall time too (``bench/render_bench.py``, interleaved
with the commit before). ``--top N`` also lists the N functions, C included, that
execute the most of the difference. Needs ``valgrind`` (Debian package).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
from render_bench import PICK_SCHEMA, RECIPIENT_SCHEMA, picks, recipient

from renderer.catalog import load_catalog
from renderer.parallel import (
    CHUNK_SIZE,
    RenderSpec,
    _build_renderer,
    _to_worker,
    render_chunk,
)
from renderer.render import PICK_KEYS, Campaign, recipient_columns
from renderer.worker import BLAS_THREADS

ARMS = {"A": 1, "B": 1, "holdout": 0.05}
# "==123== I refs:      1,234,567" in cachegrind's summary on stderr
_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def chunks(count: int) -> list[tuple[pa.Buffer, list[None], pa.Buffer]]:
    """``count`` chunks of bench recipients as a worker receives them."""
    read = recipient_columns(load_catalog()) | {"email", "consent_status"}
    schema = pa.schema([field for field in RECIPIENT_SCHEMA if field.name in read])
    made = []
    for number in range(count):
        ids = range(number * CHUNK_SIZE, (number + 1) * CHUNK_SIZE)
        rows = [
            {key: value for key, value in recipient(i).items() if key in read}
            for i in ids
        ]
        pick_rows = pa.Table.from_pylist(
            [pick for i in ids for pick in picks(i)], PICK_SCHEMA
        )
        pick_rows = pick_rows.select(["customer_id", *PICK_KEYS])
        made.append(
            (
                _to_worker(pa.Table.from_pylist(rows, schema)),
                [None] * CHUNK_SIZE,
                _to_worker(pick_rows),
            )
        )
    return made


def render(measured: int) -> int:
    """Render a warm-up chunk and ``measured`` more; the payloads of the latter."""
    spec = RenderSpec(Campaign("bench", "Bench"), ARMS, "bench")
    renderer = _build_renderer(spec)
    warm_up, *rest = chunks(1 + measured)
    render_chunk(spec, renderer, *warm_up)
    return sum(render_chunk(spec, renderer, *chunk).payload_count for chunk in rest)


def instructions(measured: int, output: Path) -> tuple[int, int]:
    """Instructions executed by a run rendering ``measured`` chunks after the
    warm-up, and its payloads."""
    result = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={output}",
            sys.executable,
            __file__,
            "--inner",
            str(measured),
        ],
        capture_output=True,
        text=True,
        check=True,
        # string hashes decide dict and set layouts, and so instruction counts;
        # one BLAS thread, as in a render worker (renderer.worker)
        env={**os.environ, "PYTHONHASHSEED": "0", BLAS_THREADS: "1"},
    )
    counted = _I_REFS.search(result.stderr)
    if counted is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{result.stderr}")
    return int(counted.group(1).replace(",", "")), int(result.stdout.split()[-1])


def top_functions(base: Path, full: Path, count: int) -> str:
    """``cg_annotate``'s functions by instructions, of ``full`` minus ``base``."""
    difference = base.with_name("difference.out")
    subprocess.run(
        ["cg_diff", str(base), str(full)],
        stdout=difference.open("w"),
        check=True,
    )
    report = subprocess.run(
        ["cg_annotate", str(difference)], capture_output=True, text=True, check=True
    ).stdout
    lines = [line for line in report.splitlines() if re.match(r"\s*[\d,]+ \(", line)]
    # the first is the program total; the build paths of sources say little
    return "\n".join(re.sub(r"\S*/", "", line) for line in lines[1 : count + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.inner is not None:  # the run valgrind watches
        print(render(options.inner))
        return
    with tempfile.TemporaryDirectory() as folder:
        base, full = Path(folder) / "base.out", Path(folder) / "full.out"
        with ThreadPoolExecutor(2) as pool:
            warm = pool.submit(instructions, 0, base)
            both = pool.submit(instructions, options.chunks, full)
            (warm_count, _), (full_count, payloads) = warm.result(), both.result()
        per_payload = (full_count - warm_count) / payloads
        print(
            f"{per_payload:,.0f} instructions a payload "
            f"({payloads:,} payloads in {options.chunks} chunks of {CHUNK_SIZE:,})"
        )
        if options.top:
            print(top_functions(base, full, options.top))


if __name__ == "__main__":
    main()
