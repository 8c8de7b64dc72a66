"""ESP-shaped batches: how each destination wants contacts, and what it answers.

Every destination turns an outbox payload into one item of its batch API, sends
batches within its documented limits, and reads per-item results back:

- Mailchimp: ``POST /3.0/lists/{list_id}`` with ``members[]``, 500 per call;
- HubSpot: ``POST /crm/v3/objects/contacts/batch/upsert``, 100 inputs, by email;
- Klaviyo: ``POST /api/profile-bulk-import-jobs``, 10,000 profiles and 5 MB per job;
- Braze: ``POST /users/track`` with ``attributes[]``, 75 objects per request.

Consent is never changed by an export: Mailchimp members are upserted with
``status_if_new`` only (``subscribed`` for recipients with an opt-in, and nobody
else is sent at all), never ``status``, so an unsubscribed member stays
unsubscribed; HubSpot, Klaviyo and Braze get profile properties only, never
subscription fields. Every item carries the idempotency key of its
``(recipient, campaign, content hash)``.

Only what the ESP needs to send the rendered campaign leaves: the address, the
first name (the greeting of ESP-side templates) and the merge variables listed in
:data:`ESP_MERGE_FIELDS` (subject, preheader, variant, tracking id, campaign,
blocks, picks). The last name, the RFM segment and any other profile value in a
payload's ``merge_vars`` stay home; :func:`item_fields` lists what an item
carries, for the export log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from renderer.export.http import ExportError, HttpClient, Response

IDEMPOTENCY_HEADER = "Idempotency-Key"
MERGE_PICKS = 3
# The merge variables an export may carry (data minimisation): what an ESP-side
# template needs to show the rendered campaign, nothing that profiles the person.
ESP_MERGE_FIELDS: tuple[str, ...] = (
    "FNAME",
    "MR_SUBJ",
    "MR_PREHEAD",
    "MR_VARIANT",
    "MR_TID",
    "MR_CAMP",
    "MR_BLOCKS",
    *(
        f"MR_P{rank}_{part}"
        for rank in range(1, MERGE_PICKS + 1)
        for part in ("NAME", "URL", "PRC", "IMG")
    ),
)


class Rejected(Exception):
    """A payload that cannot be sent to a destination (recorded, not sent)."""


def idempotency_key(recipient_id: str, campaign_id: str, content_hash: str) -> str:
    """Stable key of one recipient's content in one campaign (32 hex digits)."""
    material = f"{recipient_id}\x00{campaign_id}\x00{content_hash}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def batch_key(keys: Sequence[str]) -> str:
    """Idempotency key of a whole batch, from its items' keys."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:32]


@dataclass
class BatchResult:
    """Per-item outcome of one acknowledged batch: indexes accepted or rejected."""

    accepted: set[int]
    rejected: dict[int, str]


class Destination:
    """Base class: one ESP's batch API.

    Attributes
    ----------
    name
        Destination id used in the sync state.
    max_items, max_bytes
        Batch limits (bytes of the JSON items, ``None`` if unlimited).
    """

    name: ClassVar[str] = ""
    max_items: ClassVar[int] = 100
    max_bytes: ClassVar[int | None] = None

    def __init__(self, api_key: str | None = None, **options: Any) -> None:
        self.api_key = api_key
        self.options = options

    def headers(self) -> dict[str, str]:
        """Headers for every request (authentication)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def item(self, payload: Mapping[str, Any], key: str) -> dict[str, Any]:
        """The batch item for ``payload``; raises :class:`Rejected` if unsendable."""
        raise NotImplementedError

    def send(
        self, client: HttpClient, items: list[dict[str, Any]], key: str
    ) -> BatchResult:
        """Send one batch and read per-item results."""
        raise NotImplementedError


def _require_email(payload: Mapping[str, Any]) -> str:
    email = payload.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Rejected(f"no usable email: {email!r}")
    return email


def _require_opt_in(payload: Mapping[str, Any]) -> None:
    if payload.get("consent") != "opted_in":
        raise Rejected(
            "no opt-in recorded in the payload (render with renderer.pipeline, "
            "which only emits payloads the SendGuard allowed)"
        )


