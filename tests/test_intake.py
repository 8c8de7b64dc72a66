"""The HTTP intake: real requests on loopback against `mailroom intake`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from mailroom.ingest import ingest_landing
from mailroom.intake import InvalidEvents, validate_events
from mailroom.intake_client import IntakeClient, running_intake

WEB_EVENT = {
    "event_id": "w-1",
    "occurred_at": "2026-11-24T10:00:00Z",
    "event_type": "add_to_cart",
    "customer_id": "c-000001",
    "product_id": "p-0001",
}


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[tuple[IntakeClient, Path]]:
    home = tmp_path / "home"
    with running_intake(home) as (host, port):
        client = IntakeClient(host, port)
        yield client, home / "landing"
        client.close()


def _landed_rows(landing: Path, source: str = "web_events") -> list[dict]:
    folder = landing / source
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return [json.loads(line) for path in files for line in path.open()]


def _landing_entries(landing: Path) -> list[str]:
    """Every file and folder entry, hidden temp files included."""
    return sorted(str(path.relative_to(landing)) for path in landing.rglob("*"))


@pytest.mark.parametrize(
    ("source", "body", "status", "message"),
    [
        ("web_events", b"{not json", 400, "not valid JSON"),
        ("web_events", [], 422, "non-empty array"),
        ("orders", WEB_EVENT, 404, "unknown source 'orders'"),
        ("web_events", {**WEB_EVENT, "event_type": "teleport"}, 422, "'teleport'"),
        ("web_events", {**WEB_EVENT, "occurred_at": "yesterday"}, 422, "ISO 8601"),
        ("web_events", {**WEB_EVENT, "colour": "red"}, 422, "unknown field 'colour'"),
        ("web_events", {**WEB_EVENT, "product_id": {"id": 1}}, 422, "nested"),
        (
            "web_events",
            {k: v for k, v in WEB_EVENT.items() if k != "customer_id"},
            422,
            "missing anonymous_id or customer_id or email or device_id",
        ),
        (
            "email_events",
            {
                "event_id": "e-1",
                "occurred_at": "2026-11-24T10:00:00Z",
                "event_type": "open",
                "email": "a@example.com",
                "is_machine_open": "maybe",
            },
            422,
            "is_machine_open 'maybe' is not true or false",
        ),
        # One bad event in a batch refuses the whole batch.
        (
            "web_events",
            [WEB_EVENT, {**WEB_EVENT, "event_id": "w-2", "occurred_at": ""}],
            422,
            "event 1: missing occurred_at",
        ),
        ("web_events", [WEB_EVENT, WEB_EVENT], 422, "event 1: event_id 'w-1' repeats"),
    ],
)
def test_malformed_events_get_4xx_with_a_message_and_nothing_is_written(
    intake: tuple[IntakeClient, Path], source, body, status, message
) -> None:
    client, landing = intake
    answer_status, answer = client.post(source, body)
    assert answer_status == status
    text = answer["error"] + " ".join(answer.get("problems", []))
    assert message in text
    assert _landing_entries(landing) == []


def test_an_accepted_batch_lands_as_one_file_with_the_values_as_sent(
    intake: tuple[IntakeClient, Path],
) -> None:
    client, landing = intake
    email_event = {
        "EVENT_ID": "e-9",
        "occurred_at": "2026-11-24T10:00:00+01:00",
        "event_type": "open",
        "email": "ana@example.com",
        "is_machine_open": True,
        "variant": None,
    }
    status, answer = client.post("email_events", [email_event])
    assert (status, answer["accepted"]) == (202, 1)
    assert answer["file"].startswith("email_events/intake-")
    assert _landed_rows(landing, "email_events") == [
        {
            "event_id": "e-9",
            "occurred_at": "2026-11-24T10:00:00+01:00",
            "event_type": "open",
            "email": "ana@example.com",
            "is_machine_open": "true",
        }
    ]


def test_a_burst_of_10000_events_is_accepted_and_ingested_without_loss(
    intake: tuple[IntakeClient, Path], tmp_path: Path
) -> None:
    client, landing = intake
    host, port = client._connection.host, client._connection.port

    def post_batches(worker: int) -> int:
        own = IntakeClient(host, port)
        accepted = 0
        for batch in range(125):
            events = [
                {**WEB_EVENT, "event_id": f"w-{worker}-{batch}-{n}"} for n in range(10)
            ]
            status, answer = own.post("web_events", events)
            assert status == 202, answer
            accepted += answer["accepted"]
        own.close()
        return accepted

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = sum(pool.map(post_batches, range(8)))
    assert accepted == 10_000

    rows = _landed_rows(landing)
    assert len(rows) == 10_000
    assert len({row["event_id"] for row in rows}) == 10_000

    orders = landing / "orders"
    orders.mkdir()
    (orders / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,total_amount\no-1,c-000001,2026-11-01,9.5\n"
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        report = ingest_landing(con, landing)
        loaded = con.execute(
            "select count(*), count(distinct event_id) from raw.web_events"
        ).fetchone()
    assert report.refused == []
    assert loaded == (10_000, 10_000)


def test_validation_names_the_event_and_field_and_caps_the_list() -> None:
    bad = [{**WEB_EVENT, "event_id": f"w-{n}", "event_type": "x"} for n in range(50)]
    with pytest.raises(InvalidEvents) as raised:
        validate_events("web_events", bad)
    assert raised.value.total == 50
    assert len(raised.value.problems) == 20
    assert raised.value.problems[0].startswith("event 0: event_type 'x' is not one of")
    assert "(and 30 more)" in str(raised.value)
