"""A local emulator of the four ESP batch APIs, for tests and dry runs.

:class:`FakeESP` serves Mailchimp, HubSpot, Klaviyo and Braze endpoints on
``127.0.0.1`` from a thread (``http.server.ThreadingHTTPServer``). It enforces the
batch limits (400/413 when exceeded), can answer 429 with ``Retry-After`` every
n-th request, fail requests at random with 500 (before or *after* applying them,
the latter being the case idempotency keys exist for), reject chosen emails per
item, and counts deliveries per ``(destination, email, campaign_id)``. Mailchimp
members keep their status: a request that sends ``status`` is recorded as a
violation (and applied, as the real API would).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIMITS = {"mailchimp": 500, "hubspot": 100, "klaviyo": 10_000, "braze": 75}
KLAVIYO_MAX_BYTES = 5 * 1024 * 1024


class FakeESP:
    """The emulator; use as a context manager (``with FakeESP() as esp:``).

    Parameters
    ----------
    seed
        Seeds the random failures.
    transient_failure_rate
        Share of requests answered 500 before doing anything.
    fail_after_apply_rate
        Share of requests applied, then answered 500 (response lost).
    rate_limit_every
        Every n-th request is answered 429 with ``Retry-After: retry_after``.
    reject_emails
        Emails rejected per item (any case).
    after_apply
        Called with the number of POSTs applied so far, after each one is applied
        and before it is answered: a test can kill the client at that point, the
        worst moment for it (its batch delivered, the acknowledgement lost).
    """

    def __init__(
        self,
        seed: int = 0,
        transient_failure_rate: float = 0.0,
        fail_after_apply_rate: float = 0.0,
        rate_limit_every: int = 0,
        retry_after: str = "1",
        reject_emails: Iterable[str] = (),
        after_apply: Callable[[int], None] | None = None,
    ) -> None:
        self.random = random.Random(seed)
        self.transient_failure_rate = transient_failure_rate
        self.fail_after_apply_rate = fail_after_apply_rate
        self.rate_limit_every = rate_limit_every
        self.retry_after = retry_after
        self.reject_emails = {e.lower() for e in reject_emails}
        self.after_apply = after_apply
        self.applied = 0
        self.lock = threading.Lock()
        self.deliveries: Counter[tuple[str, str, str]] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.statuses: Counter[int] = Counter()
        self.mailchimp_members: dict[str, dict[str, Any]] = {}
        self.violations: list[str] = []
        self.idempotent_replies: dict[str, tuple[int, Any]] = {}
        self.klaviyo_jobs: dict[str, list[dict[str, Any]]] = {}
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> FakeESP:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        assert self.server is not None, "server not started"
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve on a free port of 127.0.0.1 from a daemon thread."""
        esp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._reply(*esp.handle("GET", self.path, dict(self.headers), None))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                self._reply(*esp.handle("POST", self.path, dict(self.headers), raw))

            def _reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                with contextlib.suppress(ConnectionError):  # the client was killed
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # -- request handling ----------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes | None
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: ``(status, JSON body, extra headers)``."""
        with self.lock:
            status, body, extra = self._handle(method, path, headers, raw)
            self.statuses[status] += 1
            return status, body, extra

    def _handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes | None
    ) -> tuple[int, Any, dict[str, str]]:
        body = json.loads(raw) if raw else None
        self.requests.append(
            {"method": method, "path": path, "headers": headers, "body": body}
        )
        number = len(self.requests)
        if self.rate_limit_every and number % self.rate_limit_every == 0:
            return 429, {"detail": "rate limited"}, {"Retry-After": self.retry_after}
        if self.random.random() < self.transient_failure_rate:
            return 500, {"detail": "transient failure"}, {}
        key = headers.get("Idempotency-Key")
        if method == "POST" and key and key in self.idempotent_replies:
            status, reply = self.idempotent_replies[key]
            return status, reply, {"Idempotent-Replayed": "true"}
        if method == "GET":
            return self._get(path)
        status, reply = self._post(path, body, len(raw or b""))
        if method == "POST" and status < 300:
            self.applied += 1
            if self.after_apply is not None:
                self.after_apply(self.applied)
        if method == "POST" and key and status < 300:
            self.idempotent_replies[key] = (status, reply)
            if self.random.random() < self.fail_after_apply_rate:
                return 500, {"detail": "applied, but the response was lost"}, {}
        return status, reply, {}

    def _rejects(self, email: object) -> bool:
        return str(email).lower() in self.reject_emails

    def _post(self, path: str, body: Any, size: int) -> tuple[int, Any]:
        if path.startswith("/3.0/lists/"):
            return self._mailchimp(body)
        if path == "/crm/v3/objects/contacts/batch/upsert":
            return self._hubspot(body)
        if path == "/api/profile-bulk-import-jobs":
            return self._klaviyo(body, size)
        if path == "/users/track":
            return self._braze(body)
        return 404, {"detail": f"no route {path}"}

    def _get(self, path: str) -> tuple[int, Any, dict[str, str]]:
        prefix = "/api/profile-bulk-import-jobs/"
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            job_id, _, tail = rest.partition("/")
            if job_id not in self.klaviyo_jobs:
                return 404, {"errors": [{"detail": "no such job"}]}, {}
            if tail == "import-errors":
                return 200, {"data": self.klaviyo_jobs[job_id]}, {}
            attributes = {"status": "complete"}
            return 200, {"data": {"id": job_id, "attributes": attributes}}, {}
        return 404, {"detail": f"no route {path}"}, {}

    def _mailchimp(self, body: Any) -> tuple[int, Any]:
        members = body.get("members") or []
        if len(members) > LIMITS["mailchimp"]:
            return 400, {"title": "Too many members", "status": 400}
        new, updated, errors = [], [], []
        for member in members:
            email = str(member.get("email_address", "")).lower()
            if self._rejects(email):
                errors.append(
                    {
                        "email_address": member.get("email_address"),
                        "error": "looks fake or invalid",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                )
                continue
            merge = member.get("merge_fields") or {}
            existing = self.mailchimp_members.get(email)
            if "status" in member:
                self.violations.append(f"'status' sent for {email}")
            if existing is None:
                status = member.get("status") or member.get("status_if_new")
                self.mailchimp_members[email] = {
                    "status": status,
                    "merge_fields": merge,
                }
                new.append({"email_address": email, "status": status})
            else:
                existing["merge_fields"].update(merge)
                if "status" in member:
                    existing["status"] = member["status"]
                updated.append({"email_address": email, "status": existing["status"]})
            self.deliveries[("mailchimp", email, str(merge.get("MR_CAMP")))] += 1
        return 200, {
            "new_members": new,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(new),
            "total_updated": len(updated),
            "error_count": len(errors),
        }

    def _hubspot(self, body: Any) -> tuple[int, Any]:
        inputs = body.get("inputs") or []
        if len(inputs) > LIMITS["hubspot"]:
            return 400, {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": f"Batch size {len(inputs)} exceeds the limit of 100",
            }
        results, errors = [], []
        for item in inputs:
            email = str(item.get("id", "")).lower()
            if item.get("idProperty") != "email" or self._rejects(email):
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": "Property values were not valid",
                        "context": {"ids": [item.get("id")]},
                    }
                )
                continue
            properties = item.get("properties") or {}
            campaign = str(properties.get("mailroom_mr_camp"))
            self.deliveries[("hubspot", email, campaign)] += 1
            results.append({"id": email, "properties": properties})
        status = 207 if errors else 200
        return status, {"status": "COMPLETE", "results": results, "errors": errors}

    def _klaviyo(self, body: Any, size: int) -> tuple[int, Any]:
        profiles = body["data"]["attributes"]["profiles"]["data"]
        if len(profiles) > LIMITS["klaviyo"] or size > KLAVIYO_MAX_BYTES:
            return 413, {"errors": [{"code": "payload_too_large"}]}
        job_id = f"job-{len(self.klaviyo_jobs) + 1}"
        errors = []
        for profile in profiles:
            attributes = profile.get("attributes") or {}
            email = str(attributes.get("email", "")).lower()
            if self._rejects(email):
                errors.append(
                    {
                        "type": "import-error",
                        "attributes": {
                            "code": "invalid",
                            "title": "Invalid input.",
                            "detail": "Invalid email address",
                            "original_payload": {"email": attributes.get("email")},
                        },
                    }
                )
                continue
            campaign = str((attributes.get("properties") or {}).get("mailroom_mr_camp"))
            self.deliveries[("klaviyo", email, campaign)] += 1
        self.klaviyo_jobs[job_id] = errors
        attributes = {"status": "queued", "total_count": len(profiles)}
        return 202, {
            "data": {
                "type": "profile-bulk-import-job",
                "id": job_id,
                "attributes": attributes,
            }
        }

    def _braze(self, body: Any) -> tuple[int, Any]:
        attributes = body.get("attributes") or []
        if len(attributes) > LIMITS["braze"]:
            return 400, {"message": "Too many attributes objects (limit 75)"}
        errors = []
        for index, user in enumerate(attributes):
            email = str(user.get("email", "")).lower()
            if "email_subscribe" in user:
                self.violations.append(f"'email_subscribe' sent for {email}")
            if self._rejects(email):
                errors.append(
                    {
                        "type": "invalid email",
                        "input_array": "attributes",
                        "index": index,
                    }
                )
                continue
            campaign = str(user.get("mailroom_mr_camp"))
            self.deliveries[("braze", email, campaign)] += 1
        reply: dict[str, Any] = {
            "message": "success",
            "attributes_processed": len(attributes) - len(errors),
        }
        if errors:
            reply["errors"] = errors
        return 201, reply
