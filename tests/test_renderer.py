"""Behaviour of the email renderer: content, escaping, links and payload shape."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import orjson
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from renderer.links import safe_url, tag_recipient_url, tag_url, tracking_id
from renderer.render import (
    PICK_KEYS,
    RECIPIENT_KEYS,
    Campaign,
    MissingFieldError,
    Renderer,
    render,
    render_many,
)
from renderer.segment_copy import DEFAULT_COPY, SEGMENT_COPY
from renderer.text import clean_line, format_price

CAMPAIGN = Campaign(campaign_id="spring-24", name="Spring running")
VOID_TAGS = {"meta", "img", "br", "hr", "link", "input", "source"}
URL_IN_TEXT = re.compile(r"https?://\S+")


class _Markup(HTMLParser):
    """Collects links, images and tag balance from an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.img_srcs: list[str] = []
        self.open_tags: list[str] = []
        self.unbalanced: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self.hrefs.append(values.get("href") or "")
        if tag == "img":
            self.img_srcs.append(values.get("src") or "")
        if tag not in VOID_TAGS:
            self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open_tags and self.open_tags[-1] == tag:
            self.open_tags.pop()
        else:
            self.unbalanced.append(tag)


def esc(value: str) -> str:
    """``value`` as Jinja's autoescape writes it into HTML."""
    return str(escape(value))


def parse(document: str) -> _Markup:
    parser = _Markup()
    parser.feed(document)
    parser.close()
    return parser


def recipient(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": "c-17",
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "rfm_segment": "champions",
        "cluster_name": "runners",
        "preferred_category": "running",
        "lifetime_orders": 7,
        "lifetime_revenue": Decimal("612.40"),
        "currency": "EUR",
        "last_order_at": None,
        "days_since_last_order": 12,
    }
    row.update(overrides)
    return row


def pick(rank: int = 1, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": "c-17",
        "pick_rank": rank,
        "product_id": f"p-{rank}",
        "product_name": f"Trail Runner {rank}",
        "category": "running",
        "price": Decimal("44.95"),
        "currency": "EUR",
        "product_url": f"https://shop.example.com/p/{rank}",
        "image_url": f"https://cdn.example.com/p/{rank}.jpg",
    }
    row.update(overrides)
    return row


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_greeting_uses_first_name(renderer: Renderer) -> None:
    payload = renderer.render(recipient(first_name="Ana"), [], CAMPAIGN)
    assert "Hi Ana," in payload["html"]
    assert payload["text"].startswith("Hi Ana,\n")
    assert payload["blocks"][0] == "greeting"
    assert payload["subject"] == "Ana, a first look just for you"


@pytest.mark.parametrize("first_name", [None, "", "   ", "\r\n"])
def test_greeting_falls_back_without_first_name(
    renderer: Renderer, first_name: str | None
) -> None:
    payload = renderer.render(recipient(first_name=first_name), [], CAMPAIGN)
    assert "Hi there," in payload["html"]
    assert payload["text"].startswith("Hi there,\n")
    assert payload["subject"] == SEGMENT_COPY["champions"].subject


def test_non_ascii_name_is_preserved(renderer: Renderer) -> None:
    payload = renderer.render(recipient(first_name="Zoë Ångström"), [], CAMPAIGN)
    assert "Hi Zoë Ångström," in payload["html"]
    assert "Hi Zoë Ångström," in payload["text"]
    assert payload["subject"].startswith("Zoë Ångström,")


def test_each_segment_gets_its_own_copy(renderer: Renderer) -> None:
    headlines = {copy.headline for copy in SEGMENT_COPY.values()}
    assert len(headlines) == len(SEGMENT_COPY), "segment headlines must differ"
    for segment, copy in SEGMENT_COPY.items():
        payload = renderer.render(recipient(rfm_segment=segment), [], CAMPAIGN)
        assert payload["segment"] == segment
        assert payload["blocks"] == ["greeting", f"segment:{segment}"]
        assert esc(copy.headline) in payload["html"]
        assert copy.headline in payload["text"]
        assert copy.cta_label in payload["text"]
        assert payload["subject"] == copy.subject_named.replace("{first_name}", "Ana")
        assert payload["preheader"] == copy.preheader


@pytest.mark.parametrize("segment", ["vip_2030", None, ""])
def test_unknown_segment_falls_back_to_default_copy(
    renderer: Renderer, segment: str | None
) -> None:
    payload = renderer.render(recipient(rfm_segment=segment), [], CAMPAIGN)
    assert payload["segment"] == segment
    assert payload["blocks"] == ["greeting", "segment:default"]
    assert esc(DEFAULT_COPY.headline) in payload["html"]
    assert payload["subject"] == "Ana, picked for you"


