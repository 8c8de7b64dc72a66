"""The bi schema: what dashboards read holds personal data only hashed or masked.

On a real pipeline run: the email hash is the SHA-256 of the normalized address that
anyone holding the address can reproduce (and no one else can reverse), names and
phones are masked, and the dbt data tests guarding the schema fail when personal data
leaks into it (checked on a copy of the warehouse whose bi views were made to leak).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from mailroom.settings import Settings
from orchestration.project import PYTHON_BIN
from tests.conftest import REPOSITORY

pytestmark = pytest.mark.e2e


def test_email_hash_is_sha256_of_the_normalized_address(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    rows = warehouse.execute(
        "select marts.email, bi.email_sha256 from marts.dim_customers as marts "
        "inner join bi.dim_customers as bi on marts.customer_id = bi.customer_id"
    ).fetchall()
    assert (
        len(rows)
        == warehouse.execute("select count(*) from marts.dim_customers").fetchone()[0]
    )
    with_email = [(email, hashed) for email, hashed in rows if email is not None]
    assert with_email
    for email, hashed in with_email:
        assert hashed == hashlib.sha256(email.strip().lower().encode()).hexdigest()
    assert all(hashed is None for email, hashed in rows if email is None)


def test_names_and_phones_are_masked(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "select marts.first_name, marts.phone, bi.first_name_initial, bi.phone_masked "
        "from marts.dim_customers as marts "
        "inner join bi.dim_customers as bi on marts.customer_id = bi.customer_id "
        "where marts.first_name is not null and marts.phone is not null"
    ).fetchall()
    assert rows
    for first_name, phone, initial, masked in rows:
        assert initial == first_name.strip()[0]
        digits = "".join(character for character in phone if character.isdigit())
        assert masked == "*" * (len(digits) - 2) + digits[-2:]
    columns = {
        row[0]
        for row in warehouse.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'bi' and table_name = 'dim_customers'"
        ).fetchall()
    }
    assert not columns & {"email", "first_name", "last_name", "phone"}


def test_no_bi_text_holds_an_email_address_or_a_name(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    people = warehouse.execute(
        "select email, last_name from marts.dim_customers"
    ).fetchall()
    emails = {email for email, _ in people if email}
    last_names = {name for _, name in people if name and len(name) > 3}
    text_columns = warehouse.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'bi' and data_type = 'VARCHAR'"
    ).fetchall()
    assert len({table for table, _ in text_columns}) >= 6
    for table, column in text_columns:
        sql = f'select distinct "{column}" from bi.{table} where "{column}" is not null'
        values = {row[0] for row in warehouse.execute(sql).fetchall()}
        assert not {value for value in values if "@" in value}, f"{table}.{column}"
        assert not values & emails and not values & last_names, f"{table}.{column}"


LEAKS = {
    # An email in a column nobody declared, and personal data in the clear where
    # the masked forms belong.
    "fct_orders": "select *, 'ana.silva@example.com' as note from marts.fct_orders",
    "dim_customers": (
        "select * replace (email as email_sha256, phone as phone_masked, "
        "first_name as first_name_initial) from ("
        "select bi.*, marts.email, marts.phone, marts.first_name "
        "from bi_clean.dim_customers as bi "
        "inner join marts.dim_customers as marts using (customer_id))"
    ),
}
EXPECTED_FAILURES = {
    "holds_no_email_address_bi_fct_orders_",
    "holds_no_email_address_bi_dim_customers_",
    "is_sha256_hex_bi_dim_customers_email_sha256",
    "is_masked_bi_dim_customers_first_name_initial__initial",
    "is_masked_bi_dim_customers_phone_masked__last_two_digits",
}


def test_bi_data_tests_fail_when_personal_data_leaks(
    demo_run: Settings, tmp_path: Path
) -> None:
    leaky = tmp_path / "leaky.duckdb"
    shutil.copyfile(demo_run.warehouse, leaky)
    with duckdb.connect(str(leaky)) as con:
        con.execute("create schema bi_clean")
        con.execute(
            "create table bi_clean.dim_customers as select * from bi.dim_customers"
        )
        for view, sql in LEAKS.items():
            con.execute(f"create or replace view bi.{view} as {sql}")
    target = tmp_path / "target"
    result = subprocess.run(
        [
            str(PYTHON_BIN / "dbt"),
            *("test", "--select", "bi_fct_orders", "bi_dim_customers"),
            *("--profiles-dir", str(REPOSITORY), "--target-path", str(target)),
            *("--log-path", str(tmp_path / "logs")),
        ],
        cwd=REPOSITORY,
        env={
            **os.environ,
            "MAILROOM_WAREHOUSE": str(leaky),
            "MAILROOM_AS_OF": str(demo_run.as_of),
            "MAILROOM_DBT_TARGET": "duckdb",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0, result.stdout[-3000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    failed = {
        entry["unique_id"].split(".")[2]
        for entry in results
        if entry["status"] in ("fail", "error")
    }
    assert failed == EXPECTED_FAILURES, result.stdout[-3000:]
