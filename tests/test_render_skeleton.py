"""Skeleton rendering gives exactly Jinja's output, for any context.

``renderer.skeleton.Skeletons`` renders the first recipient of each shape with
Jinja and fills the kept skeleton for the others; these tests compare its output
with Jinja's own on small templates that exercise every kind of use, and on the
default catalog with generated recipients (hostile names included).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

import renderer.skeleton
from renderer.catalog import load_catalog
from renderer.render import Campaign, Renderer
from renderer.segment_copy import SEGMENT_COPY
from renderer.skeleton import Skeletons

CAMPAIGN = Campaign(campaign_id="skeleton-26", name="Skeleton")


def _skeletons(*sources: str, **environment: Any) -> Skeletons:
    env = SandboxedEnvironment(
        autoescape=True, undefined=StrictUndefined, **environment
    )
    return Skeletons([(env.from_string(source), source) for source in sources])


def _jinja(skeletons: Skeletons, context: dict[str, Any]) -> list[str]:
    return [template.render(context) for template in skeletons.templates]


def _check(skeletons: Skeletons, context: dict[str, Any]) -> None:
    expected = _jinja(skeletons, context)
    assert skeletons.render(context, [False] * len(expected)) == expected
    encoded = skeletons.render(context, [True] * len(expected))
    assert encoded == [orjson.dumps(text)[1:-1] for text in expected]


def test_truth_tests_share_a_shape_per_truth_and_keep_falsy_values_apart() -> None:
    skeletons = _skeletons("{% if x %}[{{ x }}]{% else %}none:{{ x }}{% endif %}")
    for value in ("a", "<b>", 7, "", None, 0, False, 0.0, "zz", Decimal("1.50")):
        _check(skeletons, {"x": value})
    # every truthy value shares one skeleton; each falsy value (by type) has one
    assert skeletons.specialised
    assert skeletons.shapes == 1 + 5


def test_compared_and_filtered_values_belong_to_the_shape() -> None:
    skeletons = _skeletons(
        '{% if kind == "vip" %}VIP {% endif %}{{ name|upper }} {{ name }}!'
    )
    for kind, name in [("vip", "ana"), ("std", "ana"), ("vip", "bo"), ("std", "o")]:
        _check(skeletons, {"kind": kind, "name": name})
    assert skeletons.shapes == 4  # name is filtered, so it is part of the shape


def test_loops_aliases_and_nested_paths() -> None:
    skeletons = _skeletons(
        "{% with b = blocks['hero'] %}<h1>{{ b.title }}</h1>{% endwith %}"
        "{% for item in items %}<li>{{ item.name }}"
        '{% if item.url %}<a href="{{ item.url }}">go</a>{% endif %}'
        "{{ loop.index }}</li>{% else %}<p>none</p>{% endfor %}",
        "{% for item in items %}- {{ item.name }} {{ item.url }}\n{% endfor %}",
    )
    contexts = [
        {"blocks": {"hero": {"title": "Hi & bye"}}, "items": []},
        {
            "blocks": {"hero": {"title": "<x>"}},
            "items": [{"name": "A", "url": "https://a/?q=1&r=2"}],
        },
        {
            "blocks": {"hero": {"title": "T"}},
            "items": [{"name": "B", "url": None}, {"name": '"C"', "url": "u"}],
        },
        {
            "blocks": {"hero": {"title": "T2"}},
            "items": [{"name": "D", "url": "v"}],
        },
    ]
    for context in contexts:
        _check(skeletons, context)
    assert skeletons.specialised
    assert skeletons.shapes == 3  # the second and fourth contexts share a shape


def test_a_loop_that_reads_nothing_of_its_items_still_counts_them() -> None:
    skeletons = _skeletons("{% for item in items %}*{% endfor %}|{{ name }}")
    for items in ([], [1], [1, 2], ["a", "b", "c"], [3]):
        _check(skeletons, {"items": items, "name": "n"})
    assert skeletons.specialised
    assert skeletons.shapes == 4


def test_a_missing_value_fails_as_jinja_does() -> None:
    skeletons = _skeletons("{{ customer.name }}")
    _check(skeletons, {"customer": {"name": "Ana"}})
    with pytest.raises(UndefinedError):
        skeletons.render({"customer": {}}, [False])


def test_statements_it_does_not_follow_leave_rendering_to_jinja() -> None:
    skeletons = _skeletons("{% set y = x %}{{ y }}")
    assert not skeletons.specialised
    assert skeletons.render({"x": "a"}, [False]) is None


def test_an_environment_finalize_leaves_rendering_to_jinja() -> None:
    skeletons = _skeletons("{{ x }}", finalize=lambda value: value or "")
    assert not skeletons.specialised


class _Shouting(SandboxedEnvironment):
    """Reads attributes upper-cased: printing a path no longer prints its value."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        return str(super().getattr(obj, attribute)).upper()