def test_no_picks_renders_no_picks_block(renderer: Renderer) -> None:
    payload = renderer.render(recipient(), [], CAMPAIGN)
    markup = parse(payload["html"])
    assert payload["blocks"] == ["greeting", "segment:champions"]
    assert payload["recommendations"] == []
    assert "Shop now" not in payload["html"]
    assert "Shop now" not in payload["text"]
    assert "Picked for you" not in payload["html"]
    assert 'class="pick-' not in payload["html"]
    assert markup.img_srcs == []
    assert markup.open_tags == [] and markup.unbalanced == []


def test_picks_block_lists_picks_in_rank_order(renderer: Renderer) -> None:
    picks = [pick(3), pick(1), pick(2, price=9.9, currency="USD")]
    payload = renderer.render(recipient(), picks, CAMPAIGN)
    markup = parse(payload["html"])
    assert payload["blocks"] == ["greeting", "segment:champions", "product_picks"]
    assert [r["product_id"] for r in payload["recommendations"]] == [
        "p-1",
        "p-2",
        "p-3",
    ]
    assert payload["recommendations"][1]["price"] == Decimal("9.90")
    assert payload["recommendations"][1]["currency"] == "USD"
    assert payload["html"].index("Trail Runner 1") < payload["html"].index(
        "Trail Runner 2"
    )
    assert "€44.95" in payload["html"] and "$9.90" in payload["text"]
    assert markup.img_srcs == [
        f"https://cdn.example.com/p/{rank}.jpg" for rank in (1, 2, 3)
    ]
    assert payload["html"].count(">Shop now</a>") == 3
    assert markup.open_tags == [] and markup.unbalanced == []


@pytest.mark.parametrize("image_url", [None, "", "javascript:alert(1)", "data:x"])
def test_pick_without_usable_image_has_no_img(
    renderer: Renderer, image_url: str | None
) -> None:
    payload = renderer.render(recipient(), [pick(1, image_url=image_url)], CAMPAIGN)
    assert "<img" not in payload["html"]
    assert "Trail Runner 1" in payload["html"]
    assert 'colspan="2"' in payload["html"]


def test_script_in_first_name_is_escaped(renderer: Renderer) -> None:
    name = "<script>alert(1)</script>"
    payload = renderer.render(recipient(first_name=name), [], CAMPAIGN)
    assert "<script" not in payload["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in payload["html"]
    assert name in payload["text"]  # text/plain shows it as the literal text it is


@pytest.mark.parametrize("hostile", ["{{ 7*7 }}", "{% raw %}", "{{ ''.__class__ }}"])
def test_template_syntax_in_data_stays_literal(
    renderer: Renderer, hostile: str
) -> None:
    payload = renderer.render(
        recipient(first_name=hostile),
        [pick(1, product_name=f"Shoe {hostile}")],
        CAMPAIGN,
    )
    escaped = esc(hostile)
    assert f"Hi {escaped}," in payload["html"]
    assert f"Shoe {escaped}" in payload["html"]
    assert f"Hi {hostile}," in payload["text"]
    assert f"Shoe {hostile}" in payload["text"]
    assert "Hi 49," not in payload["html"]


@given(st.text())
def test_subject_never_contains_control_characters(first_name: str) -> None:
    payload = render(recipient(first_name=first_name), [], CAMPAIGN)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in payload["subject"])
    assert "\u2028" not in payload["subject"] and "\u2029" not in payload["subject"]
    assert payload["subject"] == payload["subject"].strip()


def test_crlf_in_first_name_cannot_inject_a_header(renderer: Renderer) -> None:
    payload = renderer.render(
        recipient(first_name="Ana\r\nBcc: victim@example.com"), [], CAMPAIGN
    )
    assert "\r" not in payload["subject"] and "\n" not in payload["subject"]
    assert (
        payload["subject"] == "Ana Bcc: victim@example.com, a first look just for you"
    )


@pytest.mark.parametrize(
    "product_url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "  javascript:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        None,
        "",
    ],
)
def test_unsafe_product_url_is_not_linked(
    renderer: Renderer, product_url: str | None
) -> None:
    payload = renderer.render(recipient(), [pick(1, product_url=product_url)], CAMPAIGN)
    markup = parse(payload["html"])
    assert all(urlsplit(href).scheme == "https" for href in markup.hrefs)
    assert len(markup.hrefs) == 1  # only the segment call to action
    assert "Shop now" not in payload["html"] and "Shop now" not in payload["text"]
    assert "script:" not in payload["text"].lower()
    assert "Trail Runner 1" in payload["html"]
    assert payload["recommendations"][0]["url"] is None


def test_relative_product_url_resolves_against_the_shop(renderer: Renderer) -> None:
    payload = renderer.render(recipient(), [pick(1, product_url="/p/1")], CAMPAIGN)
    url = payload["recommendations"][0]["url"]
    assert url.startswith("https://shop.example.com/p/1?")


