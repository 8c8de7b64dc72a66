"""Run the project's dbt on a given warehouse outside Dagster: for tests, benchmarks
and measurement scripts that build a few models on a copy of the data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
# The dbt installed beside this Python, whether or not its venv is active.
DBT = Path(sys.executable).parent / "dbt"


def run_dbt(
    command: str,
    *args: str,
    warehouse: Path,
    as_of: str,
    target_path: Path,
) -> None:
    """``dbt <command> <args>`` on ``warehouse`` as of ``as_of`` (YYYY-MM-DD).

    ``target_path`` keeps the run's artifacts apart from the manifest Dagster reads.
    Raises ``CalledProcessError`` when dbt fails (a model, or a test under build).
    """
    subprocess.run(
        [
            str(DBT),
            command,
            "--quiet",
            "--profiles-dir",
            str(REPOSITORY),
            "--project-dir",
            str(REPOSITORY),
            "--target-path",
            str(target_path),
            *args,
        ],
        env={
            **os.environ,
            "MAILROOM_WAREHOUSE": str(warehouse),
            "MAILROOM_AS_OF": as_of,
        },
        check=True,
    )
