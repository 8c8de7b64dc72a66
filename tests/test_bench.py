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


def test_full_run_times_the_hand_written_reference_on_the_same_landing(
    demo_run: Settings,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/full_run.py",
            "--reference",
            "only",
            "--home",
            str(demo_run.home),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    steps = [line.split()[1] for line in result.stdout.splitlines() if "ref " in line]
    assert steps == ["load", "marts", "ml", "render"]
    assert "reference" in result.stdout.splitlines()[-1]
    assert not (demo_run.home / "reference").exists()


def test_full_run_runs_a_range_of_stages_without_the_reference(
    demo_run: Settings, tmp_path: Path
) -> None:
    """``--from-stage``/``--to-stage``: a long run resumed in parts."""
    home = tmp_path / "home"
    shutil.copytree(demo_run.home, home, ignore=shutil.ignore_patterns("dagster"))
    command = [sys.executable, "bench/full_run.py", "--home", str(home)]
    result = subprocess.run(
        [*command, "--from-stage", "export", "--to-stage", "export"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    stages = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert stages == ["export", "pipeline"]
    assert "(export to export)" in result.stdout
    backwards = subprocess.run(
        [*command, "--from-stage", "ml", "--to-stage", "ingest"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
    )
    assert backwards.returncode == 2
    assert "--to-stage comes before --from-stage" in backwards.stderr


def test_render_bench_measures_one_process_and_a_pool_in_fresh_interpreters() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/render_bench.py",
            "--recipients",
            "300",
            "--processes",
            "1",
            "2",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"]
    for line in lines:
        assert "payloads of 300 recipients" in line
        assert "audit rows" in line and "per CPU s" in line


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
def test_render_instructions_bench_counts_a_chunk_under_valgrind() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/render_instructions.py",
            "--chunks",
            "1",
            "--top",
            "3",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    first, *top = result.stdout.splitlines()
    per_payload, rest = first.split(" instructions a payload ")
    # a chunk of bench recipients, less its holdout; and far more than nothing
    assert rest.startswith("(9") and "payloads in 1 chunks of 1,000" in rest
    assert int(per_payload.replace(",", "")) > 100_000
    assert len(top) == 3 and all("%)" in line for line in top)
