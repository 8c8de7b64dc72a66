"""The benchmark scripts run: a broken bench would only be found at the next
measurement, hours into a 1,000,000-customer run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailroom.settings import Settings
from tests.conftest import REPOSITORY


def _bench(script: str, *arguments: str) -> str:
    """What ``bench/<script>`` prints, run from the repository (failing on error)."""
    return subprocess.run(
        [sys.executable, f"bench/{script}", *arguments],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_full_run_times_the_hand_written_reference_on_the_same_landing(
    demo_run: Settings,
) -> None:
    output = _bench("full_run.py", "--reference", "only", "--home", str(demo_run.home))
    steps = [line.split()[1] for line in output.splitlines() if "ref " in line]
    assert steps == ["load", "marts", "ml", "render"]
    assert "reference" in output.splitlines()[-1]
    assert not (demo_run.home / "reference").exists()


def test_full_run_runs_a_range_of_stages_without_the_reference(
    demo_run: Settings, tmp_path: Path
) -> None:
    """``--from-stage``/``--to-stage``: a long run resumed in parts."""
    home = tmp_path / "home"
    shutil.copytree(demo_run.home, home, ignore=shutil.ignore_patterns("dagster"))
    command = [sys.executable, "bench/full_run.py", "--home", str(home)]
    output = _bench(
        "full_run.py",
        "--home",
        str(home),
        "--from-stage",
        "export",
        "--to-stage",
        "export",
    )
    stages = [line.split()[0] for line in output.splitlines()[2:]]
    assert stages == ["export", "pipeline"]
    assert "(export to export)" in output
    backwards = subprocess.run(
        [*command, "--from-stage", "ml", "--to-stage", "ingest"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
    )
    assert backwards.returncode == 2
    assert "--to-stage comes before --from-stage" in backwards.stderr


def test_render_bench_measures_one_process_and_a_pool_in_fresh_interpreters() -> None:
    output = _bench("render_bench.py", "--recipients", "300", "--processes", "1", "2")
    lines = output.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"]
    for line in lines:
        assert "payloads of 300 recipients" in line
        assert "audit rows" in line and "per CPU s" in line


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
def test_render_instructions_bench_counts_a_chunk_under_valgrind() -> None:
    output = _bench("render_instructions.py", "--chunks", "1", "--top", "3")
    first, *top = output.splitlines()
    per_payload, rest = first.split(" instructions a payload ")
    # a chunk of bench recipients, less its holdout; and far more than nothing
    assert rest.startswith("(9") and "payloads in 1 chunks of 1,000" in rest
    assert int(per_payload.replace(",", "")) > 100_000
    assert len(top) == 3 and all("%)" in line for line in top)
