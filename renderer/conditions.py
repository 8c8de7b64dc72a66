"""A tiny, safe expression language for content-block conditions.

Marketers write conditions over personalization-mart columns, for instance::

    rfm_segment in ["champions", "loyal_customers"] and lifetime_revenue > 1000
    not is_vip and days_since_last_order >= 90
    first_name is not null and (r_score >= 4 or f_score >= 4)

The text is tokenised and parsed here into a small tree, which is compiled into a
Python function (generated from the tree: column names enter it quoted, literals
as constants; the text itself is never evaluated) and into SQL
(:meth:`Condition.sql`, for the decision audit built in the warehouse).

The grammar, loosest first::

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
value, or values of incomparable types, is false; ``is null`` tests for it. A
floating-point value is compared with a number in floating point, as SQL does
(``churn_probability >= 0.7`` holds for a stored 0.7, whose exact value is below
0.7), and NaN equals nothing and is ordered before or after nothing. A bare
column is true when its value is truthy (``is_vip``). ``=`` is accepted for ``==``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
# The parsed tree: ("or" | "and", parts), ("not", node), ("compare", op, left,
# right), ("in", operand, members, negate), ("is null", operand, negate) and
# ("truth", operand); an operand is ("column", name) or ("value", literal).
Operand = tuple[str, Any]
Node = tuple[Any, ...]

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
    """Recursive-descent parser producing a tree and the columns it reads."""

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

    # -- grammar: each rule returns a node of the condition's tree ------------------
    def parse(self) -> Node:
        node = self._or()
        if not self._is("end"):
            self._fail("expected 'and', 'or' or the end of the condition")
        return node

    def _or(self) -> Node:
        parts = [self._and()]
        while self._is("keyword", "or"):
            self._advance()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while self._is("keyword", "and"):
            self._advance()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def _not(self) -> Node:
        if self._is("keyword", "not"):
            self._advance()
            self._nest()
            inner = self._not()
            self.depth -= 1
            return ("not", inner)
        return self._comparison()

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._fail(f"nested deeper than {MAX_DEPTH} levels")

    def _comparison(self) -> Node:
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
            return ("compare", token.value, left, self._operand())
        if self._is("keyword", "not") or self._is("keyword", "in"):
            negate = self._is("keyword", "not")
            if negate:
                self._advance()
                if not self._is("keyword", "in"):
                    self._fail("expected 'in' after 'not'")
            self._advance()
            return ("in", left, self._list(), negate)
        if self._is("keyword", "is"):
            self._advance()
            negate = self._is("keyword", "not")
            if negate:
                self._advance()
            self._expect("keyword", "null", "'null' after 'is'")
            return ("is null", left, negate)
        return ("truth", left)

    def _operand(self) -> Operand:
        token = self.current
        if token.kind == "name":
            self._advance()
            name = token.value
            if name not in self.columns:
                self.columns.append(name)
            return ("column", name)
        if token.kind in ("number", "string"):
            self._advance()
            return ("value", token.value)
        if token.kind == "keyword" and token.value in _LITERALS:
            self._advance()
            return ("value", _LITERALS[token.value])
        if self._is("op", "["):
            return ("value", self._list())
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


def _predicate(node: Node) -> Predicate:
    """The tree compiled into a Python function of a row (see :func:`_source`)."""
    constants: dict[str, object] = {}
    body = _source(node, constants)
    namespace = {**condition_helpers(), **constants}
    code = f"def predicate(row):\n    get = row.get\n    return {body}\n"
    exec(compile(code, "<condition>", "exec"), namespace)
    return namespace["predicate"]  # type: ignore[return-value]


def _source(node: Node, constants: dict[str, object]) -> str:
    """Python source of a boolean expression for the tree, reading the row's
    columns through ``get`` and its literals from ``constants`` (filled here, by
    name). Only the tree is turned into code: column names and literals enter it
    as ``repr`` of a name matched by the tokeniser and as constants."""

    def operand(item: Operand) -> str:
        if item[0] == "column":
            return f"get({item[1]!r})"
        name = f"_k{len(constants)}"
        constants[name] = item[1]
        return name

    kind = node[0]
    if kind in ("or", "and"):
        return (
            "(" + f" {kind} ".join(_source(part, constants) for part in node[1]) + ")"
        )
    if kind == "not":
        return f"(not {_source(node[1], constants)})"
    if kind == "compare":
        helper = _COMPARE_HELPERS[node[1]]
        return f"{helper}({operand(node[2])}, {operand(node[3])})"
    if kind == "in":
        members = node[2]
        found = operand(("value", frozenset(members)))
        listed = operand(("value", members))
        return f"_member({operand(node[1])}, {found}, {listed}, {node[3]})"
    if kind == "is null":
        return f"({operand(node[1])} is {'not ' if node[2] else ''}None)"
    return f"bool({operand(node[1])})"


_NUMBERS = (bool, int, Decimal)


def _floats(a: Any, b: Any) -> tuple[Any, Any]:
    """``a`` and ``b``, both as floats when either is one and the other a number:
    a floating-point value is compared as SQL compares it, so a probability
    stored as 0.7 is ``>= 0.7`` (exactly, the double 0.7 is below 0.7)."""
    if type(a) is float and isinstance(b, _NUMBERS):
        return a, float(b)
    if type(b) is float and isinstance(a, _NUMBERS):
        return float(a), b
    return a, b


def _equal(a: object, b: object) -> bool:
    if a is None or b is None:
        return False
    a, b = _floats(a, b)
    return bool(a == b)


def _not_equal(a: object, b: object) -> bool:
    if a is None or b is None:
        return False
    a, b = _floats(a, b)
    return bool(a != b)


def _ordering(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def ordered(a: Any, b: Any) -> bool:
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            return False
        a, b = _floats(a, b)
        try:
            return bool(compare(a, b))
        except TypeError:  # e.g. a string compared with a number
            return False

    return ordered


def _member(
    value: object,
    hashable: frozenset[object],
    members: tuple[object, ...],
    negate: bool,
) -> bool:
    if value is None:
        return False
    if type(value) is float:  # compared with the numbers as floats
        found = any(value == float(m) for m in members if isinstance(m, _NUMBERS))
        return found != negate
    try:
        found = value in hashable
    except TypeError:  # unhashable value
        found = value in members
    return found != negate


_HELPERS: dict[str, object] = {
    "_equal": _equal,
    "_not_equal": _not_equal,
    "_less": _ordering(operator.lt),
    "_less_equal": _ordering(operator.le),
    "_greater": _ordering(operator.gt),
    "_greater_equal": _ordering(operator.ge),
    "_member": _member,
    "__builtins__": {"bool": bool},
}


def condition_helpers() -> dict[str, object]:
    """The names the sources of :meth:`Condition.source` call (and builtins
    limited to ``bool``), for a namespace to compile them in."""
    return dict(_HELPERS)


_COMPARE_HELPERS = {
    "==": "_equal",
    "!=": "_not_equal",
    "<": "_less",
    "<=": "_less_equal",
    ">": "_greater",
    ">=": "_greater_equal",
}


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
    predicate
        The condition compiled into a closure over a row.
    tree
        The parsed condition (see :data:`Node`), for :meth:`sql`.
    """

    text: str
    columns: tuple[str, ...]
    predicate: Predicate
    tree: Node = field(default=("truth", ("value", True)), compare=False, repr=False)

    def __call__(self, row: Row) -> bool:
        """Whether the condition holds for ``row`` (missing columns read as null)."""
        return self.predicate(row)

    def values(self, row: Row) -> dict[str, Any]:
        """The values of :attr:`columns` in ``row``, as the condition saw them."""
        return {column: row.get(column) for column in self.columns}

    def source(self, constants: dict[str, object]) -> str:
        """The condition as a Python expression over a row's ``get``, its
        literals added to ``constants`` by name, with the meaning of
        :attr:`predicate` (which is compiled from it), for callers that compile
        several conditions into one function (:meth:`Catalog.choose`)."""
        return _source(self.tree, constants)

    def sql(
        self, kinds: Mapping[str, str], column: Callable[[str], str] | None = None
    ) -> str:
        """The condition as a SQL boolean that is never null and holds exactly
        when :attr:`predicate` does for the same row.

        Parameters
        ----------
        kinds
            The :func:`value_kind` of every column the condition reads.
        column
            The SQL that reads a column, given its name (by default the name,
            quoted: :func:`quote_name`).

        Raises
        ------
        ValueError
            If a column it reads is missing from ``kinds`` or of a kind the
            language cannot compare in SQL (lists, structs ...).
        """
        return _sql(self.tree, kinds, column or quote_name)


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
    tree = parser.parse()
    return Condition(
        text=text,
        columns=tuple(parser.columns),
        predicate=_predicate(tree),
        tree=tree,
    )


