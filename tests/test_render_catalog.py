"""The block catalog: loading, validation errors a marketer can act on, selection."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.catalog import (
    DEFAULT_CATALOG_DIR,
    MART_COLUMNS,
    CatalogError,
    load_catalog,
)

CART_COLUMNS = (
    "cart_product_id",
    "cart_product_name",
    "cart_product_url",
    "cart_product_image_url",
)


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A copy of the default catalog to break."""
    target = tmp_path / "blocks"
    shutil.copytree(DEFAULT_CATALOG_DIR, target)
    return target


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_id": "c-1",
        "rfm_segment": "champions",
        "lifetime_orders": 5,
        "lifetime_revenue": Decimal("250"),
        "days_since_last_order": 10,
        "is_vip": False,
        "pick_count": 3,
        "variant": "A",
        "campaign_id": "spring-24",
    }
    base.update(overrides)
    return base


def test_default_catalog_loads_with_every_block() -> None:
    catalog = load_catalog()
    assert catalog.slots == ("header", "hero", "body", "recommendations", "footer")
    assert {b.id for b in catalog.blocks} == {
        "greeting",
        "vip_offer",
        "win_back",
        "onboarding",
        "generic_fallback",
        "loyalty_message",
        "recommendations",
        "footer",
    }
    # cart and browse reminders wait for their mart columns
    assert set(catalog.disabled) == {"cart_reminder", "browse_reminder"}
    assert "cart_product_id" in catalog.disabled["cart_reminder"]


def test_blocks_switch_on_when_the_mart_gains_their_columns() -> None:
    catalog = load_catalog(known_columns=(*MART_COLUMNS, *CART_COLUMNS))
    assert "cart_reminder" not in catalog.disabled
    cart = catalog.block("cart_reminder")
    assert cart.slot == "hero" and cart.params["discount_code"] == "CART10"
    chosen, _ = catalog.select(
        row(cart_product_id="p-1", cart_product_name="Trail Runner")
    )
    assert [b.id for b in chosen][1] == "cart_reminder"


@pytest.mark.parametrize(
    ("changes", "expected_hero"),
    [
        ({"is_vip": True, "lifetime_revenue": Decimal("1000")}, "vip_offer"),
        ({"is_vip": True, "lifetime_revenue": Decimal("999.99")}, "generic_fallback"),
        ({"rfm_segment": "at_risk"}, "win_back"),
        ({"rfm_segment": "no_orders", "lifetime_orders": 0}, "onboarding"),
        ({"rfm_segment": "promising"}, "generic_fallback"),
    ],
)
def test_highest_priority_block_that_holds_wins(
    changes: dict[str, Any], expected_hero: str
) -> None:
    chosen, _ = load_catalog().select(row(**changes))
    assert {b.slot: b.id for b in chosen}["hero"] == expected_hero


def test_every_evaluated_block_is_recorded_with_rule_and_values() -> None:
    chosen, decisions = load_catalog().select(row(rfm_segment="at_risk"))
    assert [b.id for b in chosen] == [
        "greeting",
        "win_back",
        "recommendations",
        "footer",
    ]
    hero = [d for d in decisions if d.slot == "hero"]
    assert [(d.block_id, d.fired) for d in hero] == [
        ("vip_offer", False),
        ("win_back", True),
    ]  # evaluation stops at the first block that fires
    assert hero[0].rule == "is_vip and lifetime_revenue >= 1000"
    assert hero[0].values == {"is_vip": False, "lifetime_revenue": Decimal("250")}
    body = [d for d in decisions if d.slot == "body"]
    assert body[0].block_id == "loyalty_message" and not body[0].fired
    greeting = decisions[0]
    assert greeting.fired and greeting.rule == "fallback"


def test_no_recommendations_block_without_picks() -> None:
    chosen, _ = load_catalog().select(row(pick_count=0))
    assert "recommendations" not in [b.id for b in chosen]


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_unknown_column_names_the_file_and_suggests(catalog_dir: Path) -> None:
    path = catalog_dir / "vip_offer.yaml"
    _write(path, path.read_text().replace("lifetime_revenue >=", "lifetime_revnue >="))
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_dir)
    message = str(info.value)
    assert "vip_offer.yaml: unknown column 'lifetime_revnue'" in message
    assert "did you mean 'lifetime_revenue'?" in message


def test_known_columns_come_from_the_caller(catalog_dir: Path) -> None:
    columns = [c for c in MART_COLUMNS if c != "is_vip"]
    with pytest.raises(CatalogError, match=r"vip_offer\.yaml: unknown column 'is_vip'"):
        load_catalog(catalog_dir, known_columns=columns)


