"""Experiment arms: A/B/n variants and a holdout group, by deterministic hashing.

A recipient's arm is a pure function of ``(customer_id, campaign_id)``, the arm
weights and the holdout share, so a rerun assigns everyone the same arm, and a new
campaign reshuffles everyone independently of the last one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, Final

HOLDOUT: Final = "holdout"
_SCALE: Final = float(1 << 64)


def _unit_interval(customer_id: str, campaign_id: str) -> float:
    """A uniform number in [0, 1) from SHA-256 of the length-prefixed ids."""
    material = f"{len(campaign_id)}:{campaign_id}{customer_id}".encode()
    digest = hashlib.sha256(b"arm\x00" + material).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def validate_arms(arms: Mapping[Any, Any], holdout: object) -> list[tuple[str, float]]:
    """Check arm weights and the holdout share; return arms sorted by name.

    Raises
    ------
    ValueError
        If there are no arms, a name is empty or ``"holdout"``, a weight is not a
        positive finite number, or ``holdout`` is not in ``[0, 1)``.
    """
    if not arms:
        raise ValueError("arms must name at least one variant, e.g. {'A': 1.0}")
    _holdout_share(holdout)
    checked: list[tuple[str, float]] = []
    for name, weight in sorted(arms.items()):
        if not isinstance(name, str) or not name.strip() or name == HOLDOUT:
            raise ValueError(f"invalid arm name {name!r} ({HOLDOUT!r} is reserved)")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ValueError(f"arm {name!r} needs a positive weight, got {weight!r}")
        checked.append((name, float(weight)))
    return checked


def _holdout_share(holdout: object) -> float:
    """``holdout`` as a float, if it is a share in ``[0, 1)``."""
    if not isinstance(holdout, int | float) or not 0 <= holdout < 1:
        raise ValueError(f"holdout must be a share in [0, 1), got {holdout!r}")
    return float(holdout)


def assign_arm(
    customer_id: object,
    campaign_id: str,
    arms: Mapping[Any, Any],
    holdout: object = 0.0,
) -> str:
    """The experiment arm of one recipient in one campaign.

    Parameters
    ----------
    customer_id, campaign_id
        The recipient and the campaign; the arm depends on nothing else.
    arms
        Variant names and relative weights, e.g. ``{"A": 1, "B": 1}``.
    holdout
        Share of recipients held out (no email) as a control group, in ``[0, 1)``.

    Returns
    -------
    str
        ``"holdout"`` or one of the arm names.

    Examples
    --------
    >>> assign_arm("c-1", "spring-24", {"A": 1, "B": 1}, holdout=0.1) in {
    ...     "A", "B", "holdout"}
    True
    """
    checked = validate_arms(arms, holdout)
    return _assign(str(customer_id), campaign_id, checked, _holdout_share(holdout))


def _assign(
    customer_id: str, campaign_id: str, arms: list[tuple[str, float]], holdout: float
) -> str:
    position = _unit_interval(customer_id, campaign_id)
    if position < holdout:
        return HOLDOUT
    # Rescale what is left after the holdout onto the arms' cumulative weights.
    position = (position - holdout) / (1 - holdout)
    total = sum(weight for _, weight in arms)
    cumulative = 0.0
    for name, weight in arms:
        cumulative += weight / total
        if position < cumulative:
            return name
    return arms[-1][0]


class ArmAssigner:
    """:func:`assign_arm` with the arms validated once, for many recipients."""

    def __init__(self, arms: Mapping[Any, Any], holdout: object = 0.0) -> None:
        self.arms = validate_arms(arms, holdout)
        self.holdout = _holdout_share(holdout)

    def __call__(self, customer_id: object, campaign_id: str) -> str:
        """The arm of ``customer_id`` in ``campaign_id``."""
        return _assign(str(customer_id), campaign_id, self.arms, self.holdout)
