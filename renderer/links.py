"""Pure helpers for the links in an email: URL safety, campaign tagging, tracking ids.

Only absolute ``http``/``https`` URLs ever become links or images. Every link is tagged
with the campaign's UTM parameters and a per-recipient tracking id (``mr_tid``), a hash
of campaign and customer id, so clicks can be attributed without putting the raw
customer id in a URL.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

SAFE_SCHEMES: Final = frozenset({"http", "https"})
TRACKING_PARAM: Final = "mr_tid"
TRACKING_ID_LENGTH: Final = 20

# Characters a browser would silently drop or that have no business in a URL.
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x20\x7f-\x9f]")


def safe_url(url: object, base_url: str | None = None) -> str | None:
    """Return ``url`` as an absolute http(s) URL, or ``None`` if it is not safe to link.

    Parameters
    ----------
    url
        A candidate URL from the data. Non-strings, empty strings and URLs with any
        scheme other than http/https (``javascript:``, ``data:``, ``vbscript:``,
        ``mailto:`` ...) give ``None``; so do URLs without a host.
    base_url
        When given, a relative URL (``/p/42``) is resolved against it first.

    Returns
    -------
    str or None
        The normalised URL (inner spaces percent-encoded), or ``None``.
    """
    if not isinstance(url, str):
        return None
    candidate = url.strip()
    if not candidate:
        return None
    try:
        parts = urlsplit(candidate)
        if not parts.scheme and base_url is not None:
            parts = urlsplit(urljoin(base_url, candidate))
        hostname = parts.hostname
    except ValueError:  # e.g. an invalid IPv6 host or port
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not hostname:
        return None
    normalised = urlunsplit(parts).replace(" ", "%20")
    if _CONTROL_CHARS.search(normalised):
        return None
    return normalised


def tag_url(url: str, params: Mapping[str, str]) -> str:
    """Add query parameters to ``url``, replacing any existing ones with the same name.

    The rest of the existing query string is kept exactly as it was (order and
    encoding), as is the fragment.

    Parameters
    ----------
    url
        An absolute URL, for instance from :func:`safe_url`.
    params
        Parameters to set, in the order they should appear.

    Returns
    -------
    str
        The tagged URL.

    Examples
    --------
    >>> tag_url("https://shop.test/p?id=1&utm_source=x#top", {"utm_source": "mailroom"})
    'https://shop.test/p?id=1&utm_source=mailroom#top'
    """
    if not params:
        return url
    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.partition("=")[0]) not in params
    ]
    kept.append(urlencode(list(params.items())))
    return urlunsplit(parts._replace(query="&".join(kept)))


def tracking_id(campaign_id: str, customer_id: object) -> str:
    """Return the deterministic per-recipient tracking id for one campaign.

    The id is the first :data:`TRACKING_ID_LENGTH` hex digits of a SHA-256 over the
    length-prefixed campaign id and the customer id, so ``("a:b", "c")`` and
    ``("a", "b:c")`` cannot collide by construction. It is pseudonymous, not secret:
    anyone holding the customer ids can recompute it.
    """
    material = f"{len(campaign_id)}:{campaign_id}{customer_id}".encode()
    return hashlib.sha256(material).hexdigest()[:TRACKING_ID_LENGTH]


# Stands in for the tracking id while a campaign's link is built (tag_recipient_url).
_TID_SLOT: Final = "0"


def cached_safe_url(url: object, base_url: str | None = None) -> str | None:
    """:func:`safe_url`, memoised: product URLs repeat across many recipients."""
    if not isinstance(url, str):
        return None
    return _cached_safe_url(url, base_url)


_cached_safe_url: Final = functools.lru_cache(maxsize=65_536)(safe_url)


@functools.lru_cache(maxsize=65_536)
def campaign_link_parts(
    url: str, utm_items: tuple[tuple[str, str], ...]
) -> tuple[str, str]:
    """Split the tagged form of ``url`` around its tracking-id value.

    Returns ``(head, tail)`` such that ``head + tid + tail`` equals
    ``tag_url(url, {**utm, TRACKING_PARAM: tid})`` for any hex ``tid``.
    """
    parts = urlsplit(url)
    without_fragment = urlunsplit(parts._replace(fragment=""))
    tagged = tag_url(without_fragment, {**dict(utm_items), TRACKING_PARAM: _TID_SLOT})
    head = tagged[: -len(_TID_SLOT)]
    return head, f"#{parts.fragment}" if parts.fragment else ""


def tag_recipient_url(
    url: str, utm_items: tuple[tuple[str, str], ...], recipient_tid: str
) -> str:
    """Tag ``url`` with the campaign's UTM parameters and a recipient's tracking id.

    Same result as ``tag_url(url, {**dict(utm_items), "mr_tid": recipient_tid})``,
    but the campaign-level work is memoised per URL, so a catalog link shared by
    many recipients is parsed once.

    Parameters
    ----------
    url
        An absolute URL, for instance from :func:`safe_url`.
    utm_items
        The campaign's parameters as ``(name, value)`` pairs, in order.
    recipient_tid
        The recipient's id from :func:`tracking_id` (hex, so it needs no encoding).
    """
    head, tail = campaign_link_parts(url, utm_items)
    return f"{head}{recipient_tid}{tail}"