def _assert_tagged(url: str, customer_id: str) -> None:
    query = parse_qs(urlsplit(url).query)
    assert query["utm_source"] == ["mailroom"], url
    assert query["utm_medium"] == ["email"], url
    assert query["utm_campaign"] == ["spring-24"], url
    assert query["mr_tid"] == [tracking_id("spring-24", customer_id)], url
    assert customer_id not in url


def test_every_link_carries_utm_and_tracking_id(renderer: Renderer) -> None:
    picks = [
        pick(1),
        pick(2, product_url="https://shop.example.com/p/2?color=red&utm_source=x#rev"),
        pick(3, product_url="https://shop.example.com/p/3?q=a%26b"),
    ]
    payload = renderer.render(recipient(customer_id="c-991"), picks, CAMPAIGN)
    hrefs = parse(payload["html"]).hrefs
    text_urls = URL_IN_TEXT.findall(payload["text"])
    assert len(hrefs) == 4 and len(text_urls) == 4
    assert hrefs == text_urls
    for url in hrefs:
        _assert_tagged(url, "c-991")
    second = urlsplit(hrefs[2])
    assert parse_qs(second.query)["color"] == ["red"]
    assert second.fragment == "rev"
    assert parse_qs(urlsplit(hrefs[3]).query)["q"] == ["a&b"]
    assert [r["url"] for r in payload["recommendations"]] == hrefs[1:]


def test_tag_url_keeps_existing_query_and_fragment() -> None:
    tagged = tag_url(
        "https://shop.test/p?id=1&utm_source=old&flag#top",
        {"utm_source": "mailroom", "utm_campaign": "spring 24"},
    )
    parts = urlsplit(tagged)
    assert parts.fragment == "top"
    assert parse_qsl(parts.query, keep_blank_values=True) == [
        ("id", "1"),
        ("flag", ""),
        ("utm_source", "mailroom"),
        ("utm_campaign", "spring 24"),
    ]
    assert tag_url("https://shop.test/", {"a": "1"}) == "https://shop.test/?a=1"


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.test/",
        "https://shop.test/p?x=1",
        "https://shop.test/p?mr_tid=stale&x=1#frag",
        "http://shop.test:8080/a/b?utm_medium=sms",
    ],
)
def test_recipient_tagging_matches_the_pure_function(url: str) -> None:
    tid = tracking_id("spring-24", "c-17")
    expected = tag_url(url, {**dict(CAMPAIGN.utm_items), "mr_tid": tid})
    assert tag_recipient_url(url, CAMPAIGN.utm_items, tid) == expected


def test_safe_url_accepts_only_absolute_http_urls() -> None:
    assert safe_url("https://shop.test/p/1") == "https://shop.test/p/1"
    assert safe_url(" https://shop.test/a b ") == "https://shop.test/a%20b"
    assert safe_url("/p/1", base_url="https://shop.test/") == "https://shop.test/p/1"
    for bad in ("javascript:alert(1)", "mailto:a@b.c", "https://", "/p/1", 42):
        assert safe_url(bad) is None, bad


def test_tracking_id_is_deterministic_and_opaque() -> None:
    tid = tracking_id("spring-24", "c-17")
    assert tid == tracking_id("spring-24", "c-17")
    assert re.fullmatch(r"[0-9a-f]{20}", tid)
    assert tid != tracking_id("spring-24", "c-18")
    assert tid != tracking_id("summer-24", "c-17")
    assert tracking_id("a:b", "c") != tracking_id("a", "b:c")


def test_content_hash_is_deterministic(renderer: Renderer) -> None:
    first = renderer.render(recipient(), [pick(1), pick(2)], CAMPAIGN)
    again = Renderer().render(recipient(), [pick(2), pick(1)], CAMPAIGN)
    assert first == again
    expected = xxhash.xxh3_128(
        b"".join(
            (
                first["subject"].encode() + b"\x00",
                orjson.dumps(first["html"])[1:-1] + b"\x00",
                first["text"].encode() + b"\x00",
            )
        )
    ).hexdigest()
    assert first["content_hash"] == expected


@pytest.mark.parametrize(
    ("recipient_changes", "picks", "campaign"),
    [
        ({"first_name": "Anna"}, [pick(1)], CAMPAIGN),
        ({"rfm_segment": "at_risk"}, [pick(1)], CAMPAIGN),
        ({"customer_id": "c-18"}, [pick(1)], CAMPAIGN),
        ({}, [pick(1, price=Decimal("44.96"))], CAMPAIGN),
        ({}, [], CAMPAIGN),
        ({}, [pick(1)], Campaign("summer-24", "Summer")),
    ],
)
def test_content_hash_changes_with_content(
    renderer: Renderer,
    recipient_changes: dict[str, Any],
    picks: list[dict[str, Any]],
    campaign: Campaign,
) -> None:
    base = renderer.render(recipient(), [pick(1)], CAMPAIGN)
    changed = renderer.render(recipient(**recipient_changes), picks, campaign)
    assert changed["content_hash"] != base["content_hash"]


