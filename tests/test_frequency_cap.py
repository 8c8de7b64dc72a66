"""The frequency cap counts what was sent (ESP acknowledgements and ESP ``sent``
events), not what was rendered: a real export to the local ESP emulator, a real
DuckDB warehouse file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from mailroom.campaign import sent_history
from renderer.catalog import load_catalog
from renderer.export import RetryPolicy, SyncState, sync_outbox
from renderer.export.state import acknowledged_sends
from renderer.export.sync import STATE_FILE
from renderer.guard import SendGuard, reason_code
from renderer.outbox import write_outbox
from renderer.pipeline import payloads, render_campaign
from renderer.render import Campaign, Renderer
from tests.fake_esp import FakeESP

AS_OF = dt.date(2026, 11, 1)
TODAY = "personalized-2026-11-01"
RENDERER = Renderer(catalog=load_catalog())


def person(index: int) -> dict[str, Any]:
    return {
        "customer_id": f"c-{index}",
        "email": f"person{index}@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "rfm_segment": "champions",
        "consent_status": "opted_in",
    }


def render_run(outbox: Path, campaign_id: str, as_of: dt.date, people: int) -> None:
    """An outbox run of ``campaign_id`` as of ``as_of`` for persons 0..people-1."""
    guard = SendGuard([], 9, [], dt.datetime.combine(as_of, dt.time(), dt.UTC))
    rendered = render_campaign(
        [([person(i) for i in range(people)], {})],
        Campaign(campaign_id=campaign_id, name=campaign_id),
        guard,
        {"A": 1},
        "m1",
        renderer=RENDERER,
    )
    metadata = {"as_of": as_of.isoformat(), "campaign_id": campaign_id}
    write_outbox(payloads(rendered), outbox, f"{campaign_id}-1", metadata)


def warehouse(path: Path, events: list[tuple[str, str, str, str | None, str]]) -> None:
    """A warehouse holding ``staging.stg_esp__email_events`` with ``events``."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_esp__email_events (event_id varchar, "
            "event_type varchar, email varchar, campaign_id varchar, "
            "occurred_at timestamp)"
        )
        con.executemany(
            "insert into staging.stg_esp__email_events values (?, ?, ?, ?, ?)",
            events,
        )


def test_cap_counts_acknowledged_exports_and_esp_sends_not_renders(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    # spring: exported; the ESP rejects person2, so person2 got nothing
    render_run(outbox, "spring", dt.date(2026, 10, 29), people=4)
    with FakeESP(reject_emails=["person2@example.com"]) as esp:
        sync_outbox(
            outbox,
            "spring-1",
            "hubspot",
            esp.base_url,
            policy=RetryPolicy(base_delay=0.0, max_delay=0.0),
        )
    # flash: rendered for everyone, never exported
    render_run(outbox, "flash", dt.date(2026, 10, 31), people=4)
    warehouse(
        tmp_path / "warehouse.duckdb",
        [
            # the ESP sent spring to person0: the same send as the acknowledgement
            ("e1", "sent", "person0@example.com", "spring", "2026-10-29 09:00"),
            ("e2", "sent", "person0@example.com", None, "2026-10-31 08:00"),
            ("e3", "sent", "person1@example.com", "weekly", "2026-10-30 08:00"),
            ("e4", "open", "person1@example.com", "weekly", "2026-10-30 09:00"),
            ("e5", "sent", "person3@example.com", "old", "2026-10-20 08:00"),
            ("e6", "sent", "person3@example.com", TODAY, "2026-10-31 23:00"),
            ("e7", "sent", "person3@example.com", "later", "2026-11-01 08:00"),
        ],
    )

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        history = sent_history(con, outbox / STATE_FILE, AS_OF, TODAY)

    assert Counter(email for email, _ in history) == {
        "person0@example.com": 2,  # spring once, plus a send without campaign id
        "person1@example.com": 2,  # spring (acknowledged) and weekly (event)
        "person3@example.com": 1,  # spring; old is outside the week, later after it
    }
    guard = SendGuard([], 2, history, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    verdicts = {
        index: reason_code(guard.check(person(index)) or "allowed")
        for index in range(4)
    }
    assert verdicts == {
        0: "frequency_cap",
        1: "frequency_cap",
        2: "allowed",  # rejected by the ESP and never sent flash: nothing counted
        3: "allowed",
    }


def test_cap_without_exports_or_events_counts_nothing(tmp_path: Path) -> None:
    render_run(tmp_path / "outbox", "flash", dt.date(2026, 10, 31), people=3)
    assert acknowledged_sends(tmp_path / "outbox" / STATE_FILE, AS_OF, AS_OF) == []
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        # no state file, no email-events table: the source is optional
        assert sent_history(con, tmp_path / "outbox" / STATE_FILE, AS_OF, TODAY) == []


def test_state_file_from_before_is_upgraded_and_its_rows_not_counted(
    tmp_path: Path,
) -> None:
    path = tmp_path / STATE_FILE
    with sqlite3.connect(path) as old:
        old.execute(
            "create table acknowledged (destination text not null, recipient_id "
            "text not null, campaign_id text not null, content_hash text not null, "
            "idempotency_key text not null, run_id text not null, acknowledged_at "
            "text not null, primary key (destination, recipient_id, campaign_id))"
        )
        old.execute(
            "insert into acknowledged values "
            "('braze', 'c-1', 'spring', 'h', 'k', 'r', '2026-10-30T08:00:00+00:00')"
        )
    with SyncState(path) as state:
        state.record_batch(
            "braze",
            "r2",
            [("c-2", "spring", "h2", "k2", "Person2@Example.com")],
            [],
            send_date=dt.date(2026, 10, 30),
        )
        assert state.acknowledged("braze", "spring") == {"c-1": "h", "c-2": "h2"}
    since = dt.date(2026, 10, 25)
    assert acknowledged_sends(path, since, AS_OF) == [
        ("person2@example.com", "spring", dt.date(2026, 10, 30))
    ]
