"""Privacy on a real warehouse and outbox: `mailroom forget` leaves no trace of the
person anywhere Mailroom wrote, keeps them from coming back, the retention purge
drops old events everywhere, and every export is logged without emails.

One copy of the session's demo run is erased, then purged, then re-run with the
erased person's email landing again (module fixtures, in that order).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import zstandard

from mailroom.forget import Person, read_emails_file, resolve
from mailroom.privacy import PrivacyError, retention_cutoff
from mailroom.settings import Settings
from orchestration.cli import main
from renderer.export import RetryPolicy, sync_outbox
from renderer.export.state import ERASED_RECIPIENT, SyncState
from renderer.export.sync import STATE_FILE
from renderer.guard import SendGuard
from renderer.outbox import read_outbox, run_ids
from tests.conftest import DEMO_AS_OF, erased_values
from tests.fake_esp import FakeESP

FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0, seed=1)


@dataclass
class Erased:
    settings: Settings
    person: Person
    email: str
    first_name: str
    last_name: str
    before_customers: int
    before_payloads: int
    before_hits: int
    before_file_hits: int
    export_log_before: list[dict[str, str]]
    cli_output: str


def _pick_person(con: duckdb.DuckDBPyConnection) -> tuple[str, str, str]:
    """A sendable person with a name, a phone, a shop account, a CRM contact and an
    anonymous web id, whose (first, last) name pair no one else has."""
    return con.execute(
        """
        with ids as (
            select customer_id, count(distinct id_type) as id_types
            from marts.customer_identity_map group by 1
        ),
        visitors as (
            select distinct customer_id
            from intermediate.int_web_anonymous_ids_resolved
        ),
        names as (
            select first_name, last_name, count(*) as people
            from marts.dim_customers group by 1, 2
        )
        select people.email, people.first_name, people.last_name
        from marts.dim_customers as people
        inner join ids using (customer_id)
        inner join visitors using (customer_id)
        inner join marts.personalization using (customer_id)
        inner join names
            on people.first_name = names.first_name
            and people.last_name = names.last_name
        where ids.id_types = 4 and people.phone is not null and names.people = 1
            -- Rendered: neither refused nor in the holdout.
            and customer_id not in (
                select customer_id from emails.decision_audit
                where block_id in ('holdout', 'send_guard')
            )
        order by people.customer_id
        limit 1
        """
    ).fetchone()


def warehouse_hits(path: Path, values: list[str], email: str, names: tuple) -> list:
    """Every (table, column) of the warehouse, tables and views, holding one of
    ``values`` or the email inside a longer text, and every row holding both
    names."""
    hits = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, list(column_name) "
            "from information_schema.columns where data_type = 'VARCHAR' "
            "and table_schema not in ('information_schema', 'pg_catalog') "
            "group by 1, 2"
        ).fetchall()
        for schema, table, names_ in columns:
            relation = f'"{schema}"."{table}"'
            for column in names_:
                found = con.execute(
                    f'select count(*) from {relation} where "{column}" in '
                    f'(select unnest(?::varchar[])) or lower("{column}") like ?',
                    [values, f"%{email}%"],
                ).fetchone()[0]
                if found:
                    hits.append((schema, table, column, found))
            first = " or ".join(f'"{c}" = ?' for c in names_)
            both = con.execute(
                f"select count(*) from {relation} where ({first}) and ({first})",
                [names[0]] * len(names_) + [names[1]] * len(names_),
            ).fetchone()[0]
            if both:
                hits.append((schema, table, "(first and last name)", both))
    return hits


def file_hits(home: Path, values: list[str], names: tuple) -> list:
    """Files under the data folder holding a value as bytes (the compacted DuckDB
    file and SQLite files too, Zstandard files decompressed), a text line with both
    names, or a Parquet row with a value or both names."""
    hits = []
    pattern = re.compile(
        b"|".join(
            rb"(?<![\w-])" + re.escape(value.encode()) + rb"(?![\w-])"
            for value in values
        )
    )
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            for row in pq.read_table(path).to_pylist():
                cells = {str(value) for value in row.values() if value is not None}
                if cells & set(values) or {names[0], names[1]} <= cells:
                    hits.append((str(path), "row"))
            continue
        data = path.read_bytes()
        if path.suffix == ".zst":  # the outbox's payloads: search what they hold
            reader = zstandard.ZstdDecompressor().stream_reader(
                data, read_across_frames=True
            )
            data = reader.read()
        hits += [(str(path), found.decode()) for found in pattern.findall(data)]
        if path.suffix in (".duckdb", ".db", ".sqlite"):
            continue
        for line in data.splitlines():
            if names[0].encode() in line and names[1].encode() in line:
                hits.append((str(path), "both names"))
                break
    return hits


@pytest.fixture(scope="module")
def erased(
    demo_run: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Erased]:
    home = tmp_path_factory.mktemp("privacy") / "home"
    shutil.copytree(demo_run.home, home)
    settings = Settings.load(home=home, as_of=DEMO_AS_OF)
    with pytest.MonkeyPatch.context() as patch:
        # The copy's own Dagster instance (the demo run's stays untouched).
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        yield _erase(settings)


def _erase(settings: Settings) -> Erased:
    home = settings.home
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        email, first_name, last_name = _pick_person(con)
        person = resolve(con, {email})
        before_customers = con.execute(
            "select count(*) from marts.dim_customers"
        ).fetchone()[0]
    (home / "suppression.txt").write_text(f"# list\n{email}\nother@example.com\n")
    # The person and everyone else exported once, so the sync state holds them.
    with FakeESP(seed=1) as esp:
        sync_outbox(settings.outbox, None, "braze", esp.base_url, policy=FAST)
    with SyncState(settings.outbox / STATE_FILE) as state:
        export_log_before = state.export_log()
    manifest, _ = read_outbox(settings.outbox)
    values = erased_values(person)
    names = (first_name, last_name)
    before_hits = len(warehouse_hits(settings.warehouse, values, email, names))
    before_file_hits = len(file_hits(home, values, names))
    return Erased(
        settings,
        person,
        email,
        first_name,
        last_name,
        before_customers,
        manifest.payload_count,
        before_hits,
        before_file_hits,
        export_log_before,
        _forget_cli(home, email),
    )


def _forget_cli(home: Path, email: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(
            [
                "forget",
                "--home",
                str(home),
                "--email",
                email.upper(),
                "--requested-by",
                "ticket-42",
            ]
        )
    assert status == 0
    return out.getvalue()


def test_forget_leaves_no_trace_of_the_person_and_keeps_everyone_else(
    erased: Erased,
) -> None:
    settings, person = erased.settings, erased.person
    # The person had an email, a name, a phone and several ids of every kind.
    assert person.phones and person.shop_ids and person.contact_ids
    assert person.customer_ids and person.anonymous_ids and person.order_ids
    # The scans find them before.
    assert erased.before_hits > 10 and erased.before_file_hits > 10
    values = erased_values(person)
    names = (erased.first_name, erased.last_name)
    assert warehouse_hits(settings.warehouse, values, erased.email, names) == []
    assert file_hits(settings.home, values, names) == []

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        customers = con.execute("select count(*) from marts.dim_customers").fetchone()
        assert customers[0] == erased.before_customers - person.people
    # Every outbox run still verifies against its rewritten manifest, one payload
    # fewer in the run that held the person, everyone else's intact.
    manifest, payloads = read_outbox(settings.outbox)
    remaining = list(payloads)
    assert manifest.payload_count == len(remaining) == erased.before_payloads - 1
    assert sum(manifest.segment_counts.values()) == len(remaining)
    for run_id in run_ids(settings.outbox):
        list(read_outbox(settings.outbox, run_id)[1])
    assert "outbox/" in erased.cli_output and "landing/" in erased.cli_output
    # Their line left the user's suppression list (the keyed hash replaces it).
    assert (settings.home / "suppression.txt").read_text() == (
        "# list\nother@example.com\n"
    )


def test_the_request_is_recorded_with_counts_only(erased: Erased) -> None:
    with duckdb.connect(str(erased.settings.warehouse), read_only=True) as con:
        [request] = con.execute(
            "select request_id, via, requested_by, people_count, rows_removed, "
            "removed_per_table, removed_per_file, esp_destinations "
            "from privacy.erasure_requests"
        ).fetchall()
        kinds = dict(
            con.execute(
                "select id_kind, count(*) from privacy.erased_identifiers group by 1"
            ).fetchall()
        )
    request_id, via, requested_by, people, rows, per_table, per_file, esp = request
    assert (via, requested_by, people) == ("mailroom forget --email", "ticket-42", 1)
    per_table = json.loads(per_table)
    assert rows == sum(per_table.values())
    for table in (
        "raw.customers",
        "raw.crm_contacts",
        "raw.web_events",
        "raw._email_checks",
        "intermediate.int_identity_customer_id_history",
        "marts.customer_identity_map",
        "marts.fct_customer_segment_history",
        "staging.base_web__events",
        "emails.decision_audit_rows",
    ):
        assert per_table[table] >= 1, table
    assert any(path.startswith("outbox/") for path in json.loads(per_file))
    assert json.loads(esp) == ["braze"]
    assert kinds["email"] >= 1 and kinds["phone"] >= 1 and kinds["anonymous_id"] >= 1
    assert request_id in erased.cli_output


def test_every_export_is_logged_by_recipient_id_with_the_fields_sent(
    erased: Erased,
) -> None:
    log = erased.export_log_before
    by_destination: dict[str, list[dict[str, str]]] = {}
    for row in log:
        by_destination.setdefault(row["destination"], []).append(row)
    written, sent = by_destination["outbox"], by_destination["braze"]
    assert len(written) == len(sent) == erased.before_payloads
    assert {row["outcome"] for row in sent} == {"accepted"}
    assert all(row["recipient_id"].startswith("cus_") for row in log)
    assert not any("@" in value for row in log for value in row.values() if value)
    fields = sent[0]["fields"].split(",")
    assert "email" in fields and "first_name" in fields
    # Only what the ESP needs: no last name, no RFM segment, no other profile field.
    assert not {"last_name", "mailroom_lname", "mailroom_mr_segment"} & set(fields)
    assert "email" in written[0]["fields"].split(",")
    # After the erasure the person's rows say nothing about who they were.
    with SyncState(erased.settings.outbox / STATE_FILE) as state:
        after = state.export_log()
    assert len(after) == len(log)
    erased_rows = [row for row in after if row["recipient_id"] == ERASED_RECIPIENT]
    assert len(erased_rows) == 2  # written to the outbox, sent to braze


@pytest.fixture(scope="module")
def purged(erased: Erased) -> dict[str, object]:
    settings = erased.settings
    intake = settings.landing / "web_events"
    old = intake / "intake-20200101T000000000000Z-0a1b2c3d.jsonl"
    old.write_text("")
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        before = dict(
            con.execute(
                "select 'raw', count(*) from raw.web_events union all "
                "select 'base', count(*) from staging.base_web__events"
            ).fetchall()
        )
    status = main(
        [
            "purge",
            "--home",
            str(settings.home),
            "--as-of",
            str(DEMO_AS_OF),
            "--retention-days",
            "365",
        ]
    )
    assert status == 0
    return {"before": before, "intake": old}


def test_retention_purges_old_events_from_raw_and_the_incremental_models(
    erased: Erased, purged: dict[str, object]
) -> None:
    cutoff = retention_cutoff(DEMO_AS_OF, 365)
    with duckdb.connect(str(erased.settings.warehouse), read_only=True) as con:
        for table, column in (
            ("raw.web_events", "try_cast(occurred_at as timestamptz)"),
            ("raw.email_events", "try_cast(occurred_at as timestamptz)"),
        ):
            oldest = con.execute(f"select min({column}) from {table}").fetchone()[0]
            assert oldest.replace(tzinfo=None) >= cutoff - timedelta(days=1)
        for table in (
            "staging.base_web__events",
            "staging.base_esp__email_events",
            "intermediate.int_web_events_sessionized",
        ):
            oldest = con.execute(f"select min(occurred_at) from {table}").fetchone()[0]
            assert oldest >= cutoff, table
        [(retention, purged_rows, per_table, files)] = con.execute(
            "select retention_days, rows_purged, purged_per_table, files_deleted "
            "from privacy.retention_purges where retention_days = 365"
        ).fetchall()
        remaining = con.execute("select count(*) from raw.web_events").fetchone()[0]
    per_table = json.loads(per_table)
    assert retention == 365 and files == 1 and not purged["intake"].exists()
    assert per_table["raw.web_events"] == purged["before"]["raw"] - remaining > 0
    assert per_table["staging.base_web__events"] > 0
    assert purged_rows == sum(per_table.values())


@pytest.fixture(scope="module")
def relanded(erased: Erased, purged: dict[str, object]) -> Settings:
    """The erased person's email lands again, with an opt-in and an order."""
    from orchestration.pipeline import STAGES, run_stages

    settings = erased.settings
    email = f"  {erased.email.upper()} "
    files = {
        "customers": f"customer_id,email,first_name,last_name,accepts_marketing\n"
        f"c-back-1,{email},{erased.first_name},{erased.last_name},true\n",
        "consents": f"email,channel,status,captured_at\n"
        f"{email},email,opted_in,2026-10-01T09:00:00Z\n",
        "orders": "order_id,email,ordered_at,total_amount\n"
        f"o-back-1,{email},2026-10-02T09:00:00Z,120.00\n",
    }
    for source, text in files.items():
        (settings.landing / source / "zz-back-again.csv").write_text(text)
    stages = tuple(stage for stage in STAGES if stage.name != "ml")
    list(run_stages(settings, stages, log_path=settings.home / "logs" / "again.log"))
    return settings