@pytest.mark.parametrize("key", RECIPIENT_KEYS)
def test_missing_recipient_key_names_the_key(renderer: Renderer, key: str) -> None:
    row = recipient()
    del row[key]
    with pytest.raises(
        MissingFieldError, match=f"missing required key '{key}'"
    ) as info:
        renderer.render(row, [], CAMPAIGN)
    assert info.value.key == key
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("key", PICK_KEYS)
def test_missing_pick_key_names_the_key(renderer: Renderer, key: str) -> None:
    row = pick(1)
    del row[key]
    with pytest.raises(
        MissingFieldError, match=f"pick row is missing required key '{key}'"
    ):
        renderer.render(recipient(), [row], CAMPAIGN)


@pytest.mark.parametrize(
    "email", ["ana@example.com\r\nBcc: x@y.z", "not-an-email", " ana@example.com", None]
)
def test_invalid_email_is_refused(renderer: Renderer, email: str | None) -> None:
    with pytest.raises(ValueError, match="invalid email"):
        renderer.render(recipient(email=email), [], CAMPAIGN)


def test_payload_has_the_documented_keys(renderer: Renderer) -> None:
    payload = renderer.render(recipient(), [pick(1)], CAMPAIGN)
    assert set(payload) == {
        "recipient_id",
        "email",
        "campaign_id",
        "segment",
        "subject",
        "preheader",
        "blocks",
        "recommendations",
        "html",
        "text",
        "content_hash",
    }
    assert payload["recipient_id"] == "c-17"
    assert payload["email"] == "ana@example.com"
    assert payload["campaign_id"] == "spring-24"
    assert set(payload["recommendations"][0]) == {
        "product_id",
        "name",
        "price",
        "currency",
        "url",
    }
    assert f"<title>{esc(payload['subject'])}</title>" in payload["html"]
    assert esc(payload["preheader"]) in payload["html"]


def test_render_many_matches_picks_by_customer_lazily(renderer: Renderer) -> None:
    rows = [recipient(customer_id=cid) for cid in ("c-1", "c-2", "c-3")]
    rows.append(recipient(customer_id=4))  # ids are matched as strings
    picks = {"c-2": [pick(1, customer_id="c-2")], "4": [pick(2)]}
    payloads = renderer.render_many(iter(rows), picks, CAMPAIGN)
    assert not isinstance(payloads, list)
    result = list(payloads)
    assert [p["recipient_id"] for p in result] == ["c-1", "c-2", "c-3", "4"]
    assert ["product_picks" in p["blocks"] for p in result] == [
        False,
        True,
        False,
        True,
    ]
    assert result == list(render_many(rows, picks, CAMPAIGN))


def test_templates_are_compiled_once(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("template compiled while rendering")

    monkeypatch.setattr(renderer.environment, "compile", refuse)
    monkeypatch.setattr(renderer.environment, "get_template", refuse)
    payloads = list(
        renderer.render_many([recipient()] * 3, {"c-17": [pick(1)]}, CAMPAIGN)
    )
    assert len(payloads) == 3


def test_environment_is_sandboxed_and_strict(renderer: Renderer) -> None:
    assert isinstance(renderer.environment, SandboxedEnvironment)
    assert renderer.environment.undefined is StrictUndefined
    assert renderer.environment.autoescape("email.html.j2") is True
    assert renderer.environment.autoescape("email.txt.j2") is False


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1299.5"), "EUR", "€1,299.50"),
        (9.9, "usd", "$9.90"),
        (0.125, "GBP", "£0.13"),
        (1500, "JPY", "¥1,500"),
        (Decimal("10"), "CHF", "CHF 10.00"),
        (Decimal("10"), None, "10.00"),
        (float("nan"), "EUR", ""),
        (None, "EUR", ""),
    ],
)
def test_format_price(amount: Any, currency: str | None, expected: str) -> None:
    assert format_price(amount, currency) == expected


def test_clean_line_removes_controls_and_keeps_letters() -> None:
    assert clean_line("  Zoë\r\n\tÅngström\u2028 😀 ") == "Zoë Ångström 😀"
    assert clean_line(None) == ""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"campaign_id": ""},
        {"campaign_id": "spring\n24"},
        {"shop_url": "javascript:alert(1)"},
        {"shop_url": "shop.example.com"},
    ],
)
def test_campaign_is_validated(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="Campaign"):
        Campaign(**{"campaign_id": "spring-24", "name": "Spring", **kwargs})
