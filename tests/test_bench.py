"""The benchmark scripts run: a broken bench would only be found at the next
measurement, hours into a 1,000,000-customer run."""

from __future__ import annotations

import subprocess
import sys

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
