"""Shared fixtures: a real pipeline run on a small generated dataset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mailroom.settings import Settings

REPOSITORY = Path(__file__).resolve().parent.parent
SHARED_DATA = REPOSITORY.parent / "shared" / "data"
DEMO_AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """1,500 simulated customers through every stage (ingest, dbt, ml, render)."""
    from mailroom.simulator import generate
    from orchestration.pipeline import run_stages

    home = tmp_path_factory.mktemp("demo")
    generate(home, customers=1500, seed=7, as_of=DEMO_AS_OF)
    settings = Settings.load(home=home, as_of=DEMO_AS_OF)
    list(run_stages(settings, log_path=home / "logs" / "pipeline.log"))
    return settings


@pytest.fixture
def warehouse(demo_run: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        yield con
