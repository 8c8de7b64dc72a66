"""The block condition language: what marketers can write, and what it means."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.conditions import ConditionSyntaxError, parse_condition, value_kind

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


# Columns of every kind the SQL form compares, with their DuckDB types.
TYPED = {
    "flag": "BOOLEAN",
    "count": "BIGINT",
    "amount": "DECIMAL(18,2)",
    "score": "DOUBLE",
    "ratio": "REAL",
    "label": "VARCHAR",
    "day": "DATE",
    "seen_at": "TIMESTAMP",
}
# Floating-point values near the literals (0.7 stored as a double is below 0.7,
# and compares as equal to it, as in SQL), NaN and single-precision values.
VALUES = {
    "flag": st.booleans(),
    "count": st.integers(-3, 3),
    "amount": st.decimals("-3", "3", places=2),
    "score": st.one_of(
        st.decimals("-3", "3", places=2).map(float),
        st.sampled_from([float("nan"), 0.1 + 0.2, 2.9999999999999996]),
    ),
    "ratio": st.floats(-3, 3, width=32),
    "label": st.text(
        st.characters(blacklist_categories=("Cs",), min_codepoint=1), max_size=3
    ),
    "day": st.dates(),
    "seen_at": st.datetimes(),
}
LITERALS = st.one_of(
    st.integers(-3, 3).map(str),
    st.decimals("-3", "3", places=2).map(str),
    st.sampled_from(['"a"', '""', '"1"', '"2026-01-01"', "true", "false", "null"]),
)


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> str:
    operand = st.one_of(st.sampled_from(sorted(TYPED)), LITERALS)
    choice = draw(st.integers(0, 6 if depth < 2 else 3))
    left = draw(operand)
    if choice == 0:
        operator = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"{left} {operator} {draw(operand)}"
    if choice == 1:
        members = ", ".join(draw(st.lists(LITERALS, max_size=3)))
        return f"{left} {draw(st.sampled_from(['in', 'not in']))} [{members}]"
    if choice == 2:
        return f"{left} is {draw(st.sampled_from(['', 'not ']))}null"
    if choice == 3:
        return left
    if choice == 4:
        return f"not ({draw(conditions(depth + 1))})"
    joiner = "and" if choice == 5 else "or"
    return f"({draw(conditions(depth + 1))}) {joiner} ({draw(conditions(depth + 1))})"


@given(
    text=conditions(),
    rows=st.lists(
        st.fixed_dictionaries(
            {name: st.one_of(st.none(), values) for name, values in VALUES.items()}
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_the_sql_form_holds_exactly_when_the_predicate_does(
    text: str, rows: list[dict[str, Any]]
) -> None:
    condition = parse_condition(text)
    kinds = {name: value_kind(kind) for name, kind in TYPED.items()}
    columns = ", ".join(f"{name} {kind}" for name, kind in TYPED.items())
    with duckdb.connect() as con:
        con.execute(f"create table rows (position integer, {columns})")
        con.executemany(
            f"insert into rows values (?, {', '.join('?' for _ in TYPED)})",
            [[index, *(row[name] for name in TYPED)] for index, row in enumerate(rows)],
        )
        found = con.execute(
            f"select {condition.sql(kinds)} from rows order by position"
        ).fetchall()
    assert [value for (value,) in found] == [condition(row) for row in rows], text


def test_columns_of_other_types_can_only_be_tested_for_null_in_sql() -> None:
    kinds = {"tags": value_kind("VARCHAR[]")}
    assert parse_condition("tags is not null").sql(kinds) == '("tags" is not null)'
    with pytest.raises(ValueError, match=r"'tags'.*only test with 'is null'"):
        parse_condition("tags == 1").sql(kinds)
    with pytest.raises(ValueError, match="'other' has no known type"):
        parse_condition("other > 1").sql({})


def test_a_floating_point_value_compares_with_numbers_as_floating_point() -> None:
    # exactly, the double 0.7 is below 0.7: a marketer means the value shown
    row = {"churn_probability": 0.7, "nan": float("nan")}
    assert parse_condition("churn_probability >= 0.7")(row)
    assert parse_condition("churn_probability == 0.7")(row)
    assert parse_condition("churn_probability in [0.7, 1]")(row)
    assert not parse_condition("nan > 0.5 or nan == nan or nan in [1]")(row)
    assert parse_condition("nan != nan and nan")(row)