def _merge_vars(payload: Mapping[str, Any]) -> dict[str, str]:
    """The payload's merge variables that an export may carry, as text."""
    merge = payload.get("merge_vars") or {}
    return {
        name: "" if merge[name] is None else str(merge[name])
        for name in ESP_MERGE_FIELDS
        if name in merge
    }


def item_fields(item: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The field paths an item carries (``merge_fields.FNAME``), sorted; list items
    count once, as ``path[]``."""
    fields: set[str] = set()
    for key, value in item.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            fields.update(item_fields(value, f"{path}."))
        else:
            fields.add(path)
    return sorted(fields)


def _check_status(response: Response, what: str, accepted: Sequence[int]) -> None:
    if response.status not in accepted:
        raise ExportError(
            f"{what} answered HTTP {response.status}: {str(response.body)[:300]}",
            response.status,
        )


class Mailchimp(Destination):
    """Mailchimp Marketing API batch member upsert (``list_id`` option needed)."""

    name = "mailchimp"
    max_items = 500

    def headers(self) -> dict[str, str]:
        """Basic auth with any user name and the API key as password."""
        if not self.api_key:
            return {}
        import base64

        token = base64.b64encode(f"mailroom:{self.api_key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def item(self, payload: Mapping[str, Any], key: str) -> dict[str, Any]:
        """A member with ``status_if_new`` (never ``status``) and merge fields."""
        email = _require_email(payload)
        _require_opt_in(payload)
        merge = _merge_vars(payload)
        merge["MR_IDEM"] = key
        return {
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": merge,
        }

    def send(
        self, client: HttpClient, items: list[dict[str, Any]], key: str
    ) -> BatchResult:
        """``POST /3.0/lists/{list_id}``; errors are matched back by email."""
        list_id = self.options.get("list_id")
        if not list_id:
            raise ExportError("mailchimp needs the list_id option (the audience id)")
        response = client.request(
            "POST",
            f"/3.0/lists/{list_id}",
            {"members": items, "update_existing": True},
            {IDEMPOTENCY_HEADER: key},
        )
        _check_status(response, "mailchimp", (200,))
        body = response.body or {}
        index = {item["email_address"].lower(): i for i, item in enumerate(items)}
        rejected = {}
        for error in body.get("errors") or []:
            position = index.get(str(error.get("email_address", "")).lower())
            if position is not None:
                code = error.get("error_code", "")
                rejected[position] = f"{code}: {error.get('error', '')}".strip(": ")
        return BatchResult(set(range(len(items))) - set(rejected), rejected)


class HubSpot(Destination):
    """HubSpot CRM contacts batch upsert by email."""

    name = "hubspot"
    max_items = 100

    def item(self, payload: Mapping[str, Any], key: str) -> dict[str, Any]:
        """An upsert input keyed by email, with ``mailroom_*`` properties."""
        email = _require_email(payload)
        _require_opt_in(payload)
        merge = _merge_vars(payload)
        properties = {
            "email": email,
            "firstname": merge.pop("FNAME", ""),
            **{f"mailroom_{k.lower()}": v for k, v in merge.items()},
            "mailroom_content_hash": str(payload.get("content_hash", "")),
            "mailroom_idempotency_key": key,
        }
        return {"idProperty": "email", "id": email, "properties": properties}

    def send(
        self, client: HttpClient, items: list[dict[str, Any]], key: str
    ) -> BatchResult:
        """200 (all done) or 207 (some errors, matched back by email)."""
        response = client.request(
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            {"inputs": items},
            {IDEMPOTENCY_HEADER: key},
        )
        _check_status(response, "hubspot", (200, 201, 207))
        body = response.body or {}
        index = {item["id"].lower(): i for i, item in enumerate(items)}
        rejected = {}
        for error in body.get("errors") or []:
            for item_id in (error.get("context") or {}).get("ids") or []:
                position = index.get(str(item_id).lower())
                if position is not None:
                    rejected[position] = (
                        f"{error.get('category', 'ERROR')}: {error.get('message', '')}"
                    )
        return BatchResult(set(range(len(items))) - set(rejected), rejected)


class Klaviyo(Destination):
    """Klaviyo profile bulk import jobs (waits for the job, reads import errors)."""

    name = "klaviyo"
    max_items = 10_000
    max_bytes = 5 * 1024 * 1024
    revision = "2024-10-15"
    max_polls = 60

    def headers(self) -> dict[str, str]:
        """Klaviyo's private-key header and API revision."""
        headers = {"revision": self.revision, "accept": "application/vnd.api+json"}
        if self.api_key:
            headers["Authorization"] = f"Klaviyo-API-Key {self.api_key}"
        return headers

    def item(self, payload: Mapping[str, Any], key: str) -> dict[str, Any]:
        """A profile with the first name and ``mailroom_*`` custom properties."""
        email = _require_email(payload)
        _require_opt_in(payload)
        merge = _merge_vars(payload)
        return {
            "type": "profile",
            "attributes": {
                "email": email,
                "first_name": merge.pop("FNAME", ""),
                "properties": {
                    **{f"mailroom_{k.lower()}": v for k, v in merge.items()},
                    "mailroom_idempotency_key": key,
                },
            },
        }

    def send(
        self, client: HttpClient, items: list[dict[str, Any]], key: str
    ) -> BatchResult:
        """Create the job, poll it until done, then read its import errors."""
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": items}},
            }
        }
        response = client.request(
            "POST", "/api/profile-bulk-import-jobs", body, {IDEMPOTENCY_HEADER: key}
        )
        _check_status(response, "klaviyo", (200, 201, 202))
        job_id = ((response.body or {}).get("data") or {}).get("id")
        if not job_id:
            raise ExportError(f"klaviyo returned no job id: {response.body!r}")
        status = ((response.body or {}).get("data") or {}).get("attributes", {})
        for _ in range(self.max_polls):
            if status.get("status") in ("complete", "failed", "cancelled"):
                break
            client.sleep(1.0)
            polled = client.request("GET", f"/api/profile-bulk-import-jobs/{job_id}")
            _check_status(polled, "klaviyo job", (200,))
            status = (polled.body or {}).get("data", {}).get("attributes", {})
        else:
            raise ExportError(f"klaviyo job {job_id} did not finish in time")
        if status.get("status") != "complete":
            raise ExportError(f"klaviyo job {job_id} ended {status.get('status')!r}")
        errors = client.request(
            "GET", f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        )
        _check_status(errors, "klaviyo import errors", (200,))
        index = {item["attributes"]["email"].lower(): i for i, item in enumerate(items)}
        rejected = {}
        for error in (errors.body or {}).get("data") or []:
            attributes = error.get("attributes") or {}
            original = attributes.get("original_payload") or {}
            position = index.get(str(original.get("email", "")).lower())
            if position is not None:
                rejected[position] = (
                    f"{attributes.get('code', 'error')}: {attributes.get('detail', '')}"
                )
        return BatchResult(set(range(len(items))) - set(rejected), rejected)


