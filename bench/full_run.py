"""Time the whole pipeline at a given customer count; print seconds and peak memory
per stage, then the same for a hand-written reference on the same data.

    .venv/bin/python bench/full_run.py --customers 100000

The reference (``bench/reference.py``: plain DuckDB SQL for the same marts, the same
scikit-learn fits, plain Jinja2 rendering) runs after the pipeline on the same
landing folder, and the last line gives Mailroom's time as a multiple of it.

``--from-stage ml --home FOLDER`` reruns the stages from ``ml`` on the work folder of
an earlier run (kept with ``--home``), without generating or loading again;
``--to-stage ml`` stops after ``ml`` (a long run in two parts), and
``--reference only --home FOLDER`` runs only the reference there. dbt's timings of
each model and test are kept as ``FOLDER/logs/run_results-<stage>.json``.

Peak memory is the highest resident set size of this process plus its children (dbt
runs as a subprocess), sampled every 50 ms while the stage runs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path

import psutil

# Mailroom itself (Dagster, pandas, the simulator, the reference) is imported
# inside the functions: worker processes that the pipeline spawns (validation,
# rendering) import this script again as their main module, and with those
# imports at the top each worker spent about 5 s of CPU on it before working.
AS_OF = date(2026, 11, 1)


class PeakMemory:
    """Samples the RSS of this process and its children in a background thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._process = psutil.Process()

    def _rss(self) -> int:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            with suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    @contextmanager
    def measure(self) -> Iterator[PeakMemory]:
        self.peak, self._stop = self._rss(), threading.Event()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def _row(stage: str, seconds: float, peak: int) -> str:
    return f"{stage:<12} {seconds:>9.1f} {peak / 2**20:>12,.0f}"


def main() -> None:
    from mailroom.simulator import generate
    from orchestration.pipeline import STAGES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", type=Path, help="work folder (default: a temp dir)")
    parser.add_argument(
        "--from-stage",
        choices=[stage.name for stage in STAGES],
        help="rerun the stages from this one in the --home of an earlier run",
    )
    parser.add_argument(
        "--to-stage",
        choices=[stage.name for stage in STAGES],
        help="stop after this stage (then no reference runs)",
    )
    parser.add_argument(
        "--reference",
        choices=["run", "skip", "only"],
        default="run",
        help="run the hand-written reference after the pipeline (default), "
        "skip it, or run only it in the --home of an earlier run",
    )
    args = parser.parse_args()
    if (args.from_stage or args.reference == "only") and args.home is None:
        parser.error(
            "--from-stage and --reference only need --home: the work folder "
            "of an earlier run"
        )
    names = [stage.name for stage in STAGES]
    if (
        args.from_stage
        and args.to_stage
        and names.index(args.to_stage) < names.index(args.from_stage)
    ):
        parser.error("--to-stage comes before --from-stage")
    home = args.home or Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    memory = PeakMemory()
    generating = not (args.from_stage or args.reference == "only")
    if generating:
        print(f"customers: {args.customers:,}  work folder: {home}")
    else:
        print(f"work folder: {home}")
    print(f"{'stage':<12} {'seconds':>9} {'peak MiB':>12}")
    if generating:
        with memory.measure():
            started = time.perf_counter()
            summary = generate(home, args.customers, args.seed, AS_OF, overwrite=True)
            generated = time.perf_counter() - started
        print(
            _row("generate", generated, memory.peak), f"({summary.total_rows:,} rows)"
        )
    mailroom = None
    if args.reference != "only":
        mailroom = _pipeline(home, args.from_stage, args.to_stage, memory)
    if args.reference != "skip" and not args.to_stage:
        reference = _reference(home, memory)
        if mailroom is not None and not args.from_stage:
            print(f"mailroom / reference: {mailroom / reference:.2f}x")
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


def _pipeline(
    home: Path, from_stage: str | None, to_stage: str | None, memory: PeakMemory
) -> float:
    """Run Mailroom's stages (from ``from_stage`` to ``to_stage``); print and return
    their seconds."""
    from mailroom.settings import Settings
    from orchestration.pipeline import STAGES, run_stages
    from orchestration.project import dbt_target_path

    names = [stage.name for stage in STAGES]
    first = names.index(from_stage) if from_stage else 0
    last = names.index(to_stage) if to_stage else len(STAGES) - 1
    stages = STAGES[first : last + 1]
    settings = Settings.load(home=home, as_of=AS_OF)
    total, peak = 0.0, 0
    results = run_stages(settings, stages, log_path=home / "logs" / "pipeline.log")
    dbt_results = dbt_target_path(settings.warehouse) / "run_results.json"
    dbt_results.unlink(missing_ok=True)
    for _ in stages:
        with memory.measure():
            result = next(results)
        total, peak = total + result.seconds, max(peak, memory.peak)
        print(_row(result.stage.name, result.seconds, memory.peak))
        if dbt_results.exists():
            # kept per stage: dbt's timing of every model and test, for profiling
            dbt_results.rename(home / "logs" / f"run_results-{result.stage.name}.json")
    print(_row("pipeline", total, peak), f"({stages[0].name} to {stages[-1].name})")
    return total


def _reference(home: Path, memory: PeakMemory) -> float:
    """Run the hand-written reference on the landing folder; print its seconds."""
    from reference import run as run_reference

    folder = home / "reference"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    total, peak = 0.0, 0
    steps = run_reference(home / "landing", folder, AS_OF)
    while True:
        with memory.measure():
            step = next(steps, None)
        if step is None:
            break
        name, seconds, produced = step
        total, peak = total + seconds, max(peak, memory.peak)
        print(_row(f"ref {name}", seconds, memory.peak), f"({produced})")
    print(_row("reference", total, peak), "(load to payloads)")
    shutil.rmtree(folder, ignore_errors=True)
    return total


if __name__ == "__main__":
    main()
