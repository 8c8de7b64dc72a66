"""Privacy on a PostgreSQL warehouse. `mailroom forget --postgres`: the person leaves
every table there (raw, staging, intermediate, marts, quality), the request and the
keyed hashes are kept there, and a later landing file naming them again is left out
when ingested into it. `mailroom purge --postgres`: events older than the retention
age leave raw and the incremental event models (after the erasure, in file order).

The warehouse is built the way the README's PostgreSQL section runs it: ingestion
into PostgreSQL, then `dbt build --target postgres` (without the models that need
the ML tables).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from mailroom.dbt_cli import run_dbt
from mailroom.forget import Person, resolve
from mailroom.ingest import ingest_landing
from mailroom.postgres import PostgresDestination
from mailroom.privacy import retention_cutoff
from mailroom.simulator import generate
from orchestration.cli import main
from tests.conftest import DEMO_AS_OF, erased_values
from tests.postgres_server import enter_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@dataclass(frozen=True)
class Erased:
    home: Path
    pg: psycopg.Connection
    person: Person
    email: str
    before_hits: list[tuple[str, str, str, int]]
    customers_before: int
    cli_output: str


def _pick_person(pg: psycopg.Connection) -> str:
    """The email of a person with a shop account, a CRM contact and a phone."""
    return pg.execute(
        """
        select people.email
        from marts.dim_customers as people
        inner join (
            select customer_id from marts.customer_identity_map
            group by customer_id having count(distinct id_type) = 4
        ) as linked on people.customer_id = linked.customer_id
        where people.phone is not null
        order by people.customer_id
        limit 1
        """
    ).fetchone()[0]


def postgres_hits(
    pg: psycopg.Connection, values: list[str], email: str
) -> list[tuple[str, str, str, int]]:
    """Every (schema, table, column, rows) of the database's tables and views whose
    text holds one of ``values``, or ``email`` inside a longer text."""
    columns = pg.execute(
        """
        select table_schema, table_name, column_name
        from information_schema.columns
        where data_type in ('text', 'character varying')
            and table_schema not in ('information_schema', 'pg_catalog')
        order by 1, 2, 3
        """
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        found = pg.execute(
            f'select count(*) from "{schema}"."{table}" '
            f'where "{column}" = any(%s) or lower("{column}") like %s',
            [values, f"%{email}%"],
        ).fetchone()[0]
        if found:
            hits.append((schema, table, column, found))
    return hits


def _customers(pg: psycopg.Connection) -> int:
    return pg.execute("select count(*) from marts.dim_customers").fetchone()[0]


def _build(home: Path) -> None:
    """`dbt build` on the PostgreSQL warehouse, as the README runs it there."""
    run_dbt(
        "build",
        "--target",
        "postgres",
        "--exclude",
        "tag:after_ml",
        warehouse=home / "unused.duckdb",
        as_of=DEMO_AS_OF.isoformat(),
        target_path=home / "target-postgres",
    )


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Erased]:
    with contextlib.ExitStack() as stack:
        server = enter_postgres_database(stack)
        home = tmp_path_factory.mktemp("forget-postgres")
        generate(home, customers=200, seed=7, as_of=DEMO_AS_OF)
        pg = stack.enter_context(server.connect())
        ingest_landing(PostgresDestination(pg), home / "landing", home=home)
        _build(home)
        email = _pick_person(pg)
        person = resolve(PostgresDestination(pg), {email})
        before_hits = postgres_hits(pg, erased_values(person), email)
        customers_before = _customers(pg)

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(
                ["forget", "--home", str(home), "--email", email, "--postgres"]
            )
        assert status == 0
        yield Erased(
            home,
            pg,
            person,
            email,
            before_hits,
            customers_before,
            out.getvalue(),
        )


def test_forget_leaves_no_trace_of_the_person_in_postgres(erased: Erased) -> None:
    # The scan finds them everywhere before (so it would notice a miss) ...
    tables = {(schema, table) for schema, table, _, _ in erased.before_hits}
    assert {"raw", "staging", "intermediate", "marts"} <= {s for s, _ in tables}
    assert erased.person.phones and erased.person.customer_ids
    # ... and nowhere after, once the models are rebuilt from what is left.
    assert postgres_hits(erased.pg, erased_values(erased.person), erased.email) == []
    _build(erased.home)
    assert postgres_hits(erased.pg, erased_values(erased.person), erased.email) == []
    # Everyone else is still there.
    assert _customers(erased.pg) == erased.customers_before - 1
    assert "PostgreSQL rows removed" in erased.cli_output


def test_postgres_records_the_request_with_counts_only(erased: Erased) -> None:
    (request_id, via, rows, per_table), *others = erased.pg.execute(
        "select request_id, via, rows_removed, removed_per_table "
        "from privacy.erasure_requests"
    ).fetchall()
    assert others == []
    assert request_id in erased.cli_output and via.endswith("--postgres")
    assert rows > 0 and '"raw.customers"' in per_table
    assert erased.email not in per_table
    kinds = dict(
        erased.pg.execute(
            "select id_kind, count(*) from privacy.erased_identifiers group by 1"
        ).fetchall()
    )
    assert {"email", "phone", "customer_id", "contact_id"} <= set(kinds)


def test_a_relanded_erased_person_is_left_out_of_postgres(erased: Erased) -> None:
    folder = erased.home / "landing" / "orders"
    (folder / "zz-again.csv").write_text(
        "order_id,email,ordered_at,total_amount\n"
        f"again-1,{erased.email.upper()},2026-10-30T10:00:00Z,12.50\n"
        "again-2,someone.new@example.com,2026-10-30T11:00:00Z,20.00\n"
    )
    report = ingest_landing(
        PostgresDestination(erased.pg), erased.home / "landing", home=erased.home
    )
    assert report.erased_rows("orders") == 1
    landed = erased.pg.execute(
        "select order_id from raw.orders where order_id like 'again-%'"
    ).fetchall()
    assert landed == [("again-2",)]


# Old enough that the cut falls inside the simulated history.
RETENTION_DAYS = 365
PARSED = (
    "public.mailroom_try_cast(case when trim(occurred_at) "
    "~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' then occurred_at end, null::timestamptz)"
)


def test_purge_deletes_old_events_from_postgres(erased: Erased) -> None:
    cutoff = retention_cutoff(DEMO_AS_OF, RETENTION_DAYS)
    kept_tables = (
        "staging.base_web__events",
        "staging.base_esp__email_events",
        "intermediate.int_web_events_sessionized",
    )

    def old_rows(table: str) -> int:
        return erased.pg.execute(
            f"select count(*) from {table} where occurred_at < %s", [cutoff]
        ).fetchone()[0]

    def raw_rows(where: str = "true") -> int:
        return erased.pg.execute(
            f"select count(*) from raw.web_events where {where}",
            [cutoff] if "%s" in where else None,
        ).fetchone()[0]

    assert all(old_rows(table) > 0 for table in kept_tables)
    raw_before = raw_rows()
    old_raw = raw_rows(f"{PARSED} < cast(%s as timestamp) at time zone 'UTC'")
    assert old_raw > 0

    status = main(
        [
            *("purge", "--home", str(erased.home), "--postgres"),
            *("--as-of", DEMO_AS_OF.isoformat()),
            *("--retention-days", str(RETENTION_DAYS)),
        ]
    )

    assert status == 0
    assert [old_rows(table) for table in kept_tables] == [0, 0, 0]
    assert raw_rows() == raw_before - old_raw
    (purged, per_table), *others = erased.pg.execute(
        "select rows_purged, purged_per_table from privacy.retention_purges"
    ).fetchall()
    assert others == []
    assert f'"raw.web_events": {old_raw}' in per_table and purged >= old_raw
