"""Shared fixtures: a real pipeline run on a small generated dataset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mailroom.forget import Person
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


def erased_values(person: Person) -> list[str]:
    """What an erasure must leave nowhere: the person's emails, phones as
    delivered, shop, CRM, Mailroom, visitor and order ids."""
    return sorted(
        person.emails
        | person.phone_texts
        | person.shop_ids
        | person.contact_ids
        | person.customer_ids
        | person.visitor_ids
        | person.order_ids
    )
