"""The same landing files, ingested into PostgreSQL and built there with the same dbt
project (every model, seed, unit and data test), give the same marts as DuckDB.

The DuckDB side is the real pipeline (ingest, dbt, ml, personalize). The ML step
reads and writes DuckDB only, so its three tables are handed to PostgreSQL before the
personalization marts are built there.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest

from mailroom.ingest import IngestReport, ingest_landing
from mailroom.postgres import PostgresDestination, PostgresSettings, replace_table
from mailroom.settings import Settings
from orchestration.project import PYTHON_BIN
from tests.conftest import REPOSITORY
from tests.postgres_server import postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

AS_OF = date(2026, 11, 1)
ML_TABLES = ("customer_clusters", "customer_predictions", "product_recommendations")
BAD_ORDERS = "order_id,customer_id,total_amount\no-x,c-x,5\n"
# Parallel plans on these small tables too, as PostgreSQL picks them for big ones:
# functions that parallel workers cannot run then fail here, not in production.
PARALLEL_EVEN_WHEN_SMALL = (
    "-c parallel_setup_cost=0 -c parallel_tuple_cost=0 "
    "-c min_parallel_table_scan_size=0"
)


@dataclass(frozen=True)
class Builds:
    duckdb: Path
    postgres: psycopg.Connection
    dbt_output: str
    rerun_output: str
    ingest: IngestReport
    duckdb_ingest: IngestReport
    home: Path
    server: PostgresSettings


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    from mailroom.simulator import generate
    from orchestration.pipeline import STAGES, run_stages

    with ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_database())
        except LookupError as missing:
            pytest.skip(str(missing))
        home = tmp_path_factory.mktemp("postgres")
        generate(home, customers=300, seed=11, as_of=AS_OF)
        (home / "landing" / "orders" / "zz-missing-column.csv").write_text(BAD_ORDERS)
        settings = Settings.load(home=home, as_of=AS_OF)
        stages = tuple(stage for stage in STAGES if stage.name != "render")
        list(run_stages(settings, stages, log_path=home / "logs" / "pipeline.log"))
        with duckdb.connect() as scratch:
            duckdb_ingest = ingest_landing(scratch, settings.landing)

        pg = stack.enter_context(server.connect())
        ingest = ingest_landing(PostgresDestination(pg), settings.landing)
        with duckdb.connect(str(settings.warehouse), read_only=True) as warehouse:
            for table in ML_TABLES:
                data = warehouse.sql(f"select * from ml.{table}").to_arrow_table()
                replace_table(pg, "ml", table, data)

        def dbt(*args: str) -> str:
            result = subprocess.run(
                [
                    str(PYTHON_BIN / "dbt"),
                    *args,
                    *("--profiles-dir", str(REPOSITORY), "--target", "postgres"),
                    *("--target-path", str(home / "target-postgres")),
                    *("--log-path", str(home / "logs")),
                ],
                cwd=REPOSITORY,
                env={
                    **os.environ,
                    **server.env(),
                    "MAILROOM_AS_OF": str(AS_OF),
                    "PGOPTIONS": PARALLEL_EVEN_WHEN_SMALL,
                },
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, result.stdout[-4000:]
            return result.stdout

        build = dbt("build")
        # A second run of the same day takes the incremental models' incremental
        # branch (delete+insert) and must leave them as they were.
        rerun = dbt("build", "--select", "config.materialized:incremental")
        yield Builds(
            settings.warehouse, pg, build, rerun, ingest, duckdb_ingest, home, server
        )


def _both(builds: Builds, sql: str) -> tuple[list[tuple], list[tuple]]:
    with duckdb.connect(str(builds.duckdb), read_only=True) as warehouse:
        in_duckdb = warehouse.execute(sql).fetchall()
    return in_duckdb, builds.postgres.execute(sql).fetchall()


def test_dbt_build_runs_every_model_seed_and_test_on_postgres(builds: Builds) -> None:
    summary = builds.dbt_output.strip().splitlines()[-1]
    assert "ERROR=0" in summary and "SKIP=0" in summary, summary
    counts = _both(builds, "select count(*) from marts.personalization")
    assert counts[0] == counts[1] and counts[0][0][0] > 0


def test_ingestion_ledger_and_raw_rows_match_duckdb(builds: Builds) -> None:
    assert builds.ingest.row_issues == builds.duckdb_ingest.row_issues
    assert builds.ingest.row_issues
    assert [load.status for load in builds.ingest.loads] == [
        load.status for load in builds.duckdb_ingest.loads
    ]
    ledger = (
        "select source, file_name, checksum, status, row_count, message "
        "from raw._file_loads order by source, file_name"
    )
    in_duckdb, in_postgres = _both(builds, ledger)
    assert in_postgres == in_duckdb
    assert ("refused",) in {(row[3],) for row in in_postgres}
    rows = _both(
        builds,
        "select count(*), count(email), count(distinct _file_name) from raw.orders",
    )
    assert rows[0] == rows[1]


@pytest.mark.parametrize(
    "sql",
    [
        "select email_raw, email_normalized, is_valid, problem, suggested_email "
        "from raw._email_checks",
        "select phone_raw, country_raw, phone_e164, is_valid, problem "
        "from raw._phone_checks",
    ],
    ids=["emails", "phones"],
)
def test_load_time_verdicts_match_duckdb(builds: Builds, sql: str) -> None:
    in_duckdb, in_postgres = _both(builds, sql)
    assert sorted(in_postgres, key=repr) == sorted(in_duckdb, key=repr)
    assert in_postgres


def test_mailroom_ingest_postgres_loads_nothing_twice(
    builds: Builds, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from orchestration.cli import main

    for name, value in builds.server.env().items():
        monkeypatch.setenv(name, value)
    assert main(["ingest", "--home", str(builds.home), "--postgres"]) == 0
    assert "0 files loaded (0 rows)" in capsys.readouterr().out
    counts = _both(builds, "select count(*) from raw.orders")
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    "sql",
    [
        "select as_of_date, count(*) from marts.fct_customer_segment_history "
        "group by as_of_date",
        "select count(*), count(distinct journey_step_id) from marts.fct_journey_steps",
    ],
    ids=["segment_history", "journey_steps"],
)
def test_incremental_models_rerun_in_place_on_postgres(
    builds: Builds, sql: str
) -> None:
    summary = builds.rerun_output.strip().splitlines()[-1]
    assert "ERROR=0" in summary and "SKIP=0" in summary, summary
    in_duckdb, in_postgres = _both(builds, sql)
    assert in_postgres == in_duckdb


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) from marts.dim_customers",
        "select count(*), sum(total_amount) from marts.fct_orders",
        "select rfm_segment, count(*) from marts.fct_customer_rfm "
        "group by rfm_segment order by rfm_segment",
        "select segment_type, segment, count(*) from marts.fct_customer_segments "
        "group by segment_type, segment order by segment_type, segment",
        "select source_name, quarantine_reason, count(*) from quality.quarantined_rows "
        "group by source_name, quarantine_reason order by 1, 2",
        "select customer_id from marts.dim_customers order by customer_id",
        "select source_name, outlier_reason, count(*) from quality.amount_outliers "
        "group by source_name, outlier_reason order by 1, 2",
        "select segment_size_id, customers, sendable_customers, share_of_people "
        "from marts.fct_segment_sizes order by 1",
        "select rfm_grid_cell_id, main_segment, customers, average_monetary, "
        "average_recency_days from marts.fct_rfm_grid order by 1",
        "select order_month, orders, buying_customers, revenue "
        "from marts.fct_orders_monthly order by 1",
        "select count(*), min(date_day), max(date_day) "
        "from marts.metricflow_time_spine",
    ],
    ids=[
        "customers",
        "orders",
        "rfm_segments",
        "segments",
        "quarantine",
        "ids",
        "amount_outliers",
        "segment_sizes",
        "rfm_grid",
        "orders_monthly",
        "time_spine",
    ],
)
def test_marts_match_the_duckdb_build(builds: Builds, sql: str) -> None:
    in_duckdb, in_postgres = _both(builds, sql)
    assert in_postgres == in_duckdb
    assert in_postgres


def test_bi_email_hashes_are_the_same_sha256_on_both_engines(builds: Builds) -> None:
    # Dispatched sha256_hex: DuckDB's sha256, PostgreSQL's sha256 over UTF-8 bytes.
    sql = (
        "select bi.customer_id, bi.email_sha256, marts.email "
        "from bi.dim_customers as bi inner join marts.dim_customers as marts "
        "on bi.customer_id = marts.customer_id where marts.email is not null "
        "order by bi.customer_id"
    )
    in_duckdb, in_postgres = _both(builds, sql)
    assert in_postgres == in_duckdb
    assert in_postgres
    for _, hashed, email in in_postgres:
        assert hashed == hashlib.sha256(email.strip().lower().encode()).hexdigest()


def test_contracted_marts_have_the_same_columns_on_both_engines(
    builds: Builds,
) -> None:
    # The same contract YAML built both: same columns, in the same order.
    sql = (
        "select table_schema, table_name, column_name, ordinal_position "
        "from information_schema.columns where table_schema in ('marts', 'bi') "
        "and table_name in ('dim_customers', 'customer_identity_map', 'fct_orders', "
        "'fct_customer_rfm', 'fct_customer_segments', 'fct_campaign_variants', "
        "'personalization', 'personalization_product_picks', 'customer_clusters') "
        "order by 1, 2, 4"
    )
    in_duckdb, in_postgres = _both(builds, sql)
    assert [row[:3] for row in in_postgres] == [row[:3] for row in in_duckdb]
    assert len({row[:2] for row in in_postgres}) == 14


def test_string_similarity_gives_duckdbs_jaro_winkler_values(builds: Builds) -> None:
    pairs = [("martha", "marhta"), ("dwayne", "duane"), ("jon", "john"), ("", "")]
    pairs += [("anna", "anna"), ("müller", "mueller"), ("crate", "trace")]
    with duckdb.connect() as con:
        expected = [
            con.execute("select jaro_winkler_similarity(?, ?)", pair).fetchone()[0]
            for pair in pairs
        ]
    # The on-run-start hook created the function in the target schema (public).
    actual = [
        builds.postgres.execute(
            "select public.mailroom_jaro_winkler(%s::text, %s::text)", pair
        ).fetchone()[0]
        for pair in pairs
    ]
    assert actual == pytest.approx(expected, abs=1e-12)


def test_ingestion_and_dbt_read_the_same_connection_variables() -> None:
    profile = (REPOSITORY / "profiles.yml").read_text()
    postgres_output = profile[profile.index("    postgres:") :]
    read_by_dbt = set(re.findall(r"env_var\('(MAILROOM_PG_\w+)'", postgres_output))
    assert read_by_dbt == set(PostgresSettings().env())
    settings = PostgresSettings.from_env({"MAILROOM_PG_PORT": "6543"})
    assert settings.port == 6543 and settings.dbname == "mailroom"
    with pytest.raises(ValueError, match="MAILROOM_PG_PORT must be a port number"):
        PostgresSettings.from_env({"MAILROOM_PG_PORT": "five"})
