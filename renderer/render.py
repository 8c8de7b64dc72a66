"""Render one email payload (subject, preheader, HTML, text, links) per recipient.

A :class:`Renderer` compiles its templates once and then renders any number of
recipients. Input rows are plain dicts shaped like ``marts.personalization`` (one per
recipient) and ``marts.personalization_product_picks`` (up to three per recipient).

Data is never treated as template source: names, product names and URLs are only ever
*values* in the template context, autoescaped in HTML, so ``<script>`` is shown as text
and ``{{ 7*7 }}`` stays literal. Only absolute http(s) URLs become links or images.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, NamedTuple, cast

import orjson
import xxhash
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    DictLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)
from mypy_extensions import mypyc_attr

from renderer.catalog import CONTEXT_COLUMNS, Block, Catalog, Decision
from renderer.compile import compile_catalog
from renderer.links import (
    cached_safe_url,
    campaign_link_parts,
    safe_url,
    tag_recipient_url,
    tracking_id,
)
from renderer.sandbox import DictSandbox
from renderer.segment_copy import (
    DEFAULT_COPY,
    DEFAULT_COPY_ID,
    FIRST_NAME_PLACEHOLDER,
    GREETING_ANONYMOUS,
    GREETING_NAMED,
    PICKS_CTA_LABEL,
    PICKS_HEADLINE,
    SEGMENT_COPY,
    SegmentCopy,
)
from renderer.skeleton import Skeletons, json_body
from renderer.text import (
    clean_line,
    format_price,
    quantize_money,
    tidy_text,
    to_decimal,
)

HTML_TEMPLATE: Final = "email.html.j2"
TEXT_TEMPLATE: Final = "email.txt.j2"
CATALOG_HTML_TEMPLATE: Final = "catalog.html.j2"
CATALOG_TEXT_TEMPLATE: Final = "catalog.txt.j2"
# Picks exposed as merge variables (MR_P1_NAME ... MR_P3_IMG).
MERGE_VAR_PICKS: Final = 3

# Keys of a marts.personalization row that rendering needs.
RECIPIENT_KEYS: Final = ("customer_id", "email", "first_name", "rfm_segment")
# Keys it reads when present (merge variables).
OPTIONAL_RECIPIENT_KEYS: Final = ("last_name",)
# Keys of a marts.personalization_product_picks row that rendering reads.
PICK_KEYS: Final = (
    "pick_rank",
    "product_id",
    "product_name",
    "price",
    "currency",
    "product_url",
    "image_url",
)

_PICK_KEY_SET: Final = frozenset(PICK_KEYS)
_TEXT_OR_NONE: Final = frozenset({str, type(None)})
# Pick prices memoised by their text (see _pick_parts).
_KEYED_PRICES: Final = frozenset({Decimal, str, type(None)})

# A block's link for a campaign: name, the tagged URL's parts around the tracking
# id and no column, or name, two empty parts and the column holding the URL.
_LinkPart = tuple[str, str, str, str | None]
# A block's image: name, and its URL or the column holding it.
_ImagePart = tuple[str, str | None, str | None]
_BlockUrls = tuple[tuple[_LinkPart, ...], tuple[_ImagePart, ...]]

# A first name longer than this is left out of the subject line (still greeted).
MAX_SUBJECT_NAME_LENGTH: Final = 40


@mypyc_attr(native_class=False)  # a subclass of a builtin exception
class MissingFieldError(KeyError):
    """A recipient or pick row lacks a key the renderer needs."""

    def __init__(self, row_kind: str, key: str, row_id: object = None) -> None:
        self.row_kind = row_kind
        self.key = key
        self.row_id = row_id
        where = f" (customer_id={row_id!r})" if row_id is not None else ""
        self.message = (
            f"{row_kind} row is missing required key {key!r}{where}; "
            f"expected keys: {', '.join(_EXPECTED[row_kind])}"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type, tuple[str, str, object]]:
        # raised in a worker process, it is pickled back to the parent
        return (type(self), (self.row_kind, self.key, self.row_id))


_EXPECTED: Final = {"recipient": RECIPIENT_KEYS, "pick": PICK_KEYS}


# pickled (to workers): compiled, a frozen dataclass would not unpickle
@mypyc_attr(native_class=False)
@dataclass(frozen=True)
class Campaign:
    """The campaign a batch of payloads belongs to.

    Parameters
    ----------
    campaign_id
        Stable id, used as ``utm_campaign`` and in the tracking id.
    name
        Human-readable name.
    utm_source, utm_medium
        Values of the ``utm_source`` and ``utm_medium`` link parameters.
    shop_url
        Absolute http(s) URL of the shop; segment calls to action and relative
        product URLs are resolved against it.
    """

    campaign_id: str
    name: str
    utm_source: str = "mailroom"
    utm_medium: str = "email"
    shop_url: str = "https://shop.example.com/"

    def __post_init__(self) -> None:
        for field_name in ("campaign_id", "utm_source", "utm_medium"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value or clean_line(value) != value:
                raise ValueError(
                    f"Campaign.{field_name} must be a non-empty single-line string "
                    f"without surrounding spaces, got {value!r}"
                )
        if not isinstance(self.name, str):
            raise ValueError(f"Campaign.name must be a string, got {self.name!r}")
        if safe_url(self.shop_url) is None:
            raise ValueError(
                f"Campaign.shop_url must be an absolute http(s) URL, "
                f"got {self.shop_url!r}"
            )

    @functools.cached_property
    def utm_items(self) -> tuple[tuple[str, str], ...]:
        """The UTM parameters every link of this campaign carries, in order."""
        return (
            ("utm_source", self.utm_source),
            ("utm_medium", self.utm_medium),
            ("utm_campaign", self.campaign_id),
        )


def _require(row: Mapping[str, Any], keys: Sequence[str], kind: str) -> None:
    for key in keys:
        if key not in row:
            raise MissingFieldError(kind, key, row.get("customer_id"))


def _pick_sort_key(pick: Mapping[str, Any]) -> tuple[int, str]:
    rank = pick["pick_rank"]
    return (rank if isinstance(rank, int) else 1_000_000, str(pick["product_id"]))


class Renderer:
    """Compile the email templates once, then render payloads for many recipients.

    Parameters
    ----------
    segment_copy
        Copy per ``rfm_segment``; defaults to
        :data:`renderer.segment_copy.SEGMENT_COPY`.
    default_copy
        Copy for segments missing from ``segment_copy``.
    catalog
        A block catalog (:func:`renderer.catalog.load_catalog`). With one, emails
        are built from the catalog's blocks in its MJML layout (compiled once here)
        and payloads carry ``variant`` and ``merge_vars``; without one, the fixed
        legacy layout in ``renderer/templates`` is used, as before.
    skeletons
        Render catalog emails through skeletons kept per shape
        (:class:`renderer.skeleton.Skeletons`: the same output, about a quarter
        less time per recipient); ``False`` renders every recipient with Jinja.

    Notes
    -----
    The Jinja environment is sandboxed, uses ``StrictUndefined`` (a template that
    reads a missing variable fails loudly) and autoescapes every template except
    ``*.txt.j2`` (plain text is not HTML). It is created and the templates compiled
    in ``__init__``; rendering does neither.
    """

    def __init__(
        self,
        segment_copy: Mapping[str, SegmentCopy] | None = None,
        default_copy: SegmentCopy = DEFAULT_COPY,
        *,
        catalog: Catalog | None = None,
        skeletons: bool = True,
    ) -> None:
        self.segment_copy = dict(SEGMENT_COPY if segment_copy is None else segment_copy)
        self.default_copy = default_copy
        self.catalog = catalog
        self._urls: dict[tuple[str, str, tuple[tuple[str, str], ...]], _BlockUrls] = {}
        loader: BaseLoader = PackageLoader("renderer", "templates")
        if catalog is not None:
            compiled = compile_catalog(catalog)
            loader = ChoiceLoader(
                [
                    DictLoader(
                        {
                            CATALOG_HTML_TEMPLATE: compiled.html,
                            CATALOG_TEXT_TEMPLATE: compiled.text,
                        }
                    ),
                    loader,
                ]
            )
        self.environment = DictSandbox(
            loader=loader,
            autoescape=select_autoescape(
                enabled_extensions=("html", "html.j2"),
                disabled_extensions=("txt", "txt.j2"),
                default_for_string=True,
                default=True,
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        # No globals (range, dict, lipsum, namespace ...): catalog validation lets
        # block templates read only TEMPLATE_VARIABLES anyway, and every render
        # copies the globals into its context, which was a fifth of its cost.
        self.environment.globals.clear()
        if catalog is None:
            self._html = self.environment.get_template(HTML_TEMPLATE)
            self._text = self.environment.get_template(TEXT_TEMPLATE)
        else:
            self._html = self.environment.get_template(CATALOG_HTML_TEMPLATE)
            self._text = self.environment.get_template(CATALOG_TEXT_TEMPLATE)
            self._html_pieces = _PieceEncoder(self._html)
            self._skeletons = (
                Skeletons(
                    [(self._html, compiled.html), (self._text, compiled.text)],
                    tidy=(False, True),
                )
                if skeletons
                else None
            )
            self._template_columns = catalog.template_columns

    def copy_for(self, segment: object) -> tuple[str, SegmentCopy]:
        """Return ``(copy_id, copy)`` for a segment, falling back to the default."""
        if isinstance(segment, str) and segment in self.segment_copy:
            return segment, self.segment_copy[segment]
        return DEFAULT_COPY_ID, self.default_copy

    def render(
        self,
        recipient: Mapping[str, Any],
        picks: Sequence[Mapping[str, Any]],
        campaign: Campaign,
        variant: str | None = None,
    ) -> dict[str, Any]:
        """Render the payload for one recipient.

        Parameters
        ----------
        recipient
            A ``marts.personalization`` row; needs at least :data:`RECIPIENT_KEYS`.
        picks
            The recipient's ``marts.personalization_product_picks`` rows (any order;
            sorted by ``pick_rank``). Picks without a name are skipped; picks
            whose URL is not http(s) are shown without a link.
        campaign
            The campaign being rendered.
        variant
            The experiment arm (see :func:`renderer.campaigns.assign_arm`); block
            conditions can read it as ``variant``. Ignored without a catalog.

        Returns
        -------
        dict
            ``recipient_id``, ``email``, ``campaign_id``, ``segment``, ``subject``,
            ``preheader``, ``blocks`` (ids of the blocks that rendered, in order),
            ``recommendations`` (``product_id``, ``name``, ``price``, ``currency``,
            ``url``), ``html``, ``text`` and ``content_hash``. With a catalog also
            ``variant``, ``tracking_id``, ``merge_vars`` (flat, for ESP-side
            templates) and each recommendation's ``image_url``.

        Raises
        ------
        MissingFieldError
            If the recipient or a pick lacks a required key (the message names it).
        ValueError
            If ``email`` is not one address (a string with ``@`` and no spaces or
            control characters): it ends up in a mail header.
        """
        if self.catalog is not None:
            return self.render_with_decisions(recipient, picks, campaign, variant)[0]
        _require(recipient, RECIPIENT_KEYS, "recipient")
        customer_id = str(recipient["customer_id"])
        email = _checked_email(recipient, customer_id)
        first_name = clean_line(recipient["first_name"]) or None
        segment = recipient["rfm_segment"]
        copy_id, copy = self.copy_for(segment)

        utm_items = campaign.utm_items
        tid = tracking_id(campaign.campaign_id, customer_id)

        blocks: list[dict[str, Any]] = [
            {
                "id": "greeting",
                "type": "greeting",
                "text": (
                    GREETING_NAMED.replace(FIRST_NAME_PLACEHOLDER, first_name)
                    if first_name
                    else GREETING_ANONYMOUS
                ),
            },
            {
                "id": f"segment:{copy_id}",
                "type": "segment",
                "headline": copy.headline,
                "body": copy.body,
                "cta_label": copy.cta_label,
                "cta_url": tag_recipient_url(
                    _segment_cta_url(campaign.shop_url, copy.cta_path), utm_items, tid
                ),
            },
        ]

        items, recommendations = _picks(picks, campaign, tid, customer_id)
        if items:
            blocks.append(
                {
                    "id": "product_picks",
                    "type": "product_picks",
                    "headline": PICKS_HEADLINE,
                    "cta_label": PICKS_CTA_LABEL,
                    "items": items,
                }
            )

        subject = _subject(copy, first_name)
        preheader = clean_line(copy.preheader)
        context = {"subject": subject, "preheader": preheader, "blocks": blocks}
        html = self._html.render(context)
        text = tidy_text(self._text.render(context))
        digest = content_hash(subject, json_body(html), text)
        return {
            "recipient_id": customer_id,
            "email": email,
            "campaign_id": campaign.campaign_id,
            "segment": segment,
            "subject": subject,
            "preheader": preheader,
            "blocks": [block["id"] for block in blocks],
            "recommendations": recommendations,
            "html": html,
            "text": text,
            "content_hash": digest,
        }

    def render_many(
        self,
        recipients: Iterable[Mapping[str, Any]],
        picks_by_customer: Mapping[str, Sequence[Mapping[str, Any]]],
        campaign: Campaign,
    ) -> Iterator[dict[str, Any]]:
        """Lazily render a payload per recipient.

        Parameters
        ----------
        recipients
            ``marts.personalization`` rows, consumed one at a time.
        picks_by_customer
            Pick rows keyed by ``customer_id`` (as a string); recipients without an
            entry get no picks block.
        campaign
            The campaign being rendered.

        Yields
        ------
        dict
            One payload per recipient, in input order (see :meth:`render`).
        """
        for recipient in recipients:
            _require(recipient, ("customer_id",), "recipient")
            picks = picks_by_customer.get(str(recipient["customer_id"]), ())
            yield self.render(recipient, picks, campaign)

    def render_with_decisions(
        self,
        recipient: Mapping[str, Any],
        picks: Sequence[Mapping[str, Any]],
        campaign: Campaign,
        variant: str | None = None,
    ) -> tuple[dict[str, Any], list[Decision]]:
        """Render one recipient from the catalog and say which blocks were chosen.

        Parameters
        ----------
        recipient, picks, campaign, variant
            As for :meth:`render`.

        Returns
        -------
        tuple of (dict, list of Decision)
            The payload (see :meth:`render`) and one decision per block evaluated.

        Raises
        ------
        RuntimeError
            If the renderer has no catalog.
        """
        payload, decisions, _ = self._render_catalog(
            recipient, picks, campaign, variant, encoded=False
        )
        return payload, decisions

    def render_encoded(
        self,
        recipient: Mapping[str, Any],
        picks: Sequence[Mapping[str, Any]],
        campaign: Campaign,
        variant: str | None = None,
        *,
        decisions: bool = True,
    ) -> tuple[dict[str, Any], list[Decision], EncodedHtml]:
        """:meth:`render_with_decisions` for writers: the HTML as bytes only.

        The payload's ``html`` is ``""``; the third item holds the HTML as the
        body of a JSON string (what the payload's JSON line holds). The static
        parts of the compiled template are encoded once, so the 11-18 KB of HTML
        is never assembled as text, encoded and escaped again per recipient.
        ``content_hash`` is the same as :meth:`render_with_decisions` gives, and
        so is the HTML. With ``decisions=False`` the blocks are chosen without
        recording decisions (the list is empty), for callers that audit
        elsewhere.
        """
        payload, made, encoded = self._render_catalog(
            recipient, picks, campaign, variant, encoded=True, decide=decisions
        )
        assert encoded is not None
        return payload, made, encoded

    def _block_urls(
        self, block: Block, shop_url: str, utm_items: tuple[tuple[str, str], ...]
    ) -> _BlockUrls:
        """A block's links and images for a campaign, made once: a fixed link as
        the parts around the tracking id (:func:`renderer.links.tag_recipient_url`
        joins them so), a fixed image as its URL; a column's as the column."""
        key = (block.id, shop_url, utm_items)
        made = self._urls.get(key)
        if made is None:
            links: list[_LinkPart] = []
            for name, spec in block.links.items():
                if spec.is_column:
                    links.append((name, "", "", spec.value))
                else:
                    url = _segment_cta_url(shop_url, spec.value)
                    links.append((name, *campaign_link_parts(url, utm_items), None))
            images: list[_ImagePart] = [
                (name, None, spec.value)
                if spec.is_column
                else (name, cached_safe_url(spec.value, base_url=shop_url), None)
                for name, spec in block.images.items()
            ]
            made = self._urls[key] = (tuple(links), tuple(images))
        return made

    def _render_catalog(
        self,
        recipient: Mapping[str, Any],
        picks: Sequence[Mapping[str, Any]],
        campaign: Campaign,
        variant: str | None,
        *,
        encoded: bool,
        decide: bool = True,
    ) -> tuple[dict[str, Any], list[Decision], EncodedHtml | None]:
        catalog = self.catalog
        if catalog is None:
            raise RuntimeError("render_with_decisions needs a Renderer with a catalog")
        _require(recipient, RECIPIENT_KEYS, "recipient")
        customer_id = str(recipient["customer_id"])
        email = _checked_email(recipient, customer_id)
        first_name = clean_line(recipient["first_name"]) or None
        segment = recipient["rfm_segment"]
        utm_items = campaign.utm_items
        tid = tracking_id(campaign.campaign_id, customer_id)
        items, recommendations = _picks(picks, campaign, tid, customer_id)

        row = dict(recipient)
        row["campaign_id"] = campaign.campaign_id
        row["variant"] = variant
        row["pick_count"] = len(items)
        if decide:
            chosen, decisions = catalog.select(row)
        else:
            chosen, decisions = catalog.choose(row), []

        shop_url = campaign.shop_url
        block_context: dict[str, dict[str, Any]] = {}
        chosen_ids: dict[str, str | None] = dict.fromkeys(catalog.slots)
        subject_block: Block | None = None
        preheader_block: Block | None = None
        for block in chosen:
            chosen_ids[block.slot] = block.id
            if subject_block is None and block.subject is not None:
                subject_block = block
            if preheader_block is None and block.preheader is not None:
                preheader_block = block
            link_parts, image_parts = self._block_urls(block, shop_url, utm_items)
            links: dict[str, str | None] = {}
            for name, head, tail, column in link_parts:
                if column is None:
                    links[name] = f"{head}{tid}{tail}"
                elif url := cached_safe_url(row.get(column), base_url=shop_url):
                    links[name] = tag_recipient_url(url, utm_items, tid)
                else:
                    links[name] = None
            images = {
                name: url if column is None else cached_safe_url(row.get(column))
                for name, url, column in image_parts
            }
            block_context[block.id] = {
                "id": block.id,
                "params": block.params,
                "links": links,
                "images": images,
            }

        copy_id, copy = self.copy_for(segment)
        subject = _block_subject(subject_block, first_name) or _subject(
            copy, first_name
        )
        preheader = clean_line(
            preheader_block.preheader if preheader_block else copy.preheader
        )
        customer: dict[str, Any] = {}
        for column in self._template_columns:
            value = row.get(column)
            # a mart value as block templates see it: text on one safe line
            customer[column] = clean_line(value) if isinstance(value, str) else value
        context = {
            "subject": subject,
            "preheader": preheader,
            "variant": variant,
            "first_name": first_name,
            "customer": customer,
            "items": items,
            "campaign": {"campaign_id": campaign.campaign_id, "name": campaign.name},
            "copy": {
                "id": copy_id,
                "headline": copy.headline,
                "body": copy.body,
                "cta_label": copy.cta_label,
                "cta_url": tag_recipient_url(
                    _segment_cta_url(shop_url, copy.cta_path), utm_items, tid
                ),
            },
            "chosen": chosen_ids,
            "blocks": block_context,
        }
        html_parts: EncodedHtml | None = None
        rendered = (
            None
            if self._skeletons is None
            else self._skeletons.render(context, (encoded, False))
        )
        html_output: str | bytes
        text: str | None
        if rendered is not None:  # the HTML as asked, the text as text
            html_output, text = rendered[0], cast(str, rendered[1])
        elif encoded:
            html_output, text = self._html_pieces.render(context), None
        else:
            html_output, text = self._html.render(context), None
        if encoded:
            html_parts = EncodedHtml(cast(bytes, html_output))
            html = ""
            html_json = html_parts.json
        else:
            html = cast(str, html_output)
            html_json = json_body(html)
        if text is None:
            text = tidy_text(self._text.render(context))
        for recommendation, item in zip(recommendations, items, strict=True):
            recommendation["image_url"] = item["image_url"]
        block_ids = [block.id for block in chosen]
        payload = {
            "recipient_id": customer_id,
            "email": email,
            "campaign_id": campaign.campaign_id,
            "variant": variant,
            "segment": segment,
            "subject": subject,
            "preheader": preheader,
            "blocks": block_ids,
            "recommendations": recommendations,
            "merge_vars": _merge_vars(
                recipient, subject, preheader, variant, tid, campaign, block_ids, items
            ),
            "tracking_id": tid,
            "html": html,
            "text": text,
            "content_hash": content_hash(subject, html_json, text),
        }
        return payload, decisions, html_parts


def content_hash(subject: str, html_json: bytes, text: str) -> str:
    """A payload's content hash: XXH3-128 (hex) over its subject (UTF-8), HTML
    (as the body of its JSON string: ``orjson.dumps(html)[1:-1]``, the bytes
    that its payload line holds) and plain text (UTF-8), each followed by a
    NUL byte. (orjson is pinned: an escaping that changed would change every
    hash, and diff-based sync would send every recipient once more.)

    Diff-based sync compares it with the hash the ESP last acknowledged for the
    same recipient and campaign, so it must change whenever what the person
    would see does; it is not a signature. A 128-bit hash misses a change by
    accident with odds of 2**-128, and a person who crafted their own data to
    collide would only keep their own stale email. SHA-256 over the ~22 KB of a
    payload cost a tenth of rendering it; XXH3 costs a twentieth of that.
    """
    digest = xxhash.xxh3_128(subject.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(html_json)
    digest.update(b"\x00")
    digest.update(text.encode("utf-8"))
    digest.update(b"\x00")
    return digest.hexdigest()


class EncodedHtml(NamedTuple):
    """Rendered HTML as the escaped body of a JSON string (UTF-8 bytes)."""

    json: bytes


def _code_constants(code: types.CodeType) -> Iterator[object]:
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_constants(constant)
        else:
            yield constant


class _PieceEncoder:
    """Render a template to the body of a JSON string, piece by piece.

    A compiled Jinja template yields its output in pieces: the template's static
    text, as constants of its code, and the escaped values. The static pieces
    are encoded once here; each render encodes only the values. Encoding and
    JSON escaping work character by character, so the pieces' encodings joined
    are the encoding of the whole.
    """

    def __init__(self, template: Template) -> None:
        self.template = template
        # Keyed by id: these constants live as long as the template's code, so no
        # other object can have their id meanwhile.
        self._static: dict[int, bytes] = {}
        self._keep: list[str] = []
        for constant in _code_constants(template.root_render_func.__code__):
            if type(constant) is str:
                try:
                    encoded = json_body(constant)
                except (UnicodeEncodeError, orjson.JSONEncodeError):
                    continue  # encoded (and refused) when rendered, as before
                self._static[id(constant)] = encoded
                self._keep.append(constant)

    def render(self, context: dict[str, Any]) -> bytes:
        template = self.template
        try:
            pieces = list(template.root_render_func(template.new_context(context)))
        except Exception:
            template.environment.handle_exception()
        static = self._static
        body: list[bytes] = []
        for piece in pieces:
            known = static.get(id(piece))
            body.append(json_body(str(piece)) if known is None else known)
        return b"".join(body)


def _checked_email(recipient: Mapping[str, Any], customer_id: str) -> str:
    """The recipient's email, refused unless it is one address on one line."""
    email = recipient["email"]
    if (
        not isinstance(email, str)
        or "@" not in email
        or " " in email
        or clean_line(email) != email
    ):
        raise ValueError(
            f"recipient customer_id={customer_id!r} has an invalid email "
            f"{email!r}: expected one address without spaces or line breaks"
        )
    return email


def _block_subject(block: Block | None, first_name: str | None) -> str | None:
    if block is None or block.subject is None:
        return None
    if FIRST_NAME_PLACEHOLDER not in block.subject:
        return clean_line(block.subject)
    if first_name and len(first_name) <= MAX_SUBJECT_NAME_LENGTH:
        return clean_line(block.subject.replace(FIRST_NAME_PLACEHOLDER, first_name))
    return clean_line(block.subject_anonymous)


def _merge_vars(
    recipient: Mapping[str, Any],
    subject: str,
    preheader: str,
    variant: str | None,
    tid: str,
    campaign: Campaign,
    block_ids: list[str],
    items: list[dict[str, Any]],
) -> dict[str, str]:
    """Flat merge variables for ESP-side templates (Mailchimp tags: <= 10 chars)."""
    merge = {
        "FNAME": clean_line(recipient.get("first_name")),
        "LNAME": clean_line(recipient.get("last_name")),
        "MR_SEGMENT": clean_line(recipient.get("rfm_segment")),
        "MR_SUBJ": subject,
        "MR_PREHEAD": preheader,
        "MR_VARIANT": variant or "",
        "MR_TID": tid,
        "MR_CAMP": campaign.campaign_id,
        "MR_BLOCKS": ",".join(block_ids),
    }
    for index, (name_tag, url_tag, price_tag, image_tag) in enumerate(_MERGE_PICK_TAGS):
        if index < len(items):
            item = items[index]
            merge[name_tag] = item["name"]
            merge[url_tag] = item["url"] or ""
            merge[price_tag] = item["price"]
            merge[image_tag] = item["image_url"] or ""
        else:
            merge[name_tag] = merge[url_tag] = merge[price_tag] = ""
            merge[image_tag] = ""
    return merge


# The merge tags of each pick: MR_P1_NAME, MR_P1_URL, MR_P1_PRC, MR_P1_IMG, ...
_MERGE_PICK_TAGS: Final = tuple(
    tuple(f"MR_P{rank}_{part}" for part in ("NAME", "URL", "PRC", "IMG"))
    for rank in range(1, MERGE_VAR_PICKS + 1)
)


@functools.lru_cache(maxsize=256)
def _segment_cta_url(shop_url: str, path: str) -> str:
    """The call-to-action URL: ``path`` on the shop, or the shop itself if unsafe."""
    return safe_url(path, base_url=shop_url) or shop_url


def _subject(copy: SegmentCopy, first_name: str | None) -> str:
    if first_name and len(first_name) <= MAX_SUBJECT_NAME_LENGTH:
        subject = copy.subject_named.replace(FIRST_NAME_PLACEHOLDER, first_name)
    else:
        subject = copy.subject
    return clean_line(subject)


def _picks(
    picks: Sequence[Mapping[str, Any]],
    campaign: Campaign,
    tid: str,
    customer_id: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Template items and payload recommendations for a recipient's picks."""
    items: list[dict[str, Any]] = []
    recommendations: list[dict[str, Any]] = []
    for pick in picks:
        if not pick.keys() >= _PICK_KEY_SET:  # a set test, in C
            missing = next(key for key in PICK_KEYS if key not in pick)
            raise MissingFieldError("pick", missing, customer_id)
    utm_items = campaign.utm_items
    for pick in sorted(picks, key=_pick_sort_key) if len(picks) > 1 else picks:
        parts = _pick_parts(
            pick["product_id"],
            pick["product_name"],
            pick["currency"],
            pick["price"],
            pick["product_url"],
            pick["image_url"],
            campaign.shop_url,
        )
        if parts is None:
            continue
        product_id, name, price, currency, shown_price, url, image_url = parts
        tagged = tag_recipient_url(url, utm_items, tid) if url else None
        items.append(
            {
                "name": name,
                "price": shown_price,
                "url": tagged,
                "image_url": image_url,
            }
        )
        recommendations.append(
            {
                "product_id": product_id,
                "name": name,
                "price": price,
                "currency": currency,
                "url": tagged,
            }
        )
    return items, recommendations


def _pick_parts(
    product_id: object,
    product_name: object,
    currency: object,
    price: object,
    product_url: object,
    image_url: object,
    shop_url: str,
) -> tuple[Any, ...] | None:
    """A pick's product as emails show it, or ``None`` without a name.

    The same products recur across recipients, so this is memoised when every
    value is text and the price a Decimal, text or missing: keyed by the price's
    text, which :func:`renderer.text.to_decimal` reads back to the same Decimal,
    sign and exponent included (``-0`` and ``0``, ``1.5`` and ``1.50`` are equal
    Decimals, and hashing a Decimal costs more than the rest of the key).
    """
    texts = (product_id, product_name, currency, product_url, image_url)
    if type(price) in _KEYED_PRICES and _TEXT_OR_NONE.issuperset(map(type, texts)):
        return _keyed_product_parts(
            product_id,
            product_name,
            currency,
            None if price is None else str(price),
            product_url,
            image_url,
            shop_url,
        )
    return _product_parts(
        product_id, product_name, currency, price, product_url, image_url, shop_url
    )


def _product_parts(
    product_id: object,
    product_name: object,
    currency: object,
    price: object,
    product_url: object,
    image_url: object,
    shop_url: str,
) -> tuple[Any, ...] | None:
    """A pick's product as emails show it (see :func:`_pick_parts`)."""
    name = clean_line(product_name)
    if not name:
        return None
    currency = clean_line(currency).upper() or None
    price = to_decimal(price)
    if price is not None:
        price = quantize_money(price, currency)
    return (
        str(product_id),
        name,
        price,
        currency,
        format_price(price, currency),
        cached_safe_url(product_url, base_url=shop_url),
        cached_safe_url(image_url),
    )


_keyed_product_parts: Final = functools.lru_cache(maxsize=65_536)(_product_parts)


def group_picks(picks: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Pick rows by customer id (as a string), in the order given."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for pick in picks:
        grouped.setdefault(str(pick["customer_id"]), []).append(pick)
    return grouped


def recipient_columns(catalog: Catalog) -> frozenset[str]:
    """Every column of a recipient row that rendering with ``catalog`` reads: the
    keys above and what the catalog's conditions, templates, links and images
    read (its context columns are filled in per recipient)."""
    read = {*RECIPIENT_KEYS, *OPTIONAL_RECIPIENT_KEYS, *catalog.template_columns}
    return frozenset(read - set(CONTEXT_COLUMNS))


@functools.cache
def default_renderer() -> Renderer:
    """The shared :class:`Renderer` with the default copy table (built on first use)."""
    return Renderer()


def render(
    recipient: Mapping[str, Any],
    picks: Sequence[Mapping[str, Any]],
    campaign: Campaign,
    variant: str | None = None,
) -> dict[str, Any]:
    """Render one payload with the shared renderer; see :meth:`Renderer.render`."""
    return default_renderer().render(recipient, picks, campaign, variant)


def render_many(
    recipients: Iterable[Mapping[str, Any]],
    picks_by_customer: Mapping[str, Sequence[Mapping[str, Any]]],
    campaign: Campaign,
) -> Iterator[dict[str, Any]]:
    """Render payloads lazily with the shared renderer.

    See :meth:`Renderer.render_many`.
    """
    return default_renderer().render_many(recipients, picks_by_customer, campaign)