# -- the same conditions in SQL ------------------------------------------------------
# A value's kind decides what it can be compared with, as Python decides it for the
# predicate: numbers with numbers (booleans count as 0 and 1 for equality only, and
# a floating-point value makes both sides floating point), text with text, dates
# with dates, timestamps with timestamps of the same kind. Values of different
# kinds are never equal, and never ordered. NaN equals nothing and is ordered
# before or after nothing, as in Python (DuckDB orders it last).
_EQUAL_KINDS = {
    "boolean": {"boolean", "number", "float"},
    "number": {"boolean", "number", "float"},
    "float": {"boolean", "number", "float"},
    "text": {"text"},
    "date": {"date"},
    "timestamp": {"timestamp"},
    "timestamptz": {"timestamptz"},
}
_NUMERIC_KINDS = frozenset({"number", "float"})
_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


def value_kind(warehouse_type: str) -> str:
    """The kind of a column's values, from its DuckDB type (``describe``):
    ``boolean``, ``number``, ``float`` (floating point), ``text``, ``date``,
    ``timestamp``, ``timestamptz``, or ``other``, which conditions can only test
    with ``is null`` in SQL."""
    name = warehouse_type.upper()
    if name == "BOOLEAN":
        return "boolean"
    if name in _INTEGER_TYPES or name.startswith("DECIMAL"):
        return "number"
    if name in ("DOUBLE", "FLOAT", "REAL"):
        return "float"
    if name == "VARCHAR":
        return "text"
    if name == "DATE":
        return "date"
    if name in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
        return "timestamp"
    if name == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    return "other"


