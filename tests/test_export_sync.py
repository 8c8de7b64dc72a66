"""Diff-based ESP sync against a real local HTTP server emulating four ESP APIs."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from renderer.catalog import load_catalog
from renderer.export import ExportError, RetryPolicy, SyncState, sync_outbox
from renderer.export.destinations import DESTINATIONS as DESTINATION_CLASSES
from renderer.guard import SendGuard
from renderer.outbox import write_outbox
from renderer.pipeline import payloads, render_campaign
from renderer.render import Campaign, Renderer
from tests.fake_esp import LIMITS, FakeESP

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
CAMPAIGN = Campaign(campaign_id="autumn-26", name="Autumn")
RENDERER = Renderer(catalog=load_catalog())
FAST = RetryPolicy(max_attempts=8, base_delay=0.0, max_delay=0.0, seed=7)
DESTINATIONS = ["mailchimp", "hubspot", "klaviyo", "braze"]
OPTIONS = {"list_id": "audience-1"}


def person(index: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": f"c-{index:04d}",
        "email": f"person{index}@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "rfm_segment": ["champions", "at_risk", "no_orders"][index % 3],
        "lifetime_orders": index % 5,
        "lifetime_revenue": 100 + index,
        "days_since_last_order": index % 200,
        "is_vip": False,
        "consent_status": "opted_in",
    }
    row.update(overrides)
    return row


def write_run(root: Path, run_id: str, rows: list[dict[str, Any]]) -> int:
    guard = SendGuard([], 5, [], NOW)
    rendered = render_campaign(
        [(rows, {})], CAMPAIGN, guard, {"A": 1}, "m1", renderer=RENDERER
    )
    return write_outbox(payloads(rendered), root, run_id).payload_count


def delivered(esp: FakeESP, destination: str) -> dict[str, int]:
    return {
        email: count
        for (dest, email, campaign), count in esp.deliveries.items()
        if dest == destination and campaign == CAMPAIGN.campaign_id
    }


def items_per_request(esp: FakeESP) -> list[int]:
    sizes = []
    for request in esp.requests:
        body = request["body"] or {}
        for key in ("members", "inputs", "attributes"):
            if key in body:
                sizes.append(len(body[key]))
        if "data" in body:
            sizes.append(len(body["data"]["attributes"]["profiles"]["data"]))
    return sizes


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_sync_delivers_every_recipient_once_despite_429_and_500(
    tmp_path: Path, destination: str
) -> None:
    rows = [person(i) for i in range(1_100)]
    count = write_run(tmp_path, "run-1", rows)
    waits: list[float] = []
    with FakeESP(
        seed=3, transient_failure_rate=0.15, rate_limit_every=2, retry_after="2"
    ) as esp:
        report = sync_outbox(
            tmp_path,
            "run-1",
            destination,
            esp.base_url,
            tmp_path / "state.sqlite",
            "key-123",
            options=OPTIONS,
            policy=FAST,
            sleep=waits.append,
        )
        counts = delivered(esp, destination)
        assert len(counts) == count == 1_100
        assert set(counts.values()) == {1}
        assert report.sent == report.accepted == 1_100 and report.rejected == []
        assert max(items_per_request(esp)) <= LIMITS[destination]
        assert esp.statuses[429] >= 1 and 2.0 in waits  # Retry-After honoured
        assert report.retries >= esp.statuses[429] + esp.statuses[500]
        assert all(
            request["headers"].get("Idempotency-Key")
            for request in esp.requests
            if request["method"] == "POST"
        )

        again = sync_outbox(
            tmp_path,
            "run-1",
            destination,
            esp.base_url,
            tmp_path / "state.sqlite",
            options=OPTIONS,
            policy=FAST,
            sleep=waits.append,
        )
        assert again.sent == 0 and again.unchanged == 1_100
        assert delivered(esp, destination) == counts


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_killed_midway_then_rerun_delivers_each_changed_recipient_once(
    tmp_path: Path, destination: str
) -> None:
    rows = [person(i) for i in range(400)]
    write_run(tmp_path, "run-1", rows)
    state = tmp_path / "state.sqlite"

    def kill_after_two(batches: int) -> None:
        if batches == 2:
            raise KeyboardInterrupt("operator pressed ctrl-c")

    limit = {"mailchimp": 150, "hubspot": 60, "klaviyo": 150, "braze": 60}
    with FakeESP(seed=5, fail_after_apply_rate=0.2) as esp:
        with pytest.MonkeyPatch.context() as patch:
            # smaller batches, so that the kill lands midway through the run
            patch.setattr(
                DESTINATION_CLASSES[destination], "max_items", limit[destination]
            )
            with pytest.raises(KeyboardInterrupt):
                sync_outbox(
                    tmp_path,
                    None,
                    destination,
                    esp.base_url,
                    state,
                    options=OPTIONS,
                    policy=FAST,
                    sleep=lambda s: None,
                    after_batch=kill_after_two,
                )
            partial = delivered(esp, destination)
            assert 0 < len(partial) < 400
            report = sync_outbox(
                tmp_path,
                None,
                destination,
                esp.base_url,
                state,
                options=OPTIONS,
                policy=FAST,
                sleep=lambda s: None,
            )
        counts = delivered(esp, destination)
        assert len(counts) == 400 and set(counts.values()) == {1}
        assert report.unchanged == len(partial) and report.sent == 400 - len(partial)

        # a new run where 10 recipients changed: only those are sent, once more
        changed = [
            person(i, first_name="Zoë") if i < 10 else person(i) for i in range(400)
        ]
        write_run(tmp_path, "run-2", changed)
        report = sync_outbox(
            tmp_path,
            "run-2",
            destination,
            esp.base_url,
            state,
            options=OPTIONS,
            policy=FAST,
            sleep=lambda s: None,
        )
        assert report.sent == 10 and report.unchanged == 390
        counts = delivered(esp, destination)
        assert sorted(e for e, c in counts.items() if c == 2) == sorted(
            f"person{i}@example.com" for i in range(10)
        )


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_rejected_items_are_recorded_and_retried_next_run(
    tmp_path: Path, destination: str
) -> None:
    write_run(tmp_path, "run-1", [person(i) for i in range(30)])
    state_path = tmp_path / "state.sqlite"
    with FakeESP(reject_emails=["person7@example.com"]) as esp:
        report = sync_outbox(
            tmp_path,
            None,
            destination,
            esp.base_url,
            state_path,
            options=OPTIONS,
            policy=FAST,
            sleep=lambda seconds: None,
        )
        assert report.accepted == 29
        assert [r[0] for r in report.rejected] == ["c-0007"]
        with SyncState(state_path) as state:
            rejections = state.rejections(destination)
        assert [(r[0], r[1]) for r in rejections] == [("c-0007", "autumn-26")]
        assert rejections[0][2]  # a reason from the ESP

        esp.reject_emails.clear()
        retry = sync_outbox(
            tmp_path,
            None,
            destination,
            esp.base_url,
            state_path,
            options=OPTIONS,
            policy=FAST,
            sleep=lambda seconds: None,
        )
        assert retry.sent == 1 and retry.accepted == 1 and retry.unchanged == 29
        with SyncState(state_path) as state:
            assert state.rejections(destination) == []
        assert set(delivered(esp, destination).values()) == {1}


def test_mailchimp_never_resubscribes(tmp_path: Path) -> None:
    write_run(tmp_path, "run-1", [person(i) for i in range(20)])
    with FakeESP() as esp:
        esp.mailchimp_members["person3@example.com"] = {
            "status": "unsubscribed",
            "merge_fields": {},
        }
        sync_outbox(
            tmp_path,
            None,
            "mailchimp",
            esp.base_url,
            tmp_path / "s.sqlite",
            options=OPTIONS,
            policy=FAST,
        )
        members = [
            m for r in esp.requests for m in (r["body"] or {}).get("members", [])
        ]
        assert members and all("status" not in member for member in members)
        assert all(member["status_if_new"] == "subscribed" for member in members)
        assert esp.violations == []
        assert esp.mailchimp_members["person3@example.com"]["status"] == "unsubscribed"
        assert esp.mailchimp_members["person4@example.com"]["status"] == "subscribed"
        assert (
            esp.mailchimp_members["person3@example.com"]["merge_fields"]["FNAME"]
            == "Ana"
        )


def test_payloads_without_opt_in_are_never_sent(tmp_path: Path) -> None:
    payload = {
        "recipient_id": "c-1",
        "email": "legacy@example.com",
        "campaign_id": "autumn-26",
        "content_hash": "abc",
        "merge_vars": {"FNAME": "Ana", "MR_CAMP": "autumn-26"},
    }
    write_outbox([payload], tmp_path, "legacy")
    for destination in DESTINATIONS:
        with FakeESP() as esp:
            report = sync_outbox(
                tmp_path,
                None,
                destination,
                esp.base_url,
                tmp_path / "s.sqlite",
                options=OPTIONS,
                policy=FAST,
            )
            assert report.sent == 0 and esp.requests == []
            assert "no opt-in" in report.rejected[0][1]


def test_emulator_enforces_batch_limits() -> None:
    with FakeESP() as esp:
        too_many = {
            "inputs": [{"idProperty": "email", "id": f"{i}@x.io"} for i in range(101)]
        }
        request = urllib.request.Request(
            f"{esp.base_url}/crm/v3/objects/contacts/batch/upsert",
            data=json.dumps(too_many).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 400
        assert esp.deliveries == {}


def test_gives_up_when_retry_after_is_too_long(tmp_path: Path) -> None:
    write_run(tmp_path, "run-1", [person(i) for i in range(5)])
    with FakeESP(rate_limit_every=1, retry_after="3600") as esp:
        with pytest.raises(ExportError, match="retry after 3600s"):
            sync_outbox(
                tmp_path,
                None,
                "braze",
                esp.base_url,
                tmp_path / "s.sqlite",
                policy=FAST,
                sleep=lambda s: None,
            )
        assert delivered(esp, "braze") == {}


def test_gives_up_after_max_attempts_keeping_committed_batches(tmp_path: Path) -> None:
    write_run(tmp_path, "run-1", [person(i) for i in range(150)])
    state_path = tmp_path / "s.sqlite"
    waits: list[float] = []
    with FakeESP() as esp:
        policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=4, seed=1)

        def break_server(batches: int) -> None:
            esp.transient_failure_rate = 1.0  # every request fails from now on

        with pytest.raises(ExportError, match="failed after 3 attempts"):
            sync_outbox(
                tmp_path,
                None,
                "braze",
                esp.base_url,
                state_path,
                policy=policy,
                sleep=waits.append,
                after_batch=break_server,
            )
        assert len(waits) == 2 and all(0 <= w <= 2.0 for w in waits)  # backoff+jitter
        with SyncState(state_path) as state:
            assert len(state.acknowledged("braze", "autumn-26")) == 75


def start_export(home: Path, destination: str, base_url: str) -> subprocess.Popen:
    """``mailroom export`` of the latest run, as a separate process."""
    command = [
        str(Path(sys.executable).parent / "mailroom"),
        "export",
        "--home",
        str(home),
        "--destination",
        destination,
        "--base-url",
        base_url,
        "--list-id",
        OPTIONS["list_id"],
    ]
    env = {**os.environ, "MAILROOM_ESP_API_KEY": "key-123"}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.parametrize("destination", ["mailchimp", "hubspot", "braze"])
def test_export_process_killed_midway_then_rerun_sends_each_recipient_once(
    tmp_path: Path, destination: str
) -> None:
    """SIGKILL lands after the ESP applied a batch and before the export recorded
    it: the rerun must neither lose that batch nor deliver it twice."""
    write_run(tmp_path / "outbox", "run-1", [person(i) for i in range(1_100)])
    exports: list[subprocess.Popen] = []

    def kill_export(applied: int) -> None:
        if applied == 2 and exports[0].poll() is None:
            exports[0].send_signal(signal.SIGKILL)
            exports[0].wait(timeout=30)

    with FakeESP(after_apply=kill_export) as esp:
        exports.append(start_export(tmp_path, destination, esp.base_url))
        assert exports[0].wait(timeout=120) == -signal.SIGKILL
        partial = delivered(esp, destination)
        assert 0 < len(partial) < 1_100

        rerun = start_export(tmp_path, destination, esp.base_url)
        output, _ = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, output
        counts = delivered(esp, destination)
        assert len(counts) == 1_100 and set(counts.values()) == {1}

        posts = sum(request["method"] == "POST" for request in esp.requests)
        again = start_export(tmp_path, destination, esp.base_url)
        output, _ = again.communicate(timeout=120)
        assert again.returncode == 0, output
        assert "1,100 unchanged, 0 accepted" in output
        assert sum(request["method"] == "POST" for request in esp.requests) == posts
        assert delivered(esp, destination) == counts


@pytest.mark.parametrize(
    "pairs",
    [
        [("c-1", "spring"), ("c-2", None), ("ç-3", "spring")],
        # one campaign, as a render's (only the ids go through JSON)
        [("c-1", "spring"), ("ç-2", "spring")],
        [("c-1", None), ("c-2", None)],
        # SQLite's JSON functions would cut these at the NUL
        [("c\x001", "spring"), ("c\x002", "spring")],
    ],
)
def test_the_export_log_keeps_each_recipient_as_given(
    tmp_path: Path, pairs: list[tuple[str, str | None]]
) -> None:
    with SyncState(tmp_path / "state.sqlite") as state:
        logged = state.log_export("outbox", "run-1", pairs, ["email", "html"])
        assert logged == len(pairs)
        rows = state.export_log("run-1")
    assert [(row["recipient_id"], row["campaign_id"]) for row in rows] == pairs
    assert {row["fields"] for row in rows} == {"email,html"}
    assert {row["outcome"] for row in rows} == {"written"}
