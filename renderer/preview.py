"""Preview one recipient's email and the block decisions behind it (pure)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from renderer.catalog import load_catalog
from renderer.render import Campaign, Renderer


@functools.cache
def _default_renderer() -> Renderer:
    return Renderer(catalog=load_catalog())


def preview(
    recipient: Mapping[str, Any],
    picks: Sequence[Mapping[str, Any]],
    campaign: Campaign,
    variant: str | None = None,
    renderer: Renderer | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Render one recipient's HTML and explain which blocks were chosen.

    No consent or frequency checks run here and nothing is written: this shows
    what the recipient *would* get.

    Parameters
    ----------
    recipient, picks, campaign, variant
        As for :meth:`renderer.render.Renderer.render`.
    renderer
        A renderer with a catalog; the default catalog's by default.

    Returns
    -------
    tuple of (str, list of dict)
        The HTML, and per block evaluated: ``block_id``, ``slot``, ``fired``,
        ``rule`` and ``values`` (the column values the rule saw).
    """
    renderer = renderer or _default_renderer()
    payload, decisions = renderer.render_with_decisions(
        recipient, picks, campaign, variant
    )
    return payload["html"], [
        {
            "block_id": d.block_id,
            "slot": d.slot,
            "fired": d.fired,
            "rule": d.rule,
            "values": d.values,
        }
        for d in decisions
    ]