def quote_name(name: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    """Text as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _literal_kind(value: object) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) is int or type(value) is Decimal:
        return "number"
    if type(value) is str:
        return "text"
    return "list"


def _literal_sql(value: object, kind: str) -> str:
    """A literal as SQL; booleans as 1 and 0 where numbers are compared."""
    if type(value) is bool:
        return ("1" if value else "0") if kind == "number" else str(value).lower()
    if type(value) is str:
        return quote_text(value)
    return str(value)


def _sql(node: Node, kinds: Mapping[str, str], column: Callable[[str], str]) -> str:
    kind = node[0]
    if kind in ("or", "and"):
        parts = (_sql(part, kinds, column) for part in node[1])
        return "(" + f" {kind} ".join(parts) + ")"
    if kind == "not":
        return f"(not {_sql(node[1], kinds, column)})"
    operands = [node[1]] if kind != "compare" else [node[2], node[3]]
    if all(operand[0] == "value" for operand in operands):
        return "true" if _predicate(node)({}) else "false"  # a constant
    found = [_operand_kind(operand, kinds) for operand in operands]
    if "other" in found and kind != "is null":
        names = ", ".join(repr(o[1]) for o in operands if o[0] == "column")
        raise ValueError(
            f"column {names} is of a type conditions can only test with 'is null' "
            "in SQL (lists, structs, times, UUIDs, intervals ...)"
        )
    if kind == "compare":
        return _compare_sql(node[1], operands, found, column)
    (operand,), (operand_kind,) = operands, found
    value = _operand_sql(operand, operand_kind, column)
    if kind == "is null":
        return f"({value} is {'not ' if node[2] else ''}null)"
    if kind == "truth":
        return {
            "boolean": f"coalesce({value}, false)",
            "number": f"coalesce({value} <> 0, false)",
            "float": f"coalesce({value} <> 0, false)",  # NaN is true, as in Python
            "text": f"coalesce({value} <> '', false)",
        }.get(operand_kind, f"({value} is not null)")
    members, negate = node[2], node[3]
    comparable = _EQUAL_KINDS.get(operand_kind, set())
    same = [m for m in members if _literal_kind(m) in comparable]
    if not same:
        return f"({value} is not null)" if negate else "false"
    common = (
        "number"
        if operand_kind in _NUMERIC_KINDS
        or any(_literal_kind(m) != operand_kind for m in same)
        else operand_kind
    )
    value = _operand_sql(operand, operand_kind, column, common)
    listed = ", ".join(_literal_sql(m, common) for m in same)
    return f"coalesce({value} {'not ' if negate else ''}in ({listed}), false)"


def _operand_kind(operand: Operand, kinds: Mapping[str, str]) -> str:
    if operand[0] == "value":
        return _literal_kind(operand[1])
    name = operand[1]
    if name not in kinds:
        raise ValueError(f"column {name!r} has no known type")
    return kinds[name]


def _operand_sql(
    operand: Operand,
    kind: str,
    column: Callable[[str], str],
    common: str | None = None,
) -> str:
    if operand[0] == "value":
        return _literal_sql(operand[1], common or kind)
    value = column(operand[1])
    if kind == "boolean" and common == "number":
        return f"cast({value} as integer)"
    if kind == "float":  # REAL too: DuckDB would compare it in single precision
        return f"cast({value} as double)"
    return value


def _compare_sql(
    operator: str,
    operands: list[Operand],
    kinds: list[str],
    column: Callable[[str], str],
) -> str:
    left_kind, right_kind = kinds
    if "null" in kinds:
        return "false"
    numeric = left_kind in _NUMERIC_KINDS and right_kind in _NUMERIC_KINDS
    if operator in ("==", "!="):
        comparable = right_kind in _EQUAL_KINDS.get(left_kind, set())
    else:
        comparable = numeric or (
            left_kind == right_kind
            and left_kind in _EQUAL_KINDS
            and left_kind != "boolean"
        )
    sides = [_operand_sql(o, k, column) for o, k in zip(operands, kinds, strict=True)]
    if not comparable:
        if operator != "!=":
            return "false"
        read = [
            side for side, o in zip(sides, operands, strict=True) if o[0] != "value"
        ]
        return "(" + " and ".join(f"{side} is not null" for side in read) + ")"
    if left_kind != right_kind:  # a boolean and a number: compare as numbers
        sides = [
            _operand_sql(o, k, column, "number")
            for o, k in zip(operands, kinds, strict=True)
        ]
    sql_operator = {"==": "=", "!=": "<>"}.get(operator, operator)
    nans = [f"isnan({s})" for s, k in zip(sides, kinds, strict=True) if k == "float"]
    compared = f"{sides[0]} {sql_operator} {sides[1]}"
    if not nans:
        return f"coalesce({compared}, false)"
    if operator == "!=":  # NaN differs from everything, itself included
        present = f"{sides[0]} is not null and {sides[1]} is not null"
        return f"coalesce({present} and ({compared} or {' or '.join(nans)}), false)"
    clean = " and ".join(f"not {nan}" for nan in nans)
    return f"coalesce({compared} and {clean}, false)"
