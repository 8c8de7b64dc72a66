"""The last check before an email is built: consent, suppression, frequency cap.

:class:`SendGuard` refuses a recipient, and says why, unless all of these hold:

- the email is one plausible address (``invalid_email``);
- there is positive evidence of an opt-in: a ``consent_status`` of ``"opted_in"`` on
  the row, and/or the email in the ``opted_in`` set given to the guard; with no
  evidence at all the answer is no (``no_opt_in``);
- the email is not on the global suppression list, nor flagged ``is_suppressed``
  on the row, nor the address of a person erased with `mailroom forget` (known
  only by a keyed hash: the caller's ``erased`` test) (``suppressed``);
- fewer than ``frequency_cap`` marketing emails went to the address in the rolling
  window before ``now`` (``frequency_cap``);
- the address was not already allowed earlier in this run (``duplicate``).

Emails are compared trimmed and case-insensitively. The guard is the same whatever
the caller: the pipeline, the preview, a backfill.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from renderer.text import clean_line

OPTED_IN: Final = "opted_in"
DEFAULT_WINDOW: Final = dt.timedelta(days=7)

INVALID_EMAIL: Final = "invalid_email"
NO_OPT_IN: Final = "no_opt_in"
SUPPRESSED: Final = "suppressed"
FREQUENCY_CAP: Final = "frequency_cap"
DUPLICATE: Final = "duplicate"


def normalise_email(email: object) -> str | None:
    """``email`` trimmed and lower-cased, or ``None`` if it is not one address."""
    if not isinstance(email, str):
        return None
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or clean_line(value) != value:
        return None
    if " " in value or "@" in domain:
        return None
    return value


def load_suppression_list(path: Path) -> set[str]:
    """Read a suppression list: one email per line; blank lines and ``#`` comments
    are ignored; emails are compared case-insensitively."""
    emails: set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            entry = line.strip()
            if entry and not entry.startswith("#"):
                emails.add(entry.lower())
    return emails


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


class SendGuard:
    """Decide, per recipient, whether a marketing email may be built at all.

    Parameters
    ----------
    suppressed
        Globally suppressed emails (any case); see :func:`load_suppression_list`.
    frequency_cap
        Maximum marketing emails per address in the rolling ``window``; ``0``
        refuses everyone.
    history
        Previous sends as ``(email, sent_at)`` rows; naive times are taken as UTC.
    now
        The moment of sending; the window is ``(now - window, now]``.
    opted_in
        Emails with a current opt-in (e.g. ``consent_status = 'opted_in'`` in the
        consent state). Optional when rows carry ``consent_status``.
    window
        Length of the rolling window; 7 days by default.
    erased
        Whether an address (trimmed, lower-cased) belongs to an erased person
        (:meth:`mailroom.privacy.ErasedIdentifiers.is_erased_email`); such an
        address is refused.

    Notes
    -----
    :meth:`check` records every recipient it allows as a send at ``now``, so the
    same address is never allowed twice in a run.
    """

    def __init__(
        self,
        suppressed: Iterable[str],
        frequency_cap: object,
        history: Iterable[tuple[str, dt.datetime]],
        now: dt.datetime,
        opted_in: Iterable[str] | None = None,
        window: dt.timedelta = DEFAULT_WINDOW,
        erased: Callable[[str], bool] | None = None,
    ) -> None:
        if isinstance(frequency_cap, bool) or not isinstance(frequency_cap, int):
            raise TypeError(f"frequency_cap must be an int, got {frequency_cap!r}")
        if frequency_cap < 0:
            raise ValueError(f"frequency_cap must be >= 0, got {frequency_cap}")
        self.suppressed = frozenset(
            e.strip().lower() for e in suppressed if isinstance(e, str)
        )
        self.frequency_cap = frequency_cap
        self.erased = erased
        self.now = _utc(now)
        self.window = window
        self.opted_in = (
            None
            if opted_in is None
            else frozenset(e.strip().lower() for e in opted_in if isinstance(e, str))
        )
        start = self.now - window
        self.sent: Counter[str] = Counter()
        for email, sent_at in history:
            key = normalise_email(email)
            if key is not None and start < _utc(sent_at) <= self.now:
                self.sent[key] += 1
        self._allowed: set[str] = set()

    def check(self, recipient: Mapping[str, Any]) -> str | None:
        """``None`` if the recipient may be emailed, else the reason why not.

        Parameters
        ----------
        recipient
            A personalization-mart row; reads ``email`` and, when present,
            ``consent_status`` and ``is_suppressed``.

        Returns
        -------
        str or None
            ``None`` (allowed, and counted as sent), or a reason starting with one of
            ``invalid_email``, ``no_opt_in``, ``suppressed``, ``frequency_cap``,
            ``duplicate``, followed by ``": "`` and details.
        """
        email = normalise_email(recipient.get("email"))
        if email is None:
            return f"{INVALID_EMAIL}: {recipient.get('email')!r} is not one address"
        evidence = False
        if "consent_status" in recipient:
            status = recipient["consent_status"]
            if status != OPTED_IN:
                return f"{NO_OPT_IN}: consent_status is {status!r}"
            evidence = True
        if self.opted_in is not None:
            if email not in self.opted_in:
                return f"{NO_OPT_IN}: no current opt-in on record for this address"
            evidence = True
        if not evidence:
            return (
                f"{NO_OPT_IN}: no consent evidence (no consent_status on the row and "
                "no opt-in list given to the guard)"
            )
        if email in self.suppressed:
            return f"{SUPPRESSED}: on the global suppression list"
        if self.erased is not None and self.erased(email):
            return f"{SUPPRESSED}: the person was erased (mailroom forget)"
        if recipient.get("is_suppressed") is True:
            return f"{SUPPRESSED}: is_suppressed is set on the row"
        if email in self._allowed:
            return f"{DUPLICATE}: address already allowed earlier in this run"
        sent = self.sent.get(email, 0)  # not [email]: a Counter calls __missing__
        if sent >= self.frequency_cap:
            days = self.window.total_seconds() / 86_400
            return (
                f"{FREQUENCY_CAP}: {sent} marketing email(s) in the last {days:g} "
                f"days, cap is {self.frequency_cap}"
            )
        self._allowed.add(email)
        self.sent[email] = sent + 1
        return None


def reason_code(reason: str) -> str:
    """The code part of a refusal reason (``"suppressed: ..."`` -> ``"suppressed"``)."""
    return reason.partition(":")[0]
