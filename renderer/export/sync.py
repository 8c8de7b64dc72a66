"""Diff-based sync of an outbox run to an ESP: only changed recipients are sent.

For one run and one destination:

1. read the run (checksums verified) and the sync state;
2. keep the payloads whose ``content_hash`` differs from the one the destination
   last acknowledged for that ``(recipient_id, campaign_id)``;
3. build the destination's items (payloads it cannot take, such as ones without an
   opt-in, are recorded as rejected and not sent) and cut them into batches within
   its item and byte limits;
4. send each batch (retries, backoff, Retry-After: :mod:`renderer.export.http`) and,
   once the ESP acknowledged it, commit accepted and rejected items to the state,
   with one export-log row per item (recipient id, fields, outcome) in the same
   transaction.

Killing a sync midway loses at most the batch in flight, which the next run sends
again with the same idempotency keys; every changed recipient is delivered once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from renderer.export.destinations import (
    DESTINATIONS,
    Destination,
    Rejected,
    batch_key,
    idempotency_key,
    item_fields,
)
from renderer.export.http import HttpClient, RetryPolicy
from renderer.export.state import SyncState
from renderer.outbox import read_outbox

STATE_FILE = "esp_sync.sqlite"
# (recipient_id, campaign_id, content_hash, idempotency_key, email) of one item.
Ident = tuple[str, str, str, str, str]


@dataclass
class SyncReport:
    """What one sync did.

    Attributes
    ----------
    destination, run_id
        Where to and from which run.
    considered
        Payloads in the run.
    unchanged
        Skipped: the destination already acknowledged that exact content.
    sent
        Items sent in acknowledged batches.
    accepted
        Items the destination accepted.
    rejected
        ``(recipient_id, reason)`` for items refused locally or by the ESP; they
        will be tried again by the next sync.
    batches
        Batches acknowledged.
    attempts, retries
        HTTP attempts made and how many were retries.
    """

    destination: str
    run_id: str
    considered: int = 0
    unchanged: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    batches: int = 0
    attempts: int = 0
    retries: int = 0


def _batches(
    destination: Destination,
    items: Iterator[tuple[dict[str, Any], Ident]],
) -> Iterator[list[tuple[dict[str, Any], Ident]]]:
    """Cut items into batches within the destination's item and byte limits."""
    batch: list[tuple[dict[str, Any], Ident]] = []
    size = 0
    limit = destination.max_bytes
    for item, ident in items:
        item_size = len(json.dumps(item, ensure_ascii=False).encode()) + 1
        if batch and (
            len(batch) >= destination.max_items
            or (limit is not None and size + item_size > limit - 1024)
        ):
            yield batch
            batch, size = [], 0
        batch.append((item, ident))
        size += item_size
    if batch:
        yield batch


def _send_date(metadata: Mapping[str, Any]) -> dt.date | None:
    """The day the run's campaign goes out: its as-of date, if it records one."""
    as_of = metadata.get("as_of")
    return dt.date.fromisoformat(as_of) if isinstance(as_of, str) else None


def sync_outbox(
    outbox_root: Path,
    run_id: str | None,
    destination: str,
    base_url: str,
    state_path: Path | None = None,
    api_key: str | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    session: requests.Session | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> SyncReport:
    """Send the changed payloads of an outbox run to one ESP.

    Parameters
    ----------
    outbox_root, run_id
        The outbox and the run to sync (``None``: the run named in ``LATEST``).
    destination
        ``"mailchimp"``, ``"hubspot"``, ``"klaviyo"`` or ``"braze"``.
    base_url
        The API's base URL (e.g. ``https://us21.api.mailchimp.com``,
        ``https://api.hubapi.com``, ``https://a.klaviyo.com``,
        ``https://rest.iad-01.braze.com``), or a local test server.
    state_path
        The sync state file; ``<outbox_root>/esp_sync.sqlite`` by default.
    api_key
        The destination's API key.
    options
        Destination options, e.g. ``{"list_id": "..."}`` for Mailchimp.
    policy, sleep, session
        HTTP retry policy, the sleep function and a ``requests.Session``.
    after_batch
        Called with the number of batches committed so far, after each commit.

    Returns
    -------
    SyncReport
        Counts, rejections and HTTP attempts.

    Raises
    ------
    KeyError
        For an unknown destination.
    renderer.export.http.ExportError
        If a batch fails for good; batches acknowledged before stay committed.
    """
    if destination not in DESTINATIONS:
        raise KeyError(
            f"unknown destination {destination!r}; choose from {sorted(DESTINATIONS)}"
        )
    target = DESTINATIONS[destination](api_key, **dict(options or {}))
    client = HttpClient(
        base_url, target.headers(), policy=policy, sleep=sleep, session=session
    )
    manifest, payloads = read_outbox(Path(outbox_root), run_id)
    report = SyncReport(destination=destination, run_id=manifest.run_id)
    send_date = _send_date(manifest.metadata)
    state_path = Path(state_path) if state_path else Path(outbox_root) / STATE_FILE
    with SyncState(state_path) as state:
        acknowledged: dict[str, dict[str, str]] = {}
        local_rejections: list[tuple[str, str, str, str]] = []

        def changed() -> Iterator[tuple[dict[str, Any], Ident]]:
            for payload in payloads:
                report.considered += 1
                recipient_id = str(payload.get("recipient_id"))
                campaign_id = str(payload.get("campaign_id"))
                content_hash = str(payload.get("content_hash"))
                if campaign_id not in acknowledged:
                    acknowledged[campaign_id] = state.acknowledged(
                        destination, campaign_id
                    )
                if acknowledged[campaign_id].get(recipient_id) == content_hash:
                    report.unchanged += 1
                    continue
                key = idempotency_key(recipient_id, campaign_id, content_hash)
                try:
                    item = target.item(payload, key)
                except Rejected as error:
                    local_rejections.append(
                        (recipient_id, campaign_id, content_hash, str(error))
                    )
                    report.rejected.append((recipient_id, str(error)))
                    continue
                email = str(payload.get("email"))
                yield item, (recipient_id, campaign_id, content_hash, key, email)

        try:
            for batch in _batches(target, changed()):
                items = [item for item, _ in batch]
                idents = [ident for _, ident in batch]
                result = target.send(client, items, batch_key([i[3] for i in idents]))
                accepted = [idents[i] for i in sorted(result.accepted)]
                rejected = [
                    (*idents[i][:3], reason)
                    for i, reason in sorted(result.rejected.items())
                ]
                fields = sorted({f for item in items for f in item_fields(item)})
                state.record_batch(
                    destination,
                    manifest.run_id,
                    accepted,
                    rejected,
                    send_date,
                    fields=",".join(fields),
                )
                report.batches += 1
                report.sent += len(items)
                report.accepted += len(accepted)
                report.rejected.extend((r[0], r[3]) for r in rejected)
                if after_batch is not None:
                    after_batch(report.batches)
        finally:
            if local_rejections:
                state.record_batch(destination, manifest.run_id, [], local_rejections)
            report.attempts = client.attempts
            report.retries = client.retries
    return report