def test_missing_template_file(catalog_dir: Path) -> None:
    (catalog_dir / "templates" / "win_back.mjml.j2").unlink()
    with pytest.raises(CatalogError, match=r"win_back.yaml: template file .* exist"):
        load_catalog(catalog_dir)


@pytest.mark.parametrize("taken", ["holdout", "send_guard"])
def test_the_audits_own_block_ids_are_refused(catalog_dir: Path, taken: str) -> None:
    # the decision audit names its refusal and holdout rows so
    path = catalog_dir / "greeting.yaml"
    _write(path, path.read_text().replace("id: greeting", f"id: {taken}"))
    with pytest.raises(CatalogError, match=f"id '{taken}' is the decision audit's"):
        load_catalog(catalog_dir)


def test_slot_conflict(catalog_dir: Path) -> None:
    path = catalog_dir / "onboarding.yaml"
    _write(path, path.read_text().replace("priority: 60", "priority: 70"))
    with pytest.raises(
        CatalogError, match="slot conflict: 'win_back' and 'onboarding'"
    ):
        load_catalog(catalog_dir)


def test_condition_syntax_error(catalog_dir: Path) -> None:
    path = catalog_dir / "loyalty_message.yaml"
    _write(path, path.read_text().replace("lifetime_orders >= 2", "lifetime_orders >="))
    with pytest.raises(
        CatalogError, match=r"loyalty_message\.yaml: condition syntax error"
    ):
        load_catalog(catalog_dir)


def test_all_problems_are_reported_at_once(catalog_dir: Path) -> None:
    _write(
        catalog_dir / "extra.yaml",
        "id: extra\nslot: sidebar\npriority: high\ncondition: x ==\n"
        "template: templates/nope.mjml.j2\ntext_template: templates/nope.txt.j2\n"
        "colour: red\n",
    )
    _write(
        catalog_dir / "templates" / "bad.mjml.j2",
        "<mj-text>{{ customer.cart_total }} {{ secrets }}</mj-text>",
    )
    _write(catalog_dir / "templates" / "bad.txt.j2", "{% if %}")
    _write(
        catalog_dir / "bad.yaml",
        "id: bad\nslot: body\npriority: 1\ncondition: is_vip\n"
        "template: templates/bad.mjml.j2\ntext_template: templates/bad.txt.j2\n",
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_dir)
    problems = info.value.problems
    text = "\n".join(problems)
    assert "extra.yaml: unknown key(s) ['colour']" in text
    assert "bad.txt.j2: template syntax error" in text
    assert "bad.mjml.j2: unknown template variable 'secrets'" in text
    assert all(problem.startswith(str(catalog_dir)) for problem in problems)


def test_fallback_blocks_take_no_condition(catalog_dir: Path) -> None:
    path = catalog_dir / "footer.yaml"
    _write(path, path.read_text() + "condition: is_vip\n")
    with pytest.raises(CatalogError, match="a fallback block takes no 'condition'"):
        load_catalog(catalog_dir)


def test_subject_placeholders_are_checked(catalog_dir: Path) -> None:
    path = catalog_dir / "vip_offer.yaml"
    _write(
        path,
        path.read_text().replace("{first_name}, your", "{customer.__class__}, your"),
    )
    with pytest.raises(CatalogError, match="may only use the placeholder"):
        load_catalog(catalog_dir)


BROWSE_COLUMNS = tuple(column.replace("cart", "browse") for column in CART_COLUMNS)
EVERY_BLOCK = load_catalog(
    known_columns=(*MART_COLUMNS, *CART_COLUMNS, *BROWSE_COLUMNS)
)
maybe_text = st.one_of(st.none(), st.sampled_from(["", "p-1", "Shell"]))


@given(
    changes=st.fixed_dictionaries(
        {
            "rfm_segment": st.sampled_from(
                [None, "champions", "at_risk", "new_customers", "no_orders", "x"]
            ),
            "lifetime_orders": st.one_of(st.none(), st.integers(0, 3)),
            "lifetime_revenue": st.one_of(st.none(), st.decimals(0, 2000, places=2)),
            "days_since_last_order": st.one_of(st.none(), st.integers(0, 400)),
            "is_vip": st.one_of(st.none(), st.booleans()),
            "pick_count": st.integers(0, 3),
            **{column: maybe_text for column in (*CART_COLUMNS, *BROWSE_COLUMNS)},
        }
    )
)
def test_choosing_blocks_in_one_compiled_function_agrees_with_selecting_them(
    changes: dict[str, Any],
) -> None:
    chosen, _ = EVERY_BLOCK.select(row(**changes))
    assert EVERY_BLOCK.choose(row(**changes)) == chosen
