"""Render one personalized email payload per recipient and write them to an outbox.

The renderer is plain Python over dicts: the caller reads ``marts.personalization``
and ``marts.personalization_product_picks`` and passes rows in; nothing here knows
about Dagster or dbt.

- :mod:`renderer.render` builds payloads (subject, preheader, HTML, text, links).
- :mod:`renderer.outbox` writes payloads atomically to ``<outbox>/<run_id>/``.
- :mod:`renderer.segment_copy` is the one table of copy per RFM segment.
"""

from renderer.outbox import OutboxManifest, read_outbox, write_outbox
from renderer.render import (
    Campaign,
    MissingFieldError,
    Renderer,
    render,
    render_many,
)

__all__ = [
    "Campaign",
    "MissingFieldError",
    "OutboxManifest",
    "Renderer",
    "read_outbox",
    "render",
    "render_many",
    "write_outbox",
]
