"""Render one personalized email payload per recipient and write them to an outbox.

The renderer is plain Python over dicts: the caller reads ``marts.personalization``
and ``marts.personalization_product_picks`` and passes rows in; nothing here knows
about Dagster or dbt.

- :mod:`renderer.catalog` loads the content-block catalog (``renderer/blocks/``)
  and picks blocks per recipient; :mod:`renderer.conditions` is its rule language.
- :mod:`renderer.compile` compiles the catalog's MJML layout once (CSS inlined).
- :mod:`renderer.render` builds payloads (subject, preheader, HTML, text, links).
- :mod:`renderer.guard` refuses recipients without consent, suppressed or capped.
- :mod:`renderer.campaigns` assigns A/B/n arms and the holdout by hashing.
- :mod:`renderer.pipeline` runs all of it per recipient with a decision audit.
- :mod:`renderer.parallel` runs it in worker processes, chunk by chunk, in order.
- :mod:`renderer.worker` starts such a worker process (with one BLAS thread).
- :mod:`renderer.audit` builds the decision audit of such a run in the warehouse.
- :mod:`renderer.preview` renders one recipient with its decisions.
- :mod:`renderer.outbox` writes payloads atomically to ``<outbox>/<run_id>/``.
- :mod:`renderer.export` syncs outbox runs to Mailchimp, HubSpot, Klaviyo, Braze.
- :mod:`renderer.segment_copy` is the one table of copy per RFM segment.

The modules that run per recipient are compiled with mypyc when installed
(``setup.py``); :mod:`renderer._compiled` refuses them once their source changed.
"""

# first: refuses compiled modules whose source changed, before any is imported
from renderer import _compiled  # noqa: F401
from renderer.campaigns import assign_arm
from renderer.catalog import Catalog, CatalogError, load_catalog
from renderer.guard import SendGuard
from renderer.outbox import OutboxManifest, read_outbox, write_outbox
from renderer.pipeline import RenderedRecipient, render_campaign
from renderer.render import (
    Campaign,
    MissingFieldError,
    Renderer,
    render,
    render_many,
)

__all__ = [
    "Campaign",
    "Catalog",
    "CatalogError",
    "MissingFieldError",
    "OutboxManifest",
    "RenderedRecipient",
    "Renderer",
    "SendGuard",
    "assign_arm",
    "load_catalog",
    "read_outbox",
    "render",
    "render_campaign",
    "render_many",
    "write_outbox",
]
