"""Email and phone validation at load time, with well-kept libraries.

Email syntax (RFC 5321/5322 with internationalized addresses) and phone numbering
plans (per-country lengths, prefixes and number types) are large, moving rule sets:
``email-validator`` and ``phonenumbers`` (Google's libphonenumber metadata) keep them,
a regular expression in SQL cannot. So ingestion checks each *distinct* value once,
in Python, and writes the verdict to a lookup table that dbt staging joins
(``raw._email_checks``, ``raw._phone_checks``; see :mod:`mailroom.ingest`).

Nothing is silently rewritten: an address on a likely misspelt common domain
(``gmial.com``) stays as delivered and is flagged with a suggestion.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import email_validator
import phonenumbers

# Problem codes written to the lookups (README: "Validation at load time").
INVALID_EMAIL = "invalid_email"
DOMAIN_TYPO = "email_domain_typo"
MISSING_COUNTRY = "phone_without_country"
UNPARSABLE_PHONE = "unparsable_phone"
INVALID_PHONE = "invalid_phone"

# Mailbox providers whose misspellings are worth flagging.
COMMON_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "protonmail.com",
    "gmx.de", "gmx.net", "web.de", "t-online.de", "yahoo.de", "hotmail.de",
    "orange.fr", "free.fr", "laposte.net", "wanadoo.fr", "yahoo.fr", "hotmail.fr",
    "libero.it", "virgilio.it", "yahoo.es", "hotmail.es", "telefonica.net",
    "sapo.pt", "ziggo.nl", "kpnmail.nl", "skynet.be", "telenet.be", "eircom.net",
    "wp.pl", "onet.pl", "interia.pl", "o2.pl",
)  # fmt: skip
# Real domains one edit away from a common one: never flagged as typos.
LOOKALIKE_DOMAINS = (
    "ymail.com", "mail.com", "email.com", "gmx.com", "gmx.at", "gmx.ch",
    "hotmail.it", "hotmail.co.uk", "yahoo.it", "yahoo.co.uk", "live.de", "live.fr",
    "live.nl", "live.be", "aol.de", "aol.fr", "wp.eu", "o2.de",
)  # fmt: skip
KNOWN_DOMAINS = frozenset(COMMON_DOMAINS + LOOKALIKE_DOMAINS)
# Short domains are one edit away from many real ones: too risky to flag.
TYPO_MIN_DOMAIN_LENGTH = 8
# Lists of at least this many values are checked in worker processes, one per CPU:
# a check takes about 50 µs, a worker about a second to start. At 1,000,000
# customers a landing file brings about 25,000 new emails and as many phones.
PARALLEL_FROM = 10_000
# Spellings of a country that are not its ISO 3166 code.
COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}


@dataclass(frozen=True)
class EmailCheck:
    """The verdict on one delivered email value."""

    email_raw: str
    email_normalized: str | None
    is_valid: bool
    problem: str | None = None
    detail: str | None = None
    suggested_email: str | None = None


@dataclass(frozen=True)
class PhoneCheck:
    """The verdict on one delivered (phone, country) pair."""

    phone_raw: str
    country_raw: str | None
    phone_e164: str | None
    is_valid: bool
    problem: str | None = None


def check_email(value: str) -> EmailCheck:
    """Validate one email as delivered: syntax only, no network.

    The normalized form is the library's (Unicode NFC, IDNA-checked domain), trimmed
    and lower-cased, because the project matches emails case-insensitively.
    """
    try:
        result = email_validator.validate_email(
            value.strip(), check_deliverability=False
        )
    except email_validator.EmailNotValidError as error:
        return EmailCheck(value, None, False, INVALID_EMAIL, str(error))
    normalized = result.normalized.lower()
    suggestion = suggest_domain(result.domain.lower())
    if suggestion is None:
        return EmailCheck(value, normalized, True)
    local = normalized.rpartition("@")[0]
    return EmailCheck(
        value,
        normalized,
        True,
        DOMAIN_TYPO,
        f"the domain looks like a misspelling of {suggestion}",
        f"{local}@{suggestion}",
    )


@lru_cache(maxsize=65_536)
def suggest_domain(domain: str) -> str | None:
    """The common domain that ``domain`` is probably a misspelling of, or None.

    A misspelling is one edit away (a letter added, dropped, changed, or two
    neighbours swapped: gmial.com, yaho.com, gmail.con) from a common mailbox
    provider and is not itself a known domain.
    """
    if domain in KNOWN_DOMAINS or len(domain) < TYPO_MIN_DOMAIN_LENGTH:
        return None
    for common in COMMON_DOMAINS:
        if abs(len(common) - len(domain)) <= 1 and _edit_distance(domain, common) == 1:
            return common
    return None


def _edit_distance(left: str, right: str) -> int:
    """Optimal string alignment distance: Levenshtein plus adjacent swaps."""
    previous2: list[int] = []
    previous = list(range(len(right) + 1))
    for i, left_char in enumerate(left, start=1):
        current = [i]
        for j, right_char in enumerate(right, start=1):
            cost = left_char != right_char
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (
                i > 1
                and j > 1
                and left_char == right[j - 2]
                and left[i - 2] == right_char
            ):
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def check_phone(phone: str, country: str | None) -> PhoneCheck:
    """Validate one phone number and give its E.164 form.

    A number written with its international prefix (``+33 6 ...``) needs no
    country; a national one (``06 ...``) is read in the row's country. Parsing is
    not validation: the number must also fit its country's numbering plan.
    """
    region = _region(country)
    text = phone.strip()
    if region is None and not text.startswith("+"):
        return PhoneCheck(phone, country, None, False, MISSING_COUNTRY)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return PhoneCheck(phone, country, None, False, UNPARSABLE_PHONE)
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(phone, country, None, False, INVALID_PHONE)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneCheck(phone, country, e164, True)


def _region(country: str | None) -> str | None:
    """The ISO 3166 alpha-2 region phonenumbers knows, or None."""
    code = (country or "").strip().upper()
    code = COUNTRY_ALIASES.get(code, code)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


_Verdict = TypeVar("_Verdict", EmailCheck, PhoneCheck)


class Validator:
    """Checks many emails or phones, in worker processes when there are many.

    The workers (one per CPU this process may use, ``spawn``-started so that no
    warehouse connection is inherited) start with the first list of at least
    ``parallel_from`` values and serve every later one until :meth:`close`. The
    verdicts are those of :func:`check_email` and :func:`check_phone`, in input
    order. Use it as a context manager. As with any ``spawn``-started worker, a
    script that validates this many values must guard its entry point with
    ``if __name__ == "__main__":`` (each worker imports the main module).
    """

    def __init__(
        self, processes: int | None = None, parallel_from: int = PARALLEL_FROM
    ) -> None:
        self.processes = processes or _usable_cpus()
        self.parallel_from = parallel_from
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def emails(self, values: Sequence[str]) -> list[EmailCheck]:
        """:func:`check_email` of each value."""
        return self._map(check_email, values)

    def phones(self, pairs: Sequence[tuple[str, str | None]]) -> list[PhoneCheck]:
        """:func:`check_phone` of each (phone, country) pair."""
        return self._map(_check_phone_pair, pairs)

    def _map(self, check: Callable[..., _Verdict], values: Sequence) -> list[_Verdict]:
        if self.processes <= 1 or len(values) < self.parallel_from:
            return [check(value) for value in values]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        chunk = max(1, len(values) // (self.processes * 8))
        return list(self._pool.map(check, values, chunksize=chunk))


def _check_phone_pair(pair: tuple[str, str | None]) -> PhoneCheck:
    return check_phone(*pair)


def _usable_cpus() -> int:
    """CPUs this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):  # not on macOS
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
