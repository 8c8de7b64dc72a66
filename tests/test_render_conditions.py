"""The block condition language: what marketers can write, and what it means."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.conditions import ConditionSyntaxError, parse_condition

ROW: dict[str, Any] = {
    "rfm_segment": "champions",
    "lifetime_revenue": Decimal("1200.50"),
    "lifetime_orders": 4,
    "is_vip": True,
    "first_name": None,
    "days_since_last_order": 12,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rfm_segment in ["champions", "loyal_customers"]', True),
        (
            'rfm_segment in ["champions","loyal_customers"] '
            "and lifetime_revenue > 1000",
            True,
        ),
        ("lifetime_revenue > 1200.5", False),
        ("lifetime_revenue >= 1200.50", True),
        ('rfm_segment not in ["at_risk"]', True),
        ("is_vip", True),
        ("not is_vip or lifetime_orders < 2", False),
        ("first_name is null", True),
        ("first_name is not null", False),
        ("first_name == null", False),  # comparisons with null are false, as in SQL
        ('first_name != "Ana"', False),
        ("missing_column > 3", False),
        ('lifetime_orders > "3"', False),  # incomparable types: false, not an error
        ("(lifetime_orders >= 4 and days_since_last_order <= 30) or false", True),
        ("is_vip = true", True),
        ("NOT is_vip", False),
        ("lifetime_orders in [1, 2, 4]", True),
        ("-1 < lifetime_orders", True),
    ],
)
def test_conditions_evaluate_like_sql(text: str, expected: bool) -> None:
    assert parse_condition(text)(ROW) is expected


def test_condition_reports_the_columns_and_values_it_reads() -> None:
    condition = parse_condition("is_vip and lifetime_revenue > 1000 and is_vip")
    assert condition.columns == ("is_vip", "lifetime_revenue")
    assert condition.values(ROW) == {
        "is_vip": True,
        "lifetime_revenue": Decimal("1200.50"),
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty condition"),
        ("lifetime_revenue >", "expected a column name"),
        ("rfm_segment in champions", "expected '[' to start a list"),
        ('__import__("os")', "expected 'and', 'or'"),
        ("customer.__class__", "unexpected character '.'"),
        ("a and (b or c", "expected ')'"),
        ("a in [b]", "expected a literal value"),
        ("a is 3", "expected 'null' after 'is'"),
        ("a; b", "unexpected character ';'"),
        ("not " * 40 + "a", "nested deeper than"),
    ],
)
def test_syntax_errors_point_at_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ConditionSyntaxError, match=re.escape(problem)) as info:
        parse_condition(text)
    assert "^" in str(info.value)


@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        condition = parse_condition(text)
    except ConditionSyntaxError:
        return
    assert isinstance(condition(ROW), bool)
