"""A tiny, safe expression language for content-block conditions.

Marketers write conditions over personalization-mart columns, for instance::

    rfm_segment in ["champions", "loyal_customers"] and lifetime_revenue > 1000
    not is_vip and days_since_last_order >= 90
    first_name is not null and (r_score >= 4 or f_score >= 4)

The text is tokenised and parsed here into a small tree, then compiled into plain
Python closures; nothing is ever passed to ``eval``. The grammar, loosest first::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand [ ("==" | "!=" | "<" | "<=" | ">" | ">=") operand
                          | ["not"] "in" list
                          | "is" ["not"] "null" ]
    operand    := column | number | string | "true" | "false" | "null"
                | list | "(" expr ")"
    list       := "[" [literal ("," literal)*] "]"

Semantics follow SQL where it matters: a comparison that involves a null (``None``)
value, or values of incomparable types, is false; ``is null`` tests for it. A bare
column is true when its value is truthy (``is_vip``). ``=`` is accepted for ``==``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|=|\(|\)|\[|\]|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None}
MAX_LENGTH = 2_000
MAX_DEPTH = 32


class ConditionSyntaxError(ValueError):
    """A condition is not valid in the expression language.

    Attributes
    ----------
    text
        The condition as written.
    position
        0-based character offset of the problem.
    """

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text = text
        self.position = position
        self.problem = problem
        pointer = " " * position + "^"
        super().__init__(
            f"{problem} at character {position + 1}:\n  {text}\n  {pointer}"
        )


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "op", "name", "keyword", "end"
    value: Any
    position: int


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConditionSyntaxError(
                text, position, f"unexpected character {text[position]!r}"
            )
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "number":
            value: Any = Decimal(raw) if "." in raw else int(raw)
            tokens.append(_Token("number", value, position))
        elif kind == "string":
            body = raw[1:-1]
            value = re.sub(r"\\(.)", r"\1", body)
            tokens.append(_Token("string", value, position))
        elif kind == "op":
            tokens.append(_Token("op", "==" if raw == "=" else raw, position))
        elif kind == "name":
            lowered = raw.lower()
            if lowered in KEYWORDS:
                tokens.append(_Token("keyword", lowered, position))
            else:
                tokens.append(_Token("name", raw, position))
        position = match.end()
    tokens.append(_Token("end", None, len(text)))
    return tokens


class _Parser:
    """Recursive-descent parser producing closures and the columns they read."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenise(text)
        self.index = 0
        self.columns: list[str] = []
        self.depth = 0

    # -- token helpers -------------------------------------------------------------
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _is(self, kind: str, value: object = None) -> bool:
        token = self.current
        return token.kind == kind and (value is None or token.value == value)

    def _expect(self, kind: str, value: object, what: str) -> _Token:
        if not self._is(kind, value):
            self._fail(f"expected {what}")
        return self._advance()

    def _fail(self, problem: str) -> None:
        token = self.current
        found = "end of condition" if token.kind == "end" else repr(str(token.value))
        raise ConditionSyntaxError(
            self.text, token.position, f"{problem}, found {found}"
        )

    # -- grammar -------------------------------------------------------------------
    def parse(self) -> Predicate:
        predicate = self._or()
        if not self._is("end"):
            self._fail("expected 'and', 'or' or the end of the condition")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._is("keyword", "or"):
            self._advance()
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda row: any(part(row) for part in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._is("keyword", "and"):
            self._advance()
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda row: all(part(row) for part in parts)

    def _not(self) -> Predicate:
        if self._is("keyword", "not"):
            self._advance()
            self._nest()
            inner = self._not()
            self.depth -= 1
            return lambda row: not inner(row)
        return self._comparison()

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._fail(f"nested deeper than {MAX_DEPTH} levels")

    def _comparison(self) -> Predicate:
        if self._is("op", "("):
            self._advance()
            self._nest()
            inner = self._or()
            self._expect("op", ")", "')'")
            self.depth -= 1
            return inner
        left = self._operand()
        token = self.current
        if token.kind == "op" and token.value in _COMPARISONS:
            self._advance()
            right = self._operand()
            return _compare(token.value, left, right)
        if self._is("keyword", "not") or self._is("keyword", "in"):
            negate = self._is("keyword", "not")
            if negate:
                self._advance()
                if not self._is("keyword", "in"):
                    self._fail("expected 'in' after 'not'")
            self._advance()
            members = self._list()
            return _membership(left, members, negate)
        if self._is("keyword", "is"):
            self._advance()
            negate = self._is("keyword", "not")
            if negate:
                self._advance()
            self._expect("keyword", "null", "'null' after 'is'")
            if negate:
                return lambda row: left(row) is not None
            return lambda row: left(row) is None
        return lambda row: bool(left(row))

    def _operand(self) -> Callable[[Row], Any]:
        token = self.current
        if token.kind == "name":
            self._advance()
            name = token.value
            if name not in self.columns:
                self.columns.append(name)
            return lambda row: row.get(name)
        if token.kind in ("number", "string"):
            self._advance()
            value = token.value
            return lambda row: value
        if token.kind == "keyword" and token.value in _LITERALS:
            self._advance()
            literal = _LITERALS[token.value]
            return lambda row: literal
        if self._is("op", "["):
            members = self._list()
            return lambda row: members
        self._fail("expected a column name, a number, a string, true, false or null")
        raise AssertionError("unreachable")  # pragma: no cover

    def _list(self) -> tuple[object, ...]:
        self._expect("op", "[", "'[' to start a list")
        members: list[object] = []
        while not self._is("op", "]"):
            token = self.current
            if token.kind in ("number", "string"):
                members.append(token.value)
            elif token.kind == "keyword" and token.value in _LITERALS:
                members.append(_LITERALS[token.value])
            else:
                self._fail("expected a literal value in the list")
            self._advance()
            if self._is("op", ","):
                self._advance()
            elif not self._is("op", "]"):
                self._fail("expected ',' or ']' in the list")
        self._advance()
        return tuple(members)


def _compare(
    operator: str, left: Callable[[Row], Any], right: Callable[[Row], Any]
) -> Predicate:
    if operator == "==":
        return lambda row: _equal(left(row), right(row))
    if operator == "!=":
        return lambda row: _not_equal(left(row), right(row))

    def ordered(row: Row) -> bool:
        a, b = left(row), right(row)
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            return False
        try:
            if operator == "<":
                return bool(a < b)
            if operator == "<=":
                return bool(a <= b)
            if operator == ">":
                return bool(a > b)
            return bool(a >= b)
        except TypeError:  # e.g. a string compared with a number
            return False

    return ordered


def _equal(a: object, b: object) -> bool:
    if a is None or b is None:
        return False
    return bool(a == b)


def _not_equal(a: object, b: object) -> bool:
    if a is None or b is None:
        return False
    return bool(a != b)


def _membership(
    left: Callable[[Row], Any], members: tuple[object, ...], negate: bool
) -> Predicate:
    hashable = frozenset(members)

    def check(row: Row) -> bool:
        value = left(row)
        if value is None:
            return False
        try:
            found = value in hashable
        except TypeError:  # unhashable value
            found = value in members
        return found != negate

    return check


@dataclass(frozen=True)
class Condition:
    """A parsed condition: its text, the columns it reads and its predicate.

    Use :func:`parse_condition` to build one.

    Attributes
    ----------
    text
        The condition as written.
    columns
        The column names it reads, in order of first appearance.
    """

    text: str
    columns: tuple[str, ...]
    predicate: Predicate

    def __call__(self, row: Row) -> bool:
        """Whether the condition holds for ``row`` (missing columns read as null)."""
        return self.predicate(row)

    def values(self, row: Row) -> dict[str, Any]:
        """The values of :attr:`columns` in ``row``, as the condition saw them."""
        return {column: row.get(column) for column in self.columns}


ALWAYS = Condition(text="true", columns=(), predicate=lambda row: True)


def parse_condition(text: str) -> Condition:
    """Parse a condition written in the block expression language.

    Parameters
    ----------
    text
        The condition, e.g. ``'is_vip and lifetime_revenue > 1000'``.

    Returns
    -------
    Condition
        The parsed condition.

    Raises
    ------
    ConditionSyntaxError
        If the text is empty, too long or not valid; the message points at the spot.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConditionSyntaxError(str(text), 0, "empty condition")
    if len(text) > MAX_LENGTH:
        raise ConditionSyntaxError(
            text[:80], 0, f"condition longer than {MAX_LENGTH} characters"
        )
    text = text.strip()
    parser = _Parser(text)
    predicate = parser.parse()
    return Condition(text=text, columns=tuple(parser.columns), predicate=predicate)
