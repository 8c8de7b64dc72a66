"""End to end: generated landing files through Dagster, dbt, clustering and rendering,
checked against the simulator's ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from mailroom.contract import SOURCES
from mailroom.settings import Settings
from renderer.outbox import read_outbox

pytestmark = pytest.mark.e2e

# Injected defects that make a row unusable: each must be in the quarantine.
QUARANTINED_DEFECTS = [
    ("orders", "future_timestamp", None),
    ("orders", "zero_amount", None),
    ("orders", "negative_amount", None),
    ("orders", "missing_value", "total_amount"),
    ("web_events", "future_timestamp", None),
    ("web_events", "unparsable_timestamp", None),
    ("web_events", "duplicate_event_id", None),
    ("email_events", "future_timestamp", None),
    ("email_events", "duplicate_event_id", None),
]


def _truth(settings: Settings, name: str) -> str:
    return f"read_parquet('{settings.home / 'ground_truth' / name}.parquet')"


def test_every_raw_row_is_staged_or_quarantined(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    rows = warehouse.execute(
        "select source_name, raw_rows, staged_rows, quarantined_rows "
        "from quality.source_reconciliation"
    ).fetchall()
    assert {row[0] for row in rows} == set(SOURCES)
    for source, raw, staged, quarantined in rows:
        assert raw == staged + quarantined, source
        delivered = warehouse.execute(f"select count(*) from raw.{source}").fetchone()[
            0
        ]
        assert raw == delivered > 0, source


@pytest.mark.parametrize(("source", "defect", "column"), QUARANTINED_DEFECTS)
def test_unusable_rows_are_quarantined_with_a_reason(
    demo_run: Settings,
    warehouse: duckdb.DuckDBPyConnection,
    source: str,
    defect: str,
    column: str | None,
) -> None:
    column_filter = f"and defects.column = '{column}'" if column else ""
    injected, missed = warehouse.execute(
        f"""
        select count(*), count(*) filter (where quarantined.source_name is null)
        from {_truth(demo_run, "defects")} as defects
        left join quality.quarantined_rows as quarantined
            on quarantined.source_name = defects.source
            and quarantined.file_name = defects.file_name
            and quarantined.file_row_number = defects.row_number
        where defects.source = ? and defects.defect = ? {column_filter}
        """,
        [source, defect],
    ).fetchone()
    assert injected > 0, f"the simulator injected no {defect} into {source}"
    assert missed == 0, f"{missed} of {injected} {defect} rows of {source} staged"


def test_orders_with_invalid_emails_lose_the_email_or_are_quarantined(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    # A guest order's email is its only link to a person: without a usable one the
    # order is quarantined. An account order keeps its account and drops the email.
    outcomes = warehouse.execute(
        f"""
        select
            nullif(trim(raw.customer_id), '') is null as is_guest,
            quarantined.quarantine_reason,
            staged.order_id is not null and staged.email is null as kept_without_email
        from {_truth(demo_run, "defects")} as defects
        inner join raw.orders as raw
            on raw._file_name = defects.file_name
            and raw._row_number = defects.row_number
        left join quality.quarantined_rows as quarantined
            on quarantined.source_name = 'orders'
            and quarantined.file_name = defects.file_name
            and quarantined.file_row_number = defects.row_number
        left join staging.stg_shop__orders as staged
            on staged.file_name = defects.file_name
            and staged.file_row_number = defects.row_number
        where defects.source = 'orders' and defects.defect = 'invalid_email'
        """
    ).fetchall()
    assert outcomes, "the simulator injected no invalid email into orders"
    for is_guest, reason, kept_without_email in outcomes:
        if is_guest:
            assert reason is not None
        else:
            assert kept_without_email or reason is not None


@pytest.mark.parametrize(
    ("source", "base_model"),
    [("customers", "base_shop__customers"), ("crm_contacts", "base_crm__contacts")],
)
def test_invalid_emails_of_accounts_are_flagged_not_used(
    demo_run: Settings,
    warehouse: duckdb.DuckDBPyConnection,
    source: str,
    base_model: str,
) -> None:
    flags = warehouse.execute(
        f"""
        select base.is_email_valid, base.email
        from {_truth(demo_run, "defects")} as defects
        inner join staging.{base_model} as base
            on base.file_name = defects.file_name
            and base.file_row_number = defects.row_number
        where defects.source = ? and defects.defect = 'invalid_email'
        """,
        [source],
    ).fetchall()
    assert flags
    assert all(valid is False and email is None for valid, email in flags)


def test_unknown_products_in_order_items_are_flagged(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    flagged = warehouse.execute(
        f"""
        select distinct bought.is_known_product
        from {_truth(demo_run, "defects")} as defects
        inner join staging.stg_shop__order_items as items
            on items.file_name = defects.file_name
            and items.file_row_number = defects.row_number
        inner join intermediate.int_customer_products_bought as bought
            on bought.product_id = items.product_id
        where defects.source = 'order_items' and defects.defect = 'unknown_product_id'
        """
    ).fetchall()
    assert flagged == [(False,)]


def test_unknown_products_in_web_events_are_flagged(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    flags = warehouse.execute(
        f"""
        select distinct events.is_known_product
        from {_truth(demo_run, "defects")} as defects
        inner join staging.stg_web__events as staged
            on staged.file_name = defects.file_name
            and staged.file_row_number = defects.row_number
        inner join intermediate.int_web_events_enriched as events
            on events.event_id = staged.event_id
        where defects.source = 'web_events' and defects.defect = 'unknown_product_id'
        """
    ).fetchall()
    assert flags == [(False,)]


@pytest.mark.parametrize(
    ("source", "staged_model"),
    [("order_items", "stg_shop__order_items"), ("web_events", "stg_web__events")],
)
def test_unknown_products_are_listed_as_orphans(
    demo_run: Settings,
    warehouse: duckdb.DuckDBPyConnection,
    source: str,
    staged_model: str,
) -> None:
    # Rows quarantined for another reason (a duplicate event id) are not staged.
    injected, listed = warehouse.execute(
        f"""
        select count(*), count(orphans.source_name)
        from {_truth(demo_run, "defects")} as defects
        inner join staging.{staged_model} as staged
            on staged.file_name = defects.file_name
            and staged.file_row_number = defects.row_number
        left join quality.orphan_rows as orphans
            on orphans.source_name = defects.source
            and orphans.file_name = defects.file_name
            and orphans.file_row_number = defects.row_number
            and orphans.orphan_reason = 'unknown_product_id'
        where defects.source = ? and defects.defect = 'unknown_product_id'
        """,
        [source],
    ).fetchone()
    assert injected > 0 and listed == injected


def test_nobody_without_consent_is_in_the_outbox(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    manifest, payloads = read_outbox(demo_run.outbox)
    emails = [payload["email"] for payload in payloads]
    assert manifest.payload_count == len(emails) > 100
    warehouse.execute("create temporary table outbox (email varchar)")
    warehouse.executemany("insert into outbox values (?)", [[e] for e in emails])
    people = warehouse.execute(
        f"""
        select people.has_consent, count(*)
        from outbox
        inner join (
            select distinct normalized_value, person_id
            from {_truth(demo_run, "identifiers")}
            where id_type = 'email'
        ) as identifiers
            on identifiers.normalized_value = outbox.email
        inner join {_truth(demo_run, "people")} as people
            on people.person_id = identifiers.person_id
        group by 1
        """
    ).fetchall()
    # Every address maps to one true person, who has a valid opt-in.
    assert dict(people) == {True: len(emails)}


def test_opted_out_people_get_no_payload(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    _, payloads = read_outbox(demo_run.outbox)
    outbox = {payload["email"] for payload in payloads}
    opted_out = {
        email
        for (email,) in warehouse.execute(
            f"""
            select distinct people.email
            from {_truth(demo_run, "people")} as people
            where not people.has_consent
            """
        ).fetchall()
    }
    assert len(opted_out) > 100
    assert not outbox & opted_out


def test_every_payload_names_its_recipient_and_segment(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    recipients = {
        customer_id: (email, segment)
        for customer_id, email, segment in warehouse.execute(
            "select customer_id, email, rfm_segment from marts.personalization"
        ).fetchall()
    }
    held_out = {
        customer_id
        for (customer_id,) in warehouse.execute(
            "select customer_id from emails.decision_audit where block_id = 'holdout'"
        ).fetchall()
    }
    _, payloads = read_outbox(demo_run.outbox)
    payloads = list(payloads)
    # Everyone sendable gets a payload, except the holdout (about a tenth).
    assert len(payloads) + len(held_out) == len(recipients)
    assert 0.05 < len(held_out) / len(recipients) < 0.15
    for payload in payloads:
        email, segment = recipients[payload["recipient_id"]]
        assert payload["recipient_id"] not in held_out
        assert payload["email"] == email
        assert payload["segment"] == segment
        assert payload["variant"] in ("A", "B")
        assert payload["subject"] and payload["html"] and payload["text"]


def test_decision_audit_explains_every_block_of_every_payload(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    _, payloads = read_outbox(demo_run.outbox)
    fired = {
        (customer_id, block_id)
        for customer_id, block_id in warehouse.execute(
            "select customer_id, block_id from emails.decision_audit where fired"
        ).fetchall()
    }
    for payload in payloads:
        for block in payload["blocks"]:
            assert (payload["recipient_id"], block) in fired
    missing_rules = warehouse.execute(
        "select count(*) from emails.decision_audit where rule is null"
    ).fetchone()[0]
    assert missing_rules == 0


def test_rfm_gives_every_person_exactly_one_segment(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    people, segmented, rfm_rows = warehouse.execute(
        """
        select
            (select count(*) from marts.dim_customers),
            (select count(distinct customer_id) from marts.fct_customer_segments
             where segment_type = 'rfm'),
            (select count(*) from marts.fct_customer_segments
             where segment_type = 'rfm')
        """
    ).fetchone()
    assert people == segmented == rfm_rows


def test_rerunning_loads_nothing_twice(demo_run: Settings) -> None:
    from mailroom.ingest import ingest_landing

    with duckdb.connect(str(demo_run.warehouse)) as con:
        before = con.execute("select count(*) from raw.web_events").fetchone()[0]
        report = ingest_landing(con, demo_run.landing)
        after = con.execute("select count(*) from raw.web_events").fetchone()[0]
    assert report.rows_loaded() == 0
    assert report.files("skipped") == len(report.loads) > 0
    assert before == after


def test_no_resolved_person_holds_two_true_people(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    merged, resolved = warehouse.execute(
        f"""
        with truth as (
            select distinct source, id_type, normalized_value, person_id
            from {_truth(demo_run, "identifiers")}
        ),
        people as (
            select map.customer_id, count(distinct truth.person_id) as true_people
            from marts.customer_identity_map as map
            inner join truth
                on truth.source = map.source_name
                and truth.id_type = map.id_type
                and truth.normalized_value = map.id_value
            group by map.customer_id
        )
        select count(*) filter (where true_people > 1), count(*) from people
        """
    ).fetchone()
    assert resolved > 1000
    assert merged == 0


def test_near_duplicate_crm_contacts_join_their_shop_account(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    # Each variant changes one thing (email case, a name, the phone or the email);
    # what stays the same (normalized email or phone) links the two records.
    rows = warehouse.execute(
        f"""
        with variants as (
            select distinct raw.contact_id, truth.person_id, defects.detail
            from {_truth(demo_run, "defects")} as defects
            inner join raw.crm_contacts as raw
                on raw._file_name = defects.file_name
                and raw._row_number = defects.row_number
            inner join {_truth(demo_run, "identifiers")} as truth
                on truth.source = 'crm_contacts'
                and truth.id_type = 'contact_id'
                and truth.id_value = raw.contact_id
            where defects.defect = 'duplicate_person_variant'
        ),
        accounts as (
            select distinct truth.person_id, map.customer_id
            from {_truth(demo_run, "identifiers")} as truth
            inner join marts.customer_identity_map as map
                on map.source_name = 'customers'
                and map.id_type = 'customer_id'
                and map.id_value = truth.id_value
            where truth.source = 'customers' and truth.id_type = 'customer_id'
        )
        select variants.detail, contact.customer_id = accounts.customer_id
        from variants
        inner join marts.customer_identity_map as contact
            on contact.source_name = 'crm_contacts'
            and contact.id_type = 'contact_id'
            and contact.id_value = variants.contact_id
        inner join accounts
            on accounts.person_id = variants.person_id
        """
    ).fetchall()
    assert len({detail for detail, _ in rows}) >= 4
    assert all(same for _, same in rows), [d for d, same in rows if not same]


def test_export_command_sends_each_changed_recipient_once(
    demo_run: Settings, tmp_path: Path
) -> None:
    from orchestration.cli import main
    from tests.fake_esp import FakeESP

    outbox = tmp_path / "outbox"
    shutil.copytree(demo_run.outbox, outbox)
    _, payloads = read_outbox(outbox)
    expected = {(payload["email"], payload["campaign_id"]) for payload in payloads}
    with FakeESP(seed=3, transient_failure_rate=0.1, rate_limit_every=7) as esp:
        args = [
            "export",
            "--home",
            str(tmp_path),
            "--destination",
            "hubspot",
            "--base-url",
            esp.base_url,
        ]
        assert main(args) == 0
        first = dict(esp.deliveries)
        assert main(args) == 0
        second = dict(esp.deliveries)
    assert {(email, campaign) for (_, email, campaign) in first} == expected
    assert set(first.values()) == {1}
    # Nothing changed: the second export sends nothing.
    assert second == first