def test_a_relanded_erased_person_gets_no_profile_and_no_payload(
    erased: Erased, relanded: Settings
) -> None:
    with duckdb.connect(str(relanded.warehouse), read_only=True) as con:
        loads = con.execute(
            "select source, row_count, message from raw._file_loads "
            "where file_name = 'zz-back-again.csv' order by source"
        ).fetchall()
        profiles = con.execute(
            "select count(*) from marts.dim_customers where lower(email) = ?",
            [erased.email],
        ).fetchone()[0]
        sendable = con.execute(
            "select count(*) from marts.personalization where lower(email) = ?",
            [erased.email],
        ).fetchone()[0]
        others = con.execute("select count(*) from marts.personalization").fetchone()
    assert [(source, rows) for source, rows, _ in loads] == [
        ("consents", 0),
        ("customers", 0),
        ("orders", 0),
    ]
    assert all("1 rows of erased people left out" in message for *_, message in loads)
    assert profiles == 0 and sendable == 0 and others[0] > 0
    manifest, payloads = read_outbox(relanded.outbox)
    emails = [payload["email"].lower() for payload in payloads]
    assert manifest.payload_count > 0 and erased.email not in emails


def test_the_send_guard_refuses_an_erased_address() -> None:
    import datetime as dt

    guard = SendGuard(
        suppressed=(),
        frequency_cap=3,
        history=(),
        now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        erased={"gone@example.com"}.__contains__,
    )
    row = {"email": "Gone@Example.com ", "consent_status": "opted_in"}
    assert guard.check(row).startswith("suppressed: the person was erased")
    assert guard.check({**row, "email": "kept@example.com"}) is None


def test_forget_reads_a_file_of_emails_and_names_a_bad_row(tmp_path: Path) -> None:
    plain = tmp_path / "emails.txt"
    plain.write_text("# erase these\nana@example.com\n\n Bo@Example.com \n")
    assert read_emails_file(plain) == ["ana@example.com", "Bo@Example.com"]
    table = tmp_path / "requests.csv"
    table.write_text("ticket,Email\nT-1,ana@example.com\nT-2,not-an-email\n")
    with pytest.raises(PrivacyError, match=r"requests.csv row 3, column email"):
        read_emails_file(table)
    table.write_text("ticket,address\nT-1,ana@example.com\n")
    with pytest.raises(PrivacyError, match="no 'email' column"):
        read_emails_file(table)