class Braze(Destination):
    """Braze ``/users/track`` attribute updates, by ``external_id``."""

    name = "braze"
    max_items = 75

    def item(self, payload: Mapping[str, Any], key: str) -> dict[str, Any]:
        """User attributes (never ``email_subscribe``) keyed by ``external_id``."""
        email = _require_email(payload)
        _require_opt_in(payload)
        merge = _merge_vars(payload)
        return {
            "external_id": str(payload.get("recipient_id")),
            "email": email,
            "first_name": merge.pop("FNAME", ""),
            **{f"mailroom_{k.lower()}": v for k, v in merge.items()},
            "mailroom_idempotency_key": key,
        }

    def send(
        self, client: HttpClient, items: list[dict[str, Any]], key: str
    ) -> BatchResult:
        """201 with optional per-item ``errors`` that point at an index."""
        response = client.request(
            "POST", "/users/track", {"attributes": items}, {IDEMPOTENCY_HEADER: key}
        )
        _check_status(response, "braze", (200, 201))
        rejected = {}
        for error in (response.body or {}).get("errors") or []:
            position = error.get("index")
            if (
                error.get("input_array", "attributes") == "attributes"
                and isinstance(position, int)
                and 0 <= position < len(items)
            ):
                rejected[position] = str(error.get("type", "rejected"))
        return BatchResult(set(range(len(items))) - set(rejected), rejected)


DESTINATIONS: dict[str, type[Destination]] = {
    cls.name: cls for cls in (Mailchimp, HubSpot, Klaviyo, Braze)
}
