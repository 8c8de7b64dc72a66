"""Export outbox runs to ESPs: batch shapes, an HTTP client, diff-based sync.

- :mod:`renderer.export.destinations`: Mailchimp, HubSpot, Klaviyo and Braze
  batch APIs, with their limits, and consent-safe item shapes;
- :mod:`renderer.export.http`: retries, backoff with jitter, Retry-After, timeouts;
- :mod:`renderer.export.state`: what each ESP acknowledged (SQLite);
- :mod:`renderer.export.sync`: :func:`sync_outbox`, sending only what changed;
- the tests hold a local emulator of the four APIs (tests/fake_esp.py).
"""

from renderer.export.destinations import DESTINATIONS, idempotency_key
from renderer.export.http import ExportError, HttpClient, RetryPolicy
from renderer.export.state import SyncState
from renderer.export.sync import SyncReport, sync_outbox

__all__ = [
    "DESTINATIONS",
    "ExportError",
    "HttpClient",
    "RetryPolicy",
    "SyncReport",
    "SyncState",
    "idempotency_key",
    "sync_outbox",
]
