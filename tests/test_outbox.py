"""Behaviour of the outbox writer: atomic runs, manifests, checksums, read-back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.outbox import (
    CSV_FILE,
    LATEST_FILE,
    MANIFEST_FILE,
    PAYLOADS_FILE,
    OutboxIntegrityError,
    RunExistsError,
    dumps,
    dumps_fast,
    payload_line,
    read_outbox,
    write_outbox,
)
from renderer.render import Campaign, Renderer


def payload(index: int, segment: str | None = "champions") -> dict[str, Any]:
    return {
        "recipient_id": f"c-{index}",
        "segment": segment,
        "subject": f"Zoë Ångström #{index}",
        "recommendations": [{"product_id": "p-1", "price": Decimal("44.90")}],
        "sent_after": dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC),
    }


def entries(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir())


def test_writes_payloads_and_manifest(tmp_path: Path) -> None:
    payloads = [payload(1), payload(2, "at_risk"), payload(3), payload(4, None)]
    manifest = write_outbox(
        payloads,
        tmp_path,
        "run-1",
        metadata={"created_at": "2024-03-01T08:00:00+00:00", "campaign_id": "s-24"},
    )
    run = tmp_path / "run-1"
    assert entries(tmp_path) == [LATEST_FILE, "run-1"]
    assert entries(run) == [MANIFEST_FILE, CSV_FILE, PAYLOADS_FILE]

    data = (run / PAYLOADS_FILE).read_bytes()
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert list(first) == sorted(first)
    assert first["recommendations"][0]["price"] == "44.90"
    assert first["sent_after"] == "2024-03-01T08:00:00+00:00"
    assert "Zoë Ångström".encode() in data  # UTF-8, not \u escapes

    on_disk = json.loads((run / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert on_disk == manifest.to_dict()
    assert on_disk["run_id"] == "run-1"
    assert on_disk["created_at"] == "2024-03-01T08:00:00+00:00"
    assert on_disk["payload_count"] == 4
    assert on_disk["segment_counts"] == {"(none)": 1, "at_risk": 1, "champions": 2}
    assert on_disk["payloads_sha256"] == hashlib.sha256(data).hexdigest()
    assert on_disk["payloads_bytes"] == len(data)
    assert on_disk["metadata"]["campaign_id"] == "s-24"
    assert (tmp_path / LATEST_FILE).read_text() == "run-1\n"


def test_created_at_is_generated_when_not_given(tmp_path: Path) -> None:
    before = dt.datetime.now(dt.UTC)
    manifest = write_outbox([payload(1)], tmp_path, "run-1")
    created = dt.datetime.fromisoformat(manifest.created_at)
    assert before <= created <= dt.datetime.now(dt.UTC)
    assert manifest.metadata == {}


def test_empty_run_is_valid(tmp_path: Path) -> None:
    manifest = write_outbox([], tmp_path, "empty")
    assert manifest.payload_count == 0
    assert manifest.segment_counts == {}
    assert manifest.payloads_sha256 == hashlib.sha256(b"").hexdigest()
    _, payloads = read_outbox(tmp_path, "empty")
    assert list(payloads) == []


def test_failure_midway_leaves_no_run_and_latest_unchanged(tmp_path: Path) -> None:
    write_outbox([payload(1)], tmp_path, "run-1")

    def failing() -> Iterator[dict[str, Any]]:
        for index in range(500):
            yield payload(index)
        raise RuntimeError("warehouse connection lost")

    with pytest.raises(RuntimeError, match="warehouse connection lost"):
        write_outbox(failing(), tmp_path, "run-2")
    assert entries(tmp_path) == [LATEST_FILE, "run-1"]  # no run-2, no temp folder
    assert (tmp_path / LATEST_FILE).read_text() == "run-1\n"


def test_unserialisable_payload_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot serialise object"):
        write_outbox([payload(1), {"segment": "x", "bad": object()}], tmp_path, "r")
    with pytest.raises(ValueError):
        write_outbox([{"segment": "x", "price": float("nan")}], tmp_path, "r")
    assert entries(tmp_path) == []


def test_existing_run_id_is_refused(tmp_path: Path) -> None:
    write_outbox([payload(1)], tmp_path, "run-1")
    original = (tmp_path / "run-1" / PAYLOADS_FILE).read_bytes()
    write_outbox([payload(2)], tmp_path, "run-2")

    consumed: list[int] = []

    def tracked() -> Iterator[dict[str, Any]]:
        consumed.append(1)
        yield payload(9)

    with pytest.raises(RunExistsError, match="'run-1' exists already"):
        write_outbox(tracked(), tmp_path, "run-1")
    assert consumed == []  # refused before reading any payload
    assert (tmp_path / "run-1" / PAYLOADS_FILE).read_bytes() == original
    assert (tmp_path / LATEST_FILE).read_text() == "run-2\n"
    assert entries(tmp_path) == [LATEST_FILE, "run-1", "run-2"]


@pytest.mark.parametrize("run_id", ["", "../escape", "a/b", ".hidden", "LATEST", "a b"])
def test_unsafe_run_id_is_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ValueError, match="invalid run_id"):
        write_outbox([payload(1)], tmp_path / "outbox", run_id)
    assert not (tmp_path / "escape").exists()


def test_payloads_are_streamed_to_disk(tmp_path: Path) -> None:
    written_while_producing: list[int] = []

    def produce() -> Iterator[dict[str, Any]]:
        for index in range(2000):
            yield payload(index)
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(".run-1.")]
        written_while_producing.append((staging[0] / PAYLOADS_FILE).stat().st_size)

    manifest = write_outbox(produce(), tmp_path, "run-1")
    assert manifest.payload_count == 2000
    assert written_while_producing[0] > manifest.payloads_bytes // 2


def test_read_outbox_round_trips_latest_and_named_runs(tmp_path: Path) -> None:
    write_outbox([payload(1), payload(2)], tmp_path, "run-1")
    write_outbox([payload(3)], tmp_path, "run-2")

    manifest, payloads = read_outbox(tmp_path)
    assert manifest.run_id == "run-2"
    assert [p["recipient_id"] for p in payloads] == ["c-3"]

    manifest, payloads = read_outbox(tmp_path, "run-1")
    rows = list(payloads)
    assert manifest.payload_count == len(rows) == 2
    assert rows[0]["subject"] == "Zoë Ångström #1"
    assert rows[0]["recommendations"] == [{"product_id": "p-1", "price": "44.90"}]


def test_read_outbox_detects_tampering(tmp_path: Path) -> None:
    write_outbox([payload(1), payload(2)], tmp_path, "run-1")
    path = tmp_path / "run-1" / PAYLOADS_FILE
    path.write_bytes(path.read_bytes().replace(b"c-2", b"c-9"))
    with pytest.raises(OutboxIntegrityError, match="does not match its manifest"):
        read_outbox(tmp_path, "run-1")


def test_read_outbox_reports_missing_runs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no outbox run has been written"):
        read_outbox(tmp_path)
    write_outbox([payload(1)], tmp_path, "run-1")
    with pytest.raises(FileNotFoundError, match="'run-9' not found"):
        read_outbox(tmp_path, "run-9")


def test_rendered_payloads_survive_the_outbox(tmp_path: Path) -> None:
    campaign = Campaign("spring-24", "Spring")
    recipients = [
        {
            "customer_id": f"c-{index}",
            "email": f"user{index}@example.com",
            "first_name": "Zoë" if index % 2 else None,
            "rfm_segment": "champions" if index % 3 else "no_orders",
        }
        for index in range(30)
    ]
    picks = {
        "c-1": [
            {
                "pick_rank": 1,
                "product_id": "p-1",
                "product_name": "Trail Runner",
                "price": Decimal("44.95"),
                "currency": "EUR",
                "product_url": "https://shop.example.com/p/1",
                "image_url": None,
            }
        ]
    }
    payloads = list(Renderer().render_many(recipients, picks, campaign))
    manifest = write_outbox(
        iter(payloads), tmp_path, "spring-24-1", {"campaign_id": "spring-24"}
    )
    assert manifest.segment_counts == {"champions": 20, "no_orders": 10}

    _, stored = read_outbox(tmp_path)
    restored = list(stored)
    assert [p["content_hash"] for p in restored] == [
        p["content_hash"] for p in payloads
    ]
    assert restored[1]["html"] == payloads[1]["html"]
    assert restored[1]["recommendations"][0]["price"] == "44.95"


# JSON-like values as payloads may hold them, including the ones the fast line
# writer must hand to the standard library (floats, huge ints, non-string keys).
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.dates()
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text() | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _VALUES, max_size=6))
def test_payload_lines_are_exactly_the_documented_json(value: dict[str, Any]) -> None:
    try:
        expected = (dumps(value) + "\n").encode("utf-8")
    except (TypeError, ValueError):  # e.g. a lone surrogate: refused either way
        with pytest.raises((TypeError, ValueError)):
            payload_line(value)
        return
    assert payload_line(value) == expected
    assert dumps_fast(value) == dumps(value)


def test_written_lines_match_dumps_for_rendered_payloads(tmp_path: Path) -> None:
    recipients = [
        {
            "customer_id": f"c-{index}",
            "email": f"user{index}@example.com",
            "first_name": ("Zoë", "<script>alert(1)</script>", "{{ 7*7 }}", None)[
                index % 4
            ],
            "rfm_segment": "champions",
        }
        for index in range(8)
    ]
    payloads = list(Renderer().render_many(recipients, {}, Campaign("s-24", "S")))
    write_outbox(iter(payloads), tmp_path, "s-24-1")
    lines = (tmp_path / "s-24-1" / PAYLOADS_FILE).read_bytes().splitlines(True)
    assert lines == [(dumps(p) + "\n").encode("utf-8") for p in payloads]
