"""Small pure helpers that make data safe to show: line cleaning and price formatting.

Everything that comes from the warehouse and ends up in a subject, a preheader or a
single line of the email passes through :func:`clean_line`, which removes control
characters (CR/LF included, so a subject can never inject a header), line and paragraph
separators and bidirectional overrides, and collapses runs of whitespace.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

# C0 and C1 controls (CR, LF, TAB, NUL, ...), U+2028/U+2029 (line and paragraph
# separators) and the bidi embedding/override/isolate characters used for spoofing.
_UNSAFE_CHARS: Final = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+"
)

CURRENCY_SYMBOLS: Final[dict[str, str]] = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
}
# ISO 4217 currencies without minor units, shown without decimals.
ZERO_DECIMAL_CURRENCIES: Final = frozenset({"CLP", "ISK", "JPY", "KRW", "VND"})

_CENTS: Final = Decimal("0.01")
_UNITS: Final = Decimal("1")
_TRAILING_SPACE: Final = re.compile(r"[ \t]+\n")


def clean_line(value: object) -> str:
    """Return ``value`` as one safe line of text.

    Parameters
    ----------
    value
        Any value; ``None`` becomes the empty string, other non-strings are passed
        through ``str``.

    Returns
    -------
    str
        The text with control characters replaced by spaces, whitespace runs
        collapsed to one space and the ends stripped. Letters of every script,
        accents and emoji are kept as they are.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable() and "  " not in text and text == text.strip():
        return text
    return " ".join(_UNSAFE_CHARS.sub(" ", text).split())


def to_decimal(amount: object) -> Decimal | None:
    """Convert a money amount to a finite ``Decimal``, or ``None`` if it is not one
    (a Decimal, float, integer or text; anything else is not one).

    Floats go through ``repr`` so that ``49.9`` becomes ``Decimal('49.9')`` rather
    than its binary expansion.
    """
    if amount is None or isinstance(amount, bool):
        return None
    if isinstance(amount, float):
        if not math.isfinite(amount):
            return None
        amount = repr(amount)
    if isinstance(amount, Decimal):
        value = amount
    else:
        try:
            value = Decimal(amount)  # type: ignore[arg-type]  # it refuses the rest
        except (InvalidOperation, TypeError, ValueError):
            return None
    return value if value.is_finite() else None


def quantize_money(amount: Decimal, currency: str | None) -> Decimal:
    """Round ``amount`` half-up to the minor unit of ``currency`` (cents by default)."""
    exponent = _UNITS if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else _CENTS
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def format_price(amount: Decimal | float | int | None, currency: str | None) -> str:
    """Format a price for display, with its currency.

    Parameters
    ----------
    amount
        The price; ``None``, NaN or infinity give an empty string.
    currency
        ISO 4217 code such as ``"EUR"``. Known codes get their symbol (``€1,299.00``),
        others are written out (``CHF 1,299.00``); ``None`` gives the bare number.

    Returns
    -------
    str
        The formatted price, or ``""`` when there is no usable amount.
    """
    value = to_decimal(amount)
    if value is None:
        return ""
    code = clean_line(currency).upper()
    value = quantize_money(value, code)
    number = f"{value:,}"
    if not code:
        return number
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol is None:
        return f"{code} {number}"
    if number.startswith("-"):
        return f"-{symbol}{number[1:]}"
    return f"{symbol}{number}"


def _tidy_lines(text: str) -> str:
    if " \n" in text or "\t\n" in text:  # a substring test is far cheaper
        text = _TRAILING_SPACE.sub("\n", text)
    # No line ends in spaces now, so a run of blank lines is a run of LFs. Each
    # pass shortens every run of three or more; replace is faster than a regex.
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def tidy_text(text: str) -> str:
    """Strip trailing spaces, keep at most one blank line in a row, end with one LF."""
    return _tidy_lines(text).strip() + "\n"


def is_plain_line(text: str) -> bool:
    """Whether ``text`` is one line, not empty, without whitespace at either end:
    such a value cannot join or start a blank line or a run of spaces."""
    return bool(text) and "\n" not in text and text.strip() == text


def tidy_pieces(pieces: tuple[str, ...]) -> tuple[str, ...]:
    """The pieces of a text, tidied so that joining them with plain lines
    (:func:`is_plain_line`) in between gives what :func:`tidy_text` gives for the
    pieces joined with the same lines (tested): every run the tidying touches lies
    within one piece, and the ends of the text are the ends of the outer pieces."""
    tidied = [_tidy_lines(piece) for piece in pieces]
    tidied[0] = tidied[0].lstrip()
    tidied[-1] = tidied[-1].rstrip() + "\n"
    return tuple(tidied)
