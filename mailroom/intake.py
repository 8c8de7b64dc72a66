"""Events posted over HTTP: checked against the landing contract, landed as files.

The HTTP intake (``mailroom.intake_server``) hands every request's events to
:func:`validate_events`, then to :func:`land_events`. Validation is the landing
contract of ``mailroom.contract`` applied per event, so a malformed event is refused
with a message naming the event and the field before anything is written. Landing
writes one new JSONL file per call into ``landing/<source>/`` through a hidden temp
file that is fsynced and then renamed: ingestion (and the ``new_landing_files``
sensor) see either the whole file or nothing, never a half-written batch.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailroom.contract import EMAIL_EVENT_TYPES, SOURCES, WEB_EVENT_TYPES, Source

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "web_events": WEB_EVENT_TYPES,
    "email_events": EMAIL_EVENT_TYPES,
}
"""The sources the intake accepts, and the event types each allows."""

MAX_PROBLEMS = 20
BOOLEAN_TEXT = {"true", "false"}


class InvalidEvents(ValueError):
    """A batch that breaks the landing contract; ``problems`` name event and field."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        more = (
            f" (and {self.total - len(problems)} more)"
            if self.total > len(problems)
            else ""
        )
        super().__init__("; ".join(problems) + more)


def validate_events(source_name: str, payload: Any) -> list[dict[str, str]]:
    """The events of one request as text rows, or :class:`InvalidEvents`.

    ``payload`` is one event (a JSON object) or a batch (a non-empty JSON array of
    objects). Field names are case-insensitive, as in landing files; values are kept
    as text, exactly as sent (``true``/``false`` for JSON booleans). A batch with one
    bad event is refused whole, so a client can fix it and resend all of it.
    """
    if source_name not in EVENT_TYPES:
        raise InvalidEvents(
            [f"unknown source {source_name!r}: post to {' or '.join(EVENT_TYPES)}"]
        )
    events = [payload] if isinstance(payload, Mapping) else payload
    if not isinstance(events, list) or not events:
        raise InvalidEvents(
            ["the body must be a JSON object (one event) or a non-empty array of them"]
        )
    source = SOURCES[source_name]
    rows: list[dict[str, str]] = []
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    for index, event in enumerate(events):
        row, event_problems = _check_event(source, event)
        event_id = row.get("event_id")
        if event_id is not None and event_id in seen_ids:
            event_problems.append(
                f"event_id {event_id!r} repeats event {seen_ids[event_id]}"
            )
        elif event_id is not None:
            seen_ids[event_id] = index
        problems += [f"event {index}: {problem}" for problem in event_problems]
        rows.append(row)
    if problems:
        raise InvalidEvents(problems[:MAX_PROBLEMS], total=len(problems))
    return rows


def _check_event(source: Source, event: Any) -> tuple[dict[str, str], list[str]]:
    """One event as a text row, and what is wrong with it (empty when nothing)."""
    if not isinstance(event, Mapping):
        return {}, [f"is {type(event).__name__}, not a JSON object"]
    problems: list[str] = []
    row: dict[str, str] = {}
    known = set(source.column_names)
    for key, value in event.items():
        name = str(key).strip().lower()
        if name not in known:
            problems.append(
                f"unknown field {key!r} (the contract allows: "
                f"{', '.join(source.column_names)})"
            )
        elif isinstance(value, Mapping | list):
            problems.append(f"field {name!r} holds a nested value; send plain values")
        elif value is not None and str(value).strip() != "":
            row[name] = _as_text(value)
    problems += [f"missing {name}" for name in source.missing_columns(set(row))]
    problems += _check_values(source, row)
    return row, problems


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_values(source: Source, row: Mapping[str, str]) -> list[str]:
    problems = []
    event_type = row.get("event_type")
    allowed = EVENT_TYPES[source.name]
    if event_type is not None and event_type not in allowed:
        problems.append(f"event_type {event_type!r} is not one of {', '.join(allowed)}")
    for column in source.columns:
        value = row.get(column.name)
        if value is None:
            continue
        if column.type == "timestamp" and parse_timestamp(value) is None:
            problems.append(
                f"{column.name} {value!r} is not an ISO 8601 timestamp "
                "(e.g. 2024-03-05T14:12:00Z)"
            )
        elif column.type == "boolean" and value.lower() not in BOOLEAN_TEXT:
            problems.append(f"{column.name} {value!r} is not true or false")
    return problems


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive means UTC), else None."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def land_events(
    landing: Path, source_name: str, rows: Sequence[Mapping[str, str]]
) -> Path:
    """Write ``rows`` as one new JSONL file in ``landing/<source>/``, durably.

    The rows go to a hidden temp file (ingestion skips dot-files), which is fsynced
    before it is renamed to its final name and the folder is fsynced after: a crash
    leaves either no file or the complete one. Names start with the UTC time, so
    ingestion, which loads in name order, loads batches in arrival order.
    """
    folder = Path(landing) / source_name
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"intake-{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    temp = folder / f".{name}.tmp"
    body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        final = folder / name
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_folder(folder)
    return final


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the directory)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