def test_a_skeleton_that_differs_from_jinja_turns_skeletons_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = _Shouting(autoescape=True, undefined=StrictUndefined)
    source = "Hi {{ c.name }}"
    skeletons = Skeletons([(env.from_string(source), source)])
    assert skeletons.specialised  # the analysis cannot see what getattr does
    with caplog.at_level(logging.WARNING, logger="renderer.skeleton"):
        # the first recipient of a shape is compared with Jinja: caught there
        assert skeletons.render({"c": {"name": "ana"}}, [False]) is None
    assert "differs from Jinja" in caplog.text
    assert not skeletons.specialised
    assert skeletons.render({"c": {"name": "bo"}}, [False]) is None


def test_sentinel_lookalikes_in_data_cannot_change_output() -> None:
    skeletons = _skeletons('{% if k == "a" %}{{ k }}{% endif %}[{{ v }}]')
    for k, v in [("a", "\x000\x01"), ("\x000\x01", "x"), ("a", "y")]:
        expected = _jinja(skeletons, {"k": k, "v": v})
        assert skeletons.render({"k": k, "v": v}, [False]) in (None, expected)


def test_new_shapes_beyond_the_cap_render_with_jinja(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(renderer.skeleton, "MAX_SHAPES", 1)
    skeletons = _skeletons('{% if k == "a" %}A{% endif %}{{ v }}')
    _check(skeletons, {"k": "a", "v": 1})
    assert skeletons.render({"k": "b", "v": 1}, [False]) is None
    _check(skeletons, {"k": "a", "v": 2})  # a kept shape is still used


# The default catalog: payloads through skeletons equal payloads rendered by Jinja.

SHAPES_RENDERER = Renderer(catalog=load_catalog())
JINJA_RENDERER = Renderer(catalog=SHAPES_RENDERER.catalog, skeletons=False)

names = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "Ana",
            "Zoë",
            "<script>alert(1)</script>",
            "{{ 7*7 }}",
            "{% raw %}",
            "\x000\x01",
        ]
    ),
    st.text(max_size=12),
)
urls = st.one_of(
    st.none(),
    st.sampled_from(
        ["https://shop.example.com/p/1", "/p/2?a=1&b=2", "javascript:alert(1)"]
    ),
)
pick_rows = st.lists(
    st.fixed_dictionaries(
        {
            "product_id": st.sampled_from(["p-1", "p-2", "p-3"]),
            "product_name": st.one_of(st.none(), st.text(max_size=10), names),
            "price": st.one_of(st.none(), st.decimals(0, 500, places=2)),
            "currency": st.sampled_from(["EUR", "usd", None]),
            "product_url": urls,
            "image_url": urls,
        }
    ),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_name=names,
    segment=st.sampled_from([*SEGMENT_COPY, "unknown", None]),
    is_vip=st.booleans(),
    revenue=st.decimals(0, 5000, places=2),
    orders=st.integers(0, 30),
    picks=pick_rows,
    variant=st.sampled_from(["A", "B", None]),
)
def test_catalog_payloads_through_skeletons_equal_jinja_renders(
    first_name: str | None,
    segment: str | None,
    is_vip: bool,
    revenue: Decimal,
    orders: int,
    picks: list[dict[str, Any]],
    variant: str | None,
) -> None:
    recipient = {
        "customer_id": "c-1",
        "email": "c1@example.com",
        "first_name": first_name,
        "last_name": "Doe",
        "rfm_segment": segment,
        "is_vip": is_vip,
        "lifetime_revenue": revenue,
        "lifetime_orders": orders,
        "days_since_last_order": 30,
    }
    pick_list = [
        {"pick_rank": rank, **pick} for rank, pick in enumerate(picks, start=1)
    ]
    rendered = SHAPES_RENDERER.render_encoded(recipient, pick_list, CAMPAIGN, variant)
    plain = SHAPES_RENDERER.render_with_decisions(
        recipient, pick_list, CAMPAIGN, variant
    )
    expected, decisions = JINJA_RENDERER.render_with_decisions(
        recipient, pick_list, CAMPAIGN, variant
    )
    assert plain == (expected, decisions)
    payload, _, html = rendered
    assert {**payload, "html": expected["html"]} == expected
    assert html.json == orjson.dumps(expected["html"])[1:-1]
    _, _, pieces = JINJA_RENDERER.render_encoded(
        recipient, pick_list, CAMPAIGN, variant
    )
    assert pieces == html  # the piece-by-piece encoder, without skeletons
    assert SHAPES_RENDERER._skeletons.specialised


def test_default_catalog_is_rendered_through_skeletons() -> None:
    renderer = Renderer(catalog=load_catalog())
    assert renderer._skeletons.specialised
    recipient = {
        "customer_id": "c-2",
        "email": "c2@example.com",
        "first_name": "Ana",
        "rfm_segment": "champions",
    }
    for name in ("Ana", "Bo", "Cy"):
        renderer.render(dict(recipient, first_name=name), [], CAMPAIGN, "A")
    assert renderer._skeletons.shapes == 1


@given(st.text())
def test_text_slots_are_escaped_exactly_as_markupsafe_escapes(text: str) -> None:
    # later recipients of a shape are escaped by renderer.skeleton alone
    assert renderer.skeleton._escape(text) == str(escape(text))
    assert renderer.skeleton._escape(Markup(text)) == Markup(text)
