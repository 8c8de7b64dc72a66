"""Person resolution measured against known truth: the simulator's people, the FEBRL
benchmark, and the stability of person ids when new data arrives."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from mailroom.datasets import febrl
from mailroom.identity_quality import build_identities, febrl_scores, simulator_scores
from mailroom.ingest import ingest_landing
from mailroom.settings import Settings
from tests.conftest import DEMO_AS_OF, SHARED_DATA

FEBRL_CSV = SHARED_DATA / "febrl" / "febrl_dataset3.csv"


def _defects(settings: Settings, defect: str) -> str:
    """The raw rows the simulator spoiled with ``defect``, with their detail."""
    truth = settings.home / "ground_truth" / "defects.parquet"
    return f"""
        select defects.source, defects.detail, defects.file_name, defects.row_number
        from read_parquet('{truth}') as defects
        where defects.defect = '{defect}'
    """


def test_resolution_is_precise_and_complete_on_the_simulators_people(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    scores = simulator_scores(warehouse, demo_run.home / "ground_truth")
    assert scores.true_pairs > 1000
    assert scores.precision >= 0.999, str(scores)
    assert scores.recall >= 0.99, str(scores)


def test_a_contact_registered_again_joins_the_first_by_fuzzy_match(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    # The second contact shares no identifier with the first: new id, new email, no
    # phone. Only name, birth date and address can bring them together.
    rows = warehouse.execute(
        f"""
        with again as (
            select raw.contact_id
            from ({_defects(demo_run, "reregistered_contact")}) as defects
            inner join raw.crm_contacts as raw
                on raw._file_name = defects.file_name
                and raw._row_number = defects.row_number
        )
        select again.contact_id, second.customer_id = first.customer_id
        from again
        inner join marts.customer_identity_map as second
            on second.id_type = 'contact_id' and second.id_value = again.contact_id
        inner join marts.customer_identity_map as first
            on first.id_type = 'contact_id'
            and first.id_value = replace(again.contact_id, '-2', '')
        """
    ).fetchall()
    assert len(rows) >= 5
    assert all(same for _, same in rows), [c for c, same in rows if not same]


def test_shared_emails_and_placeholder_phones_merge_nobody(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    shared = warehouse.execute(
        f"""
        select raw.customer_id, raw.email
        from ({_defects(demo_run, "shared_email")}) as defects
        inner join raw.customers as raw
            on raw._file_name = defects.file_name
            and raw._row_number = defects.row_number
        """
    ).fetchall()
    assert shared, "the simulation should share some emails between accounts"
    for customer_id, email in shared:
        # The household's accounts stay apart: each its own person.
        people = warehouse.execute(
            """
            select count(distinct account.customer_id)
            from raw.customers as raw
            inner join marts.customer_identity_map as account
                on account.id_type = 'customer_id'
                and account.id_value = trim(raw.customer_id)
            where lower(trim(raw.email)) = lower(trim(?))
            """,
            [email],
        ).fetchall()[0][0]
        assert people >= 2, customer_id

    placeholders = warehouse.execute(
        f"""
        select count(*) from ({_defects(demo_run, "placeholder_phone")})
        """
    ).fetchall()[0][0]
    leaked = warehouse.execute(
        """
        select id_value from marts.customer_identity_map
        where id_type = 'phone'
            and regexp_replace(id_value, '[^0-9]', '', 'g')
                in ('0000000000', '00000000', '1234567890')
        """
    ).fetchall()
    assert placeholders > 0
    assert leaked == []


@pytest.mark.skipif(
    not FEBRL_CSV.is_file(),
    reason=f"FEBRL benchmark not found at {FEBRL_CSV} (../shared/data/febrl)",
)
def test_febrl_benchmark_through_the_crm_landing(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    assert febrl.write_landing(FEBRL_CSV, landing) == 5000
    with duckdb.connect(str(warehouse)) as con:
        ingest_landing(con, landing, require_orders=False)
    build_identities(warehouse, DEMO_AS_OF.isoformat(), tmp_path / "target")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        scores = febrl_scores(con)
    assert scores.true_pairs == 6538
    assert scores.f1 >= 0.995, str(scores)


def _people(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(
        con.execute(
            "select identifier_key, customer_id "
            "from intermediate.int_identity_components"
        ).fetchall()
    )


def test_person_ids_survive_new_data_and_every_change_is_logged(
    demo_run: Settings, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        before = _people(con)
        contacts = con.execute(
            "select count(*) from staging.stg_crm__contacts"
        ).fetchall()[0][0]
        # Two existing people, to be linked by one new contact carrying the email of
        # one and the phone of the other.
        email, phone, first, second = con.execute(
            """
            with two as (
                select email.id_value as email, phone.id_value as phone,
                    email.customer_id as first, phone.customer_id as second
                from intermediate.int_identity_components as email
                inner join intermediate.int_identity_components as phone
                    on email.customer_id < phone.customer_id
                where email.id_type = 'email' and phone.id_type = 'phone'
                    and phone.id_value like '+%'
                limit 1
            )
            select email, phone, first, second from two
            """
        ).fetchall()[0]
        # About 1 % new contacts: people registering again under a new id and email.
        new_rows = con.execute(
            f"""
            select contact_id || '-late' as contact_id,
                'late.' || contact_id || '@example.org' as email,
                first_name, last_name, birth_date, street, city, postal_code, country
            from staging.stg_crm__contacts
            where birth_date is not null
            order by contact_id
            limit {max(1, contacts // 100)}
            """
        ).fetchall()

    landing = tmp_path / "landing" / "crm_contacts"
    landing.mkdir(parents=True)
    with (landing / "late.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "contact_id",
                "email",
                "phone",
                "first_name",
                "last_name",
                "birth_date",
                "street",
                "city",
                "postal_code",
                "country",
            ]
        )
        writer.writerow(["bridge-1", email, phone] + [""] * 7)
        writer.writerows(
            [contact_id, new_email, "", *fields]
            for contact_id, new_email, *fields in new_rows
        )

    with duckdb.connect(str(warehouse)) as con:
        ingest_landing(con, tmp_path / "landing", require_orders=False)
    build_identities(warehouse, DEMO_AS_OF.isoformat(), tmp_path / "target")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = _people(con)
        log = con.execute(
            "select old_customer_id, new_customer_id, change_type "
            "from marts.customer_merge_log where version = "
            "(select max(version) from marts.customer_merge_log)"
        ).fetchall()

    old_people: dict[str, set[str]] = {}
    for key, customer_id in before.items():
        old_people.setdefault(customer_id, set()).add(after[key])
    kept = sum(ids == {old} for old, ids in old_people.items())
    assert kept / len(old_people) >= 0.999, (kept, len(old_people))

    # The bridge merged the two people; the log says so, and says nothing else.
    assert after[f"email:{email}"] == after[f"phone:{phone}"]
    changed = {(old, after[key]) for key, old in before.items() if after[key] != old}
    assert changed, "the bridging contact should have merged two people"
    assert {(old, new) for old, new, _ in log} == changed
    assert {old for old, _ in changed} <= {first, second}
