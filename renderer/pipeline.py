"""Render a campaign: guard, experiment arm, blocks, payload and decision audit.

For each recipient, in order:

1. the :class:`~renderer.guard.SendGuard` may refuse them (no consent, suppressed,
   over the frequency cap ...): no payload, one audit row with the reason;
2. the experiment arm is drawn (:mod:`renderer.campaigns`); the holdout gets no
   payload, one audit row;
3. otherwise the catalog picks the blocks and the payload is rendered; one audit
   row per block evaluated says whether it fired, its rule and the values it saw.

Refused recipients are never assigned an arm, so the holdout and the variants are
drawn from the same eligible population.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from renderer.campaigns import HOLDOUT, ArmAssigner
from renderer.catalog import GUARD_BLOCK_ID, HOLDOUT_BLOCK_ID, Decision, load_catalog
from renderer.guard import OPTED_IN
from renderer.outbox import dumps, dumps_fast
from renderer.render import Campaign, EncodedHtml, Renderer

# Recipient columns a guard refusal records as the values seen.
GUARD_COLUMNS: Final = ("consent_status", "is_suppressed")
GUARD_RULE: Final = (
    "valid email, opt-in, not suppressed, under frequency cap, not duplicate"
)
HOLDOUT_REASON: Final = "holdout: control group, no email"
# Columns of a decision-audit row, in order.
AUDIT_COLUMNS: Final = (
    "customer_id",
    "campaign_id",
    "variant",
    "block_id",
    "slot",
    "fired",
    "rule",
    "values_seen",
    "reason",
    "model_version",
)


class Guard(Protocol):
    """What :func:`render_campaign` asks of a send guard
    (:class:`renderer.guard.SendGuard`, or verdicts it gave before)."""

    def check(self, recipient: Mapping[str, Any]) -> str | None:
        """``None`` if the recipient may be emailed, else the reason why not."""
        ...


@dataclass
class RenderedRecipient:
    """What happened to one recipient.

    Attributes
    ----------
    customer_id
        The recipient.
    variant
        The experiment arm (``"holdout"`` for the control group); ``None`` when the
        guard refused the recipient.
    payload
        The payload to send, or ``None`` (refused or held out).
    audit_rows
        Decision-audit rows as tuples in :data:`AUDIT_COLUMNS` order (see
        :attr:`audit` for them as dicts).
    refused
        The guard's reason, when refused.
    html
        With ``render_campaign(..., encoded=True)``: the payload's HTML as bytes
        (the payload's ``html`` is then ``""``).
    """

    customer_id: str
    variant: str | None
    payload: dict[str, Any] | None
    audit_rows: list[tuple[Any, ...]] = field(default_factory=list)
    refused: str | None = None
    html: EncodedHtml | None = None

    @property
    def audit(self) -> list[dict[str, Any]]:
        """Decision-audit rows (see :data:`AUDIT_COLUMNS`)."""
        return [dict(zip(AUDIT_COLUMNS, row, strict=True)) for row in self.audit_rows]


def holdout_rule(share: float) -> str:
    """The rule a holdout row of the audit records."""
    return f"holdout share {share:g}"


def split_holdout(arms: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Arms without a ``"holdout"`` entry, and the holdout's share of the total.

    ``{"A": 45, "B": 45, "holdout": 10}`` gives ``({"A": 45, "B": 45}, 0.1)``.
    """
    variants = {name: weight for name, weight in arms.items() if name != HOLDOUT}
    if HOLDOUT not in arms:
        return variants, 0.0
    total = float(sum(arms.values()))
    return variants, float(arms[HOLDOUT]) / total if total > 0 else 0.0


@functools.lru_cache(maxsize=65_536)
def _values_json(key: tuple[Any, ...], values: tuple[object, ...]) -> str:
    """JSON text of the values a rule saw; the same few combinations repeat a lot.

    Cached by ``key`` (see :func:`_values_text`); ``values`` are the values of the
    first call with that key, which all calls with it serialise alike.
    """
    names = key[0]
    return dumps_fast(dict(zip(names, values, strict=True)))


_PLAIN: Final = frozenset({str, int, bool, type(None)})


def _values_text(names: tuple[str, ...], values: tuple[object, ...]) -> str:
    """JSON text of ``dict(zip(names, values))``, as :func:`dumps` writes it."""
    # Equal values can serialise differently (1, True, 1.0 and Decimal("1.00")
    # are equal, and so are aware datetimes of one instant in two zones): the
    # cache key holds each value's type, and its repr unless it is plain.
    types = tuple(map(type, values))
    if _PLAIN.issuperset(types):
        key: tuple[Any, ...] = (names, types, values)
    else:
        key = (names, types, tuple(map(repr, values)))
    try:
        return _values_json(key, values)
    except TypeError:  # an unhashable value: serialise without the cache
        return dumps(dict(zip(names, values, strict=True)))


def _decision_rows(
    customer_id: str,
    campaign_id: str,
    variant: str,
    decisions: Iterable[Decision],
    model_version: str,
) -> list[tuple[Any, ...]]:
    """Audit rows of the blocks evaluated for one rendered recipient."""
    rows = []
    for decision in decisions:
        columns, row = decision.columns, decision.row
        rows.append(
            (
                customer_id,
                campaign_id,
                variant,
                decision.block_id,
                decision.slot,
                decision.fired,
                decision.rule,
                _values_text(columns, tuple([row.get(c) for c in columns])),
                None,
                model_version,
            )
        )
    return rows


def render_campaign(
    recipients_batches: Iterable[
        tuple[Sequence[Mapping[str, Any]], Mapping[str, Sequence[Mapping[str, Any]]]]
    ],
    campaign: Campaign,
    guard: Guard,
    arms: Mapping[str, float],
    model_version: str,
    *,
    holdout: float | None = None,
    renderer: Renderer | None = None,
    encoded: bool = False,
    audit: bool = True,
) -> Iterator[RenderedRecipient]:
    """Render every recipient of a campaign, lazily, with a decision audit.

    Parameters
    ----------
    recipients_batches
        ``(recipients, picks by customer id)`` batches, e.g. from
        ``mailroom.recipients.iter_recipient_batches``.
    campaign
        The campaign.
    guard
        Consent, suppression and frequency-cap checks for this send.
    arms
        Variant weights, e.g. ``{"A": 1, "B": 1}``; a ``"holdout"`` entry sets the
        holdout share relative to the total (``{"A": 45, "B": 45, "holdout": 10}``).
    model_version
        Version of the models behind segments and picks, copied to audit rows.
    holdout
        Holdout share in ``[0, 1)``; overrides a ``"holdout"`` entry in ``arms``.
    renderer
        A :class:`~renderer.render.Renderer` with a catalog; by default one with
        the default catalog.
    encoded
        Render the HTML to bytes only (:meth:`Renderer.render_encoded`), for
        writers that serialise payloads themselves.
    audit
        Build the audit rows of rendered recipients (``False`` leaves them
        empty, for callers that build the audit in the warehouse:
        :mod:`renderer.audit`); refusals and holdouts always get theirs.

    Yields
    ------
    RenderedRecipient
        One per recipient, in input order.
    """
    variants, share = split_holdout(arms)
    assigner = ArmAssigner(variants, share if holdout is None else holdout)
    if renderer is None:
        renderer = Renderer(catalog=load_catalog())
    if renderer.catalog is None:
        raise ValueError("render_campaign needs a Renderer with a block catalog")
    campaign_id = campaign.campaign_id
    for recipients, picks_by_customer in recipients_batches:
        for recipient in recipients:
            customer_id = str(recipient.get("customer_id"))
            reason = guard.check(recipient)
            if reason is not None:
                seen = tuple(key for key in GUARD_COLUMNS if key in recipient)
                row: tuple[Any, ...] = (
                    customer_id,
                    campaign_id,
                    None,
                    GUARD_BLOCK_ID,
                    None,
                    False,
                    GUARD_RULE,
                    _values_text(seen, tuple(recipient[key] for key in seen)),
                    reason,
                    model_version,
                )
                yield RenderedRecipient(customer_id, None, None, [row], reason)
                continue
            variant = assigner(customer_id, campaign_id)
            if variant == HOLDOUT:
                row = (
                    customer_id,
                    campaign_id,
                    HOLDOUT,
                    HOLDOUT_BLOCK_ID,
                    None,
                    True,
                    holdout_rule(assigner.holdout),
                    "{}",
                    HOLDOUT_REASON,
                    model_version,
                )
                yield RenderedRecipient(customer_id, HOLDOUT, None, [row])
                continue
            picks = picks_by_customer.get(customer_id, ())
            html = None
            if encoded:
                payload, decisions, html = renderer.render_encoded(
                    recipient, picks, campaign, variant, decisions=audit
                )
            else:
                payload, decisions = renderer.render_with_decisions(
                    recipient, picks, campaign, variant
                )
            payload["consent"] = OPTED_IN
            payload["model_version"] = model_version
            rows = (
                _decision_rows(
                    customer_id, campaign_id, variant, decisions, model_version
                )
                if audit
                else []
            )
            yield RenderedRecipient(customer_id, variant, payload, rows, html=html)


def payloads(rendered: Iterable[RenderedRecipient]) -> Iterator[dict[str, Any]]:
    """Only the payloads to send, e.g. for :func:`renderer.outbox.write_outbox`."""
    for item in rendered:
        if item.payload is not None:
            yield item.payload
