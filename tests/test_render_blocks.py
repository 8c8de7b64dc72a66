"""Emails built from the block catalog: valid inlined HTML, safe with hostile data."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError
from markupsafe import escape

from renderer.catalog import MART_COLUMNS, load_catalog
from renderer.compile import TemplateCompileError, compile_mjml
from renderer.links import tracking_id
from renderer.preview import preview
from renderer.render import Campaign, Renderer, _pick_parts
from renderer.text import is_plain_line, tidy_pieces, tidy_text

CAMPAIGN = Campaign(campaign_id="spring-24", name="Spring running")
URL_IN_TEXT = re.compile(r"https?://\S+")
VOID_TAGS = {"meta", "img", "br", "hr", "link", "input", "source"}


class _Document(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.styles: list[str] = []
        self.style_attributes = 0
        self.hrefs: list[str] = []
        self.img_srcs: list[str] = []
        self.open_tags: list[str] = []
        self.unbalanced: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        self.style_attributes += "style" in values
        if tag == "a":
            self.hrefs.append(values.get("href") or "")
        if tag == "img":
            self.img_srcs.append(values.get("src") or "")
        self._in_style = tag == "style"
        if tag not in VOID_TAGS:
            self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if self.open_tags and self.open_tags[-1] == tag:
            self.open_tags.pop()
        else:
            self.unbalanced.append(tag)

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(html: str) -> _Document:
    document = _Document()
    document.feed(html)
    document.close()
    return document


def recipient(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": "c-17",
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "rfm_segment": "champions",
        "cluster_name": "runners",
        "preferred_category": "running",
        "r_score": 5,
        "f_score": 4,
        "m_score": 4,
        "lifetime_orders": 7,
        "lifetime_revenue": Decimal("612.40"),
        "currency": "EUR",
        "days_since_last_order": 12,
        "is_vip": False,
        "as_of_date": None,
        "last_order_at": None,
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
        "pick_reason": "popular",
    }
    row.update(overrides)
    return row


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(catalog=load_catalog())


def test_html_is_a_valid_inlined_document(renderer: Renderer) -> None:
    payload = renderer.render(recipient(), [pick(1), pick(2), pick(3)], CAMPAIGN)
    document = parse(payload["html"])
    assert document.tags[0] == "html"
    assert {"head", "body", "title", "table"} <= set(document.tags)
    assert document.open_tags == [] and document.unbalanced == []
    assert document.style_attributes > 50  # CSS inlined into style attributes
    # the only <style> left holds media queries for small screens
    assert document.styles and all(
        s.strip().startswith("@media") for s in document.styles
    )
    assert "{{" not in payload["html"] and "{%" not in payload["html"]
    assert "MRJINJA" not in payload["html"]
    assert payload["html"].isascii() or "Ana" in payload["html"]


def test_blocks_subject_and_preheader_follow_the_catalog(renderer: Renderer) -> None:
    vip = renderer.render(
        recipient(is_vip=True, lifetime_revenue=Decimal("1500")), [pick(1)], CAMPAIGN
    )
    assert vip["blocks"] == [
        "greeting",
        "vip_offer",
        "loyalty_message",
        "recommendations",
        "footer",
    ]
    assert vip["subject"] == "Ana, your VIP early access is open"
    assert vip["preheader"].startswith("A thank-you for our best customers")
    assert "VIP15" in vip["html"] and "VIP15" in vip["text"]

    plain = renderer.render(recipient(rfm_segment="promising"), [], CAMPAIGN)
    assert plain["blocks"] == ["greeting", "generic_fallback", "footer"]
    # no block subject: the segment's copy, as before
    assert plain["subject"] == "Ana, we think you'll like these"
    assert "Shop now" not in plain["html"] and "Picked for you" not in plain["text"]


def test_recommendations_show_image_name_price_and_shop_now(renderer: Renderer) -> None:
    picks = [pick(1), pick(2, image_url=None), pick(3, price=9.9, currency="USD")]
    payload = renderer.render(recipient(), picks, CAMPAIGN)
    document = parse(payload["html"])
    assert [src for src in document.img_srcs] == [
        "https://cdn.example.com/p/1.jpg",
        "https://cdn.example.com/p/3.jpg",
    ]
    assert payload["html"].count(">Shop now</a>") == 3
    assert "€44.95" in payload["html"] and "$9.90" in payload["text"]
    assert payload["recommendations"][1]["image_url"] is None
    assert payload["merge_vars"]["MR_P3_PRC"] == "$9.90"


def test_every_link_is_tagged_and_safe(renderer: Renderer) -> None:
    picks = [pick(1), pick(2, product_url="javascript:alert(1)")]
    payload = renderer.render(
        recipient(customer_id="c-991", rfm_segment="at_risk"), picks, CAMPAIGN
    )
    hrefs = parse(payload["html"]).hrefs
    text_urls = URL_IN_TEXT.findall(payload["text"])
    assert hrefs and sorted(hrefs) == sorted(text_urls)
    for url in hrefs:
        query = parse_qs(urlsplit(url).query)
        assert urlsplit(url).scheme == "https"
        assert query["utm_campaign"] == ["spring-24"]
        assert query["mr_tid"] == [tracking_id("spring-24", "c-991")]
    assert "script:" not in payload["html"].lower()
    assert payload["html"].count(">Shop now</a>") == 1


@pytest.mark.parametrize("hostile", ["{{ 7*7 }}", "{% raw %}", "{{ ''.__class__ }}"])
def test_template_syntax_in_data_stays_literal(
    renderer: Renderer, hostile: str
) -> None:
    payload = renderer.render(
        recipient(first_name=hostile),
        [pick(1, product_name=f"Shoe {hostile}")],
        CAMPAIGN,
    )
    assert f"Hi {escape(hostile)}," in payload["html"]
    assert f"Shoe {escape(hostile)}" in payload["html"]
    assert f"Hi {hostile}," in payload["text"]
    assert "49" not in payload["text"]


def test_script_is_escaped_and_subject_has_no_line_breaks(renderer: Renderer) -> None:
    name = "<script>alert(1)</script>\r\nBcc: x@y.z"
    payload = renderer.render(
        recipient(first_name=name, is_vip=True, lifetime_revenue=5000), [], CAMPAIGN
    )
    assert "<script" not in payload["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in payload["html"]
    assert "\r" not in payload["subject"] and "\n" not in payload["subject"]
    assert "\n" not in payload["merge_vars"]["FNAME"]


def test_non_ascii_and_missing_names(renderer: Renderer) -> None:
    named = renderer.render(recipient(first_name="Zoë Ångström"), [], CAMPAIGN)
    assert "Hi Zoë Ångström," in named["html"] and "Hi Zoë Ångström," in named["text"]
    anonymous = renderer.render(
        recipient(first_name=None, rfm_segment="at_risk"), [], CAMPAIGN
    )
    assert "Hi there," in anonymous["html"]
    assert anonymous["subject"] == "We miss you: 20% off your next order"


def test_cart_reminder_renders_from_new_mart_columns() -> None:
    columns = (
        *MART_COLUMNS,
        "cart_product_id",
        "cart_product_name",
        "cart_product_url",
        "cart_product_image_url",
    )
    renderer = Renderer(catalog=load_catalog(known_columns=columns))
    payload = renderer.render(
        recipient(
            cart_product_id="p-9",
            cart_product_name="Summit <Jacket>",
            cart_product_url="/p/9",
            cart_product_image_url="javascript:alert(1)",
        ),
        [],
        CAMPAIGN,
    )
    assert payload["blocks"][1] == "cart_reminder"
    assert payload["subject"] == "Ana, you left something in your cart"
    assert "Summit &lt;Jacket&gt;" in payload["html"] and "CART10" in payload["text"]
    assert "<img" not in payload["html"]  # unsafe image URL dropped
    assert "https://shop.example.com/p/9?utm_source=mailroom" in payload["text"]


def test_variant_is_recorded_and_readable_by_conditions(renderer: Renderer) -> None:
    payload = renderer.render(recipient(), [], CAMPAIGN, variant="B")
    assert payload["variant"] == "B" and payload["merge_vars"]["MR_VARIANT"] == "B"


def test_payload_shape(renderer: Renderer) -> None:
    payload = renderer.render(recipient(), [pick(1)], CAMPAIGN, variant="A")
    assert set(payload) == {
        "recipient_id",
        "email",
        "campaign_id",
        "variant",
        "segment",
        "subject",
        "preheader",
        "blocks",
        "recommendations",
        "merge_vars",
        "tracking_id",
        "html",
        "text",
        "content_hash",
    }
    assert all(len(key) <= 10 for key in payload["merge_vars"])  # Mailchimp tags
    assert all(isinstance(v, str) for v in payload["merge_vars"].values())


def test_templates_are_compiled_once(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled while rendering")

    monkeypatch.setattr(renderer.environment, "compile", refuse)
    monkeypatch.setattr(renderer.environment, "get_template", refuse)
    monkeypatch.setattr("renderer.compile.mjml.mjml2html", refuse)
    assert len(list(renderer.render_many([recipient()] * 3, {}, CAMPAIGN))) == 3


def test_sandbox_still_blocks_internals(renderer: Renderer) -> None:
    template = renderer.environment.from_string("{{ x.__class__.__mro__ }}")
    with pytest.raises(SecurityError, match=r"access to attribute '__class__'"):
        template.render(x={"a": 1})
    assert renderer.environment.from_string("{{ x.a }}").render(x={"a": 1}) == "1"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "<mjml><mj-head>{% if x %}</mj-head><mj-body></mj-body></mjml>",
            "appears 0 times",
        ),
        (
            "<mjml><mj-body><mj-section><mj-column><mj-spacer>{{ y }}</mj-spacer>"
            "</mj-column></mj-section></mj-body></mjml>",
            "MJML compilation failed",
        ),
    ],
)
def test_jinja_logic_that_mjml_would_break_is_refused(
    source: str, problem: str
) -> None:
    with pytest.raises(TemplateCompileError, match=problem):
        compile_mjml(source)


def test_preview_returns_html_and_decisions() -> None:
    html, decisions = preview(recipient(rfm_segment="at_risk"), [pick(1)], CAMPAIGN)
    assert "We'd love to see you again" in html
    fired = {d["block_id"]: d["fired"] for d in decisions}
    assert fired["win_back"] is True and fired["vip_offer"] is False
    assert decisions[1]["values"] == {
        "is_vip": False,
        "lifetime_revenue": Decimal("612.40"),
    }


def test_each_price_keeps_its_own_form_whatever_was_shown_before() -> None:
    # a product's shown form is memoised, and Decimal("-0") == Decimal("0")
    shown = [
        _pick_parts("p-1", "Mug", "EUR", price, "/p/1", None, "https://shop.test/")
        for price in (Decimal("0"), Decimal("-0"), Decimal("0"), 7, "7.5")
    ]
    assert [parts[2:5] for parts in shown] == [
        (Decimal("0.00"), "EUR", "€0.00"),
        (Decimal("-0.00"), "EUR", "-€0.00"),
        (Decimal("0.00"), "EUR", "€0.00"),
        (Decimal("7.00"), "EUR", "€7.00"),
        (Decimal("7.50"), "EUR", "€7.50"),
    ]
    assert shown[0][5] == "https://shop.test/p/1"


@given(st.text(alphabet=" \t\n\r€ab", max_size=40))
@example("a\n\n\n\n\nb \n \n\n\t\n\nc\n\n\n\n")
def test_plain_text_has_no_trailing_spaces_or_runs_of_blank_lines(text: str) -> None:
    tidy = tidy_text(text)
    expected = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text))
    assert tidy == expected.strip() + "\n"


@given(
    pieces=st.lists(st.text(alphabet=" \t\n\r\x1f€ab", max_size=12), min_size=1),
    values=st.lists(st.text(alphabet=" \t\n\x1fab€", min_size=1, max_size=4)),
)
def test_tidied_pieces_joined_with_plain_lines_are_the_tidied_text(
    pieces: list[str], values: list[str]
) -> None:
    values = [value for value in values if is_plain_line(value)][: len(pieces) - 1]
    pieces = pieces[: len(values) + 1]
    joined = "".join(p + v for p, v in zip(pieces, [*values, ""], strict=True))
    tidied = tidy_pieces(tuple(pieces))
    assert "".join(
        p + v for p, v in zip(tidied, [*values, ""], strict=True)
    ) == tidy_text(joined)
