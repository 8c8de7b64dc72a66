"""Behaviour of the outbox writer: atomic runs, manifests, checksums, read-back."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from renderer.outbox import (
    CSV_COLUMNS,
    CSV_FILE,
    LATEST_FILE,
    MANIFEST_FILE,
    PAYLOADS_FILE,
    PAYLOADS_FILES,
    LineEncoder,
    OutboxIntegrityError,
    RunExistsError,
    csv_lines,
    csv_record,
    csv_row,
    dumps,
    dumps_fast,
    payload_line,
    read_outbox,
    read_outbox_emails,
    rewrite_run,
    write_outbox,
    write_outbox_chunks,
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


def payload_bytes(run: Path) -> bytes:
    """A run's payload lines as written, decompressed with the zstd library itself
    (any number of frames), or read plain."""
    if (run / PAYLOADS_FILE).exists():
        return (run / PAYLOADS_FILE).read_bytes()
    with open(run / PAYLOADS_FILES["zstd"], "rb") as stream:
        reader = zstandard.ZstdDecompressor().stream_reader(
            stream, read_across_frames=True
        )
        return reader.read()


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_writes_payloads_and_manifest(tmp_path: Path, compression: str) -> None:
    payloads = [payload(1), payload(2, "at_risk"), payload(3), payload(4, None)]
    manifest = write_outbox(
        payloads,
        tmp_path,
        "run-1",
        metadata={"created_at": "2024-03-01T08:00:00+00:00", "campaign_id": "s-24"},
        compression=compression,
    )
    run = tmp_path / "run-1"
    assert entries(tmp_path) == [LATEST_FILE, "run-1"]
    payloads_file = PAYLOADS_FILES[compression]
    assert sorted([MANIFEST_FILE, CSV_FILE, payloads_file]) == entries(run)
    assert manifest.payloads_file == payloads_file

    data = payload_bytes(run)
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
    stored = (run / payloads_file).read_bytes()  # compressed or not
    assert on_disk["payloads_sha256"] == hashlib.sha256(stored).hexdigest()
    assert on_disk["payloads_bytes"] == len(stored)
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
    original = payload_bytes(tmp_path / "run-1")
    write_outbox([payload(2)], tmp_path, "run-2")

    consumed: list[int] = []

    def tracked() -> Iterator[dict[str, Any]]:
        consumed.append(1)
        yield payload(9)

    with pytest.raises(RunExistsError, match="'run-1' exists already"):
        write_outbox(tracked(), tmp_path, "run-1")
    assert consumed == []  # refused before reading any payload
    assert payload_bytes(tmp_path / "run-1") == original
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

    manifest = write_outbox(produce(), tmp_path, "run-1", compression="none")
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


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_read_outbox_detects_tampering(tmp_path: Path, compression: str) -> None:
    manifest = write_outbox(
        [payload(1), payload(2)], tmp_path, "run-1", compression=compression
    )
    path = tmp_path / "run-1" / manifest.payloads_file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(OutboxIntegrityError, match="does not match its manifest"):
        read_outbox(tmp_path, "run-1")


def test_compressed_run_reads_like_a_plain_one(tmp_path: Path) -> None:
    """Frames per chunk (as workers write them) and one stream read alike, and a
    run rewritten (as `forget` does) stays compressed and verified."""
    payloads = [
        payload(index, ("champions", "at_risk")[index % 2]) for index in range(9)
    ]
    write_outbox(payloads, tmp_path, "plain", compression="none")
    write_outbox(payloads, tmp_path, "stream")

    class Chunk:
        def __init__(self, part: list[dict[str, Any]]) -> None:
            encoder = LineEncoder()
            for item in part:
                encoder.write(payload_line(item))
            self.jsonl = encoder.finish()
            self.csv = b""
            self.payload_count = len(part)
            self.segments = Counter(p["segment"] for p in part)

    chunks = [Chunk(payloads[start : start + 4]) for start in range(0, 9, 4)]
    manifest = write_outbox_chunks(chunks, tmp_path, "chunks")
    assert manifest.payloads_file == "payloads.jsonl.zst"
    plain = payload_bytes(tmp_path / "plain")
    assert payload_bytes(tmp_path / "stream") == plain
    assert payload_bytes(tmp_path / "chunks") == plain
    size = (tmp_path / "chunks" / manifest.payloads_file).stat().st_size
    assert manifest.payloads_bytes == size  # the stored, compressed bytes
    expected = [json.loads(line) for line in plain.splitlines()]
    for run_id in ("plain", "stream", "chunks"):
        assert list(read_outbox(tmp_path, run_id)[1]) == expected

    removed = rewrite_run(
        tmp_path, "chunks", lambda p: p["recipient_id"] == "c-4", [b'"c-4"']
    )
    assert removed == 1
    rewritten, rows = read_outbox(tmp_path, "chunks")
    assert [row["recipient_id"] for row in rows] == [
        f"c-{index}" for index in range(9) if index != 4
    ]
    assert rewritten.payloads_file == "payloads.jsonl.zst"
    assert rewritten.segment_counts == {"at_risk": 4, "champions": 4}
    assert rewrite_run(tmp_path, "chunks", lambda p: True, [b'"c-4"']) == 0


def test_emails_are_read_without_decoding_the_html(tmp_path: Path) -> None:
    """Emails read from each line's head equal the full decode, also where a
    value before ``html`` holds an ``html`` key or the text ``,"html":``."""
    payloads = [
        {**payload(1), "email": "a@example.com", "html": "<p>1</p>"},
        {**payload(2), "email": 'q",html:"@example.com', "html": ',"html":"x'},
        {**payload(3), "blocks": ['x,"html":"y'], "email": "c@example.com"},
        {**payload(4), "consent": {"a": 1, "html": "x"}, "email": "d@example.com"},
        {**payload(5), "email": "e@example.com"},  # no html at all
        {**payload(6), "consent": {"z": 1}, "email": "f@example.com", "html": ""},
    ]
    write_outbox(payloads, tmp_path, "run-1")
    manifest, emails = read_outbox_emails(tmp_path)
    _, decoded = read_outbox(tmp_path)
    assert list(emails) == [row["email"] for row in decoded]
    assert manifest.payload_count == 6

    path = tmp_path / "run-1" / manifest.payloads_file
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(OutboxIntegrityError, match="does not match its manifest"):
        read_outbox_emails(tmp_path)


def test_manifest_naming_another_file_is_refused(tmp_path: Path) -> None:
    write_outbox([payload(1)], tmp_path, "run-1")
    path = tmp_path / "run-1" / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "payloads_file": "../../etc/passwd"}))
    with pytest.raises(OutboxIntegrityError, match="payloads_file"):
        read_outbox(tmp_path, "run-1")


def test_unknown_compression_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown outbox compression 'gzip'"):
        write_outbox([payload(1)], tmp_path, "run-1", compression="gzip")
    assert entries(tmp_path) == []


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
    lines = payload_bytes(tmp_path / "s-24-1").splitlines(True)
    assert lines == [(dumps(p) + "\n").encode("utf-8") for p in payloads]


@given(
    rows=st.lists(
        st.lists(st.text(st.sampled_from("ab,\"\r\n '=é"), max_size=4), max_size=4),
        max_size=4,
    )
)
def test_csv_records_are_the_csv_writers(rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    assert csv_lines(rows) == buffer.getvalue().encode("utf-8")


_CELL_TEXT = st.text(st.sampled_from("ab,\"\r\n '=+-@\té|"), max_size=5)
_CELL_VALUES = st.one_of(
    _CELL_TEXT,
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)


@given(
    payload=st.fixed_dictionaries(
        {key: _CELL_VALUES for key in CSV_COLUMNS if key != "blocks"},
        optional={
            "blocks": st.lists(_CELL_TEXT, max_size=3),
            "recommendations": st.lists(
                st.fixed_dictionaries(
                    {
                        part: _CELL_VALUES
                        for part in ("product_id", "name", "price", "currency", "url")
                    }
                ),
                max_size=4,
            ),
        },
    )
)
def test_a_csv_record_is_its_row_written_by_csv_lines(payload: dict[str, Any]) -> None:
    expected = csv_lines([csv_row(payload)]).decode("utf-8")
    assert csv_record(payload) == expected


def test_a_line_encoder_refuses_lines_after_its_frame_ended() -> None:
    encoder = LineEncoder()
    encoder.write(b"{}\n")
    encoder.finish()
    with pytest.raises(ValueError, match="after finish"):
        encoder.write(b"{}\n")
    with pytest.raises(ValueError, match="twice"):
        encoder.finish()


class _CaselessText(str):
    """A text equal to any text that differs from it in case only."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.lower() == other.lower()

    def __hash__(self) -> int:
        return hash(self.lower())


def test_a_csv_record_writes_a_text_subclass_as_its_own_text() -> None:
    base = {key: None for key in CSV_COLUMNS}
    assert csv_record({**base, "subject": "hello"}).count("hello") == 1
    shouting = {**base, "subject": _CaselessText("HELLO")}
    assert csv_record(shouting) == csv_lines([csv_row(shouting)]).decode("utf-8")
    assert "HELLO" in csv_record(shouting)


class _Defaulted(dict):
    """A payload whose get answers for keys it lacks."""

    def get(self, key: object, default: object = None) -> object:
        return super().get(key, f"<{key}>")


def test_a_csv_record_of_any_mapping_is_its_rows() -> None:
    payload = {key: "x" for key in CSV_COLUMNS}
    for mapping in (
        _Defaulted(subject="hi", blocks=[], recommendations=[]),  # its own get
        MappingProxyType(payload),
        {**payload, "recommendations": [None, {"name": "Shell"}]},
    ):
        assert csv_record(mapping) == csv_lines([csv_row(mapping)]).decode("utf-8")
