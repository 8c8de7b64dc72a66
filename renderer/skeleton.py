"""Render Jinja templates by filling skeletons kept per shape of their context.

Most of an email is the same for every recipient who gets the same blocks: only
the values printed by ``{{ ... }}`` differ. :class:`Skeletons` reads the templates'
syntax trees once and sorts every context value they read:

* *printed* only (``{{ customer.first_name }}``): a slot, filled per recipient;
* *tested* for truth (``{% if item.url %}``), and maybe printed: its truth belongs
  to the shape; when true and printed, it is a slot;
* read any other way (compared, filtered, passed to a call ...), or a printed
  value whose parts are read too: its value belongs to the shape; a list that is
  looped over: its length belongs to the shape.

The first recipient of each shape is rendered by Jinja with a sentinel in every
slot, and the output, split at the sentinels, is kept as that shape's skeleton;
later recipients of the shape cost escaping their slot values and joining. The
first recipient of a shape is also rendered the ordinary way and compared: if a
construct the analysis misjudged makes them differ, the templates fall back to
ordinary rendering for good, so an email never depends on the shortcut.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, cast

import orjson
from jinja2 import Template, nodes
from markupsafe import escape

from renderer.text import is_plain_line, tidy_pieces, tidy_text

log = logging.getLogger(__name__)

# Shapes kept; recipients of further shapes are rendered by Jinja.
MAX_SHAPES = 4_096
# Encoded slot values kept before the store starts afresh.
MAX_ENCODINGS: Final = 65_536

# NUL and SOH never reach a rendered value (``renderer.text.clean_line`` replaces
# control characters), and a value holding them anyway only costs a fallback:
# the first render of every shape is compared with Jinja's.
_SENTINEL: Final = re.compile("\x00([0-9]+)\x01")
_EACH: Final = "[]"  # the path step for every element of a list


def _escape(value: Any) -> str:
    """What Jinja's autoescape prints for ``value``: :func:`markupsafe.escape`,
    with plain strings (most slots) escaped by ``str.replace`` alone, which
    gives the same text without building a ``Markup`` per slot."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("'", "&#39;")
            .replace('"', "&#34;")
        )
    return escape(value)


class _Unsupported(Exception):
    """The template uses a statement the analysis does not follow."""


class _Missing:
    """Marks a key a context dict lacks, in a shape."""


_MISSING: Final = _Missing()
_LOCAL: Final[tuple[object, ...]] = ("<local>",)  # a value the template computed itself
_PLAIN: Final = frozenset({str, int, bool, type(None)})


@dataclass
class _Use:
    """How the template reads one path of its context (and the paths below)."""

    printed: bool = False
    tested: bool = False
    whole: bool = False
    looped: bool = False
    children: dict[object, _Use] = field(default_factory=dict)


def _path(node: nodes.Node, scope: dict[str, tuple | None]) -> tuple | None:
    """The context path ``node`` reads (``("blocks", "footer", "links")``), or
    ``None`` if it is not a plain chain of names, attributes and constant keys."""
    keys: list[object] = []
    while True:
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and type(node.arg.value) is str
        ):
            keys.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            base = scope.get(node.name, (node.name,))
            if base is None or base is _LOCAL:
                return _LOCAL
            return (*base, *reversed(keys))
        else:
            return None


def analyse(tree: nodes.Template, root: _Use) -> None:
    """Record in ``root`` the uses of every context path in a parsed template.

    Raises
    ------
    _Unsupported
        If the template holds statements other than output, ``if``, ``with`` and
        plain ``for`` loops (macros, assignments, includes, filters blocks ...).
    """

    def mark(node: nodes.Node, scope: dict, how: str) -> bool:
        path = _path(node, scope)
        if path is None:
            return False
        if path is not _LOCAL:
            use = root
            for key in path:
                use = use.children.setdefault(key, _Use())
            setattr(use, how, True)
        return True

    def read(expression: nodes.Node, scope: dict) -> None:
        if not mark(expression, scope, "whole"):
            for child in expression.iter_child_nodes():
                read(child, scope)

    def test(expression: nodes.Node, scope: dict) -> None:
        if isinstance(expression, nodes.Not):
            expression = expression.node
        if not mark(expression, scope, "tested"):
            read(expression, scope)

    def body(statements: list[nodes.Node], scope: dict) -> None:
        for node in statements:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if not isinstance(child, nodes.TemplateData) and not mark(
                        child, scope, "printed"
                    ):
                        read(child, scope)
            elif isinstance(node, nodes.If):
                for branch in (node, *node.elif_):
                    test(branch.test, scope)
                    body(branch.body, scope)
                body(node.else_, scope)
            elif isinstance(node, nodes.With):
                inner = dict(scope)
                for target, value in zip(node.targets, node.values, strict=True):
                    if not isinstance(target, nodes.Name):
                        raise _Unsupported("with unpacking")
                    path = _path(value, scope)
                    if path is None:
                        read(value, scope)
                        path = _LOCAL
                    inner[target.name] = path
                body(node.body, inner)
            elif isinstance(node, nodes.For):
                if node.test is not None or node.recursive:
                    raise _Unsupported("for with a filter or recursion")
                if not isinstance(node.target, nodes.Name):
                    raise _Unsupported("for unpacking")
                path = _path(node.iter, scope)
                if path is None:
                    read(node.iter, scope)
                    each = _LOCAL
                elif path is _LOCAL:
                    each = _LOCAL
                else:
                    # the loop's length belongs to the shape, even when the body
                    # reads nothing of the items
                    mark(node.iter, scope, "looped")
                    each = (*path, _EACH)
                    use = root
                    for key in each:
                        use = use.children.setdefault(key, _Use())
                body(node.body, {**scope, node.target.name: each, "loop": _LOCAL})
                body(node.else_, scope)
            else:
                raise _Unsupported(type(node).__name__)

    body(tree.body, {})


def _frozen(value: object) -> object:
    """A hashable stand-in for a value that belongs to the shape as is.

    Equal values can print differently (``1`` and ``True``, ``Decimal("1.0")`` and
    ``Decimal("1.00")``), so the stand-in holds the type, and the repr unless
    the type is plain.
    """
    kind = type(value)
    if kind in _PLAIN:
        return (kind, value)
    if kind is dict:
        mapping = cast("dict[object, object]", value)
        return (kind, tuple((key, _frozen(item)) for key, item in mapping.items()))
    if kind is list or kind is tuple:
        return (kind, tuple(_frozen(item) for item in cast("Sequence[object]", value)))
    return (kind, repr(value))


def _shape(value: Any, use: _Use, key: list, slots: list) -> Any:
    """The value the skeleton is rendered with, for one path of the context.

    Appends what the skeleton depends on to ``key`` and the values printed into
    slots to ``slots``. Every branch taken is decided by something appended first,
    so equal keys mean equal skeletons. :func:`_walk` walks the same way without
    building the value; the two are compared on every new shape.
    """
    if use.whole or (use.printed and use.children):
        key.append(_frozen(value))
        return value
    if not use.children:
        if use.tested:
            if not value:
                key.append(_frozen(value))
                return value
            key.append(True)
        if use.printed:
            slots.append(value)
            return f"\x00{len(slots) - 1}\x01"
        return value
    kind = type(value)
    key.append(kind)
    if use.tested:
        key.append(bool(value))
    if kind is dict and _EACH not in use.children:
        shaped = {}
        for name, child in use.children.items():
            if name in value:
                shaped[name] = _shape(value[name], child, key, slots)
            else:
                key.append((name, _MISSING))
        return shaped
    if kind is list and list(use.children) == [_EACH]:
        key.append(len(value))
        each = use.children[_EACH]
        return [_shape(item, each, key, slots) for item in value]
    key.append(_frozen(value))
    return value


def _walk(use: _Use, value: object, key: list, slots: list) -> None:
    """:func:`_shape` without building the shaped value: the per-recipient part.

    Compiled (``setup.py``), it executes as many instructions as the straight-line
    Python that was generated per use tree before (``exec``), with no code made
    at run time.
    """
    children = use.children
    if use.whole or (use.printed and children):
        key.append(_frozen(value))
        return
    if not children:
        if use.tested:
            if not value:
                key.append(_frozen(value))
                return
            key.append(True)
        if use.printed:
            slots.append(value)
        return
    kind = type(value)
    key.append(kind)
    if use.tested:
        key.append(bool(value))
    each = children.get(_EACH)
    if kind is dict and each is None:
        mapping = cast("dict[object, object]", value)
        for name, child in children.items():
            if name in mapping:
                _walk(child, mapping[name], key, slots)
            else:
                key.append((name, _MISSING))
        return
    if kind is list and each is not None and len(children) == 1:
        items = cast("list[object]", value)
        key.append(len(items))
        for item in items:
            _walk(each, item, key, slots)
        return
    key.append(_frozen(value))


class _Skeleton(NamedTuple):
    """A shape's output: static text (also as JSON string bodies) alternating
    with slot numbers: ``texts[0] slot[0] texts[1] ... texts[-1]``; ``tidied``
    holds the texts as :func:`renderer.text.tidy_pieces` gives them, for
    templates whose output is tidied."""

    texts: tuple[str, ...]
    json: tuple[bytes, ...]
    slots: tuple[int, ...]
    tidied: tuple[str, ...] | None = None


def json_body(text: str) -> bytes:
    """``text`` as the inside of a JSON string, as :func:`renderer.outbox.dumps`
    writes it (``orjson`` escapes the same characters: quote, backslash, C0).

    Raises
    ------
    UnicodeEncodeError
        If the text holds a lone surrogate (no UTF-8 for it), naming where.
    """
    try:
        return orjson.dumps(text)[1:-1]
    except orjson.JSONEncodeError:
        text.encode("utf-8")  # raises the error that says where
        raise


def _split(output: str, tidy: bool = False) -> _Skeleton:
    parts = _SENTINEL.split(output)
    texts = tuple(parts[0::2])
    return _Skeleton(
        texts,
        tuple(json_body(text) for text in texts),
        tuple(int(number) for number in parts[1::2]),
        tidy_pieces(texts) if tidy else None,
    )


class Skeletons:
    """Templates rendered together from one context, through skeletons kept per
    shape of that context.

    Parameters
    ----------
    templates
        ``(template, source)`` pairs, e.g. an email's HTML and text templates; the
        sources are parsed once here to learn what the templates read.
    tidy
        Per template, whether its output is given through
        :func:`renderer.text.tidy_text` (a plain-text part). A skeleton keeps its
        static text tidied too, so that a recipient whose values are plain lines
        costs no tidying.

    Notes
    -----
    :meth:`render` gives exactly what each ``template.render(context)`` gives
    (tidied where asked), or ``None`` when the caller should render with Jinja:
    for templates the analysis cannot follow, for shapes beyond
    :data:`MAX_SHAPES`, and for good once a skeleton was found to differ from
    Jinja's output.
    """

    def __init__(
        self,
        templates: Sequence[tuple[Template, str]],
        tidy: Sequence[bool] | None = None,
    ) -> None:
        self.templates = [template for template, _ in templates]
        self._tidy = tuple(tidy) if tidy is not None else (False,) * len(templates)
        if len(self._tidy) != len(self.templates):
            raise ValueError("tidy needs one flag per template")
        self._to_text: list[Callable[[Any], str]] = []
        for template in self.templates:
            autoescape = template.environment.autoescape
            if callable(autoescape):
                autoescape = autoescape(template.name)
            self._to_text.append(_escape if autoescape else str)
        self._skeletons: dict[tuple, tuple[_Skeleton, ...]] = {}
        # Per template: escaped and encoded forms of string slot values, for
        # templates whose output is asked for as bytes.
        self._encodings: list[dict[str, bytes]] = [{} for _ in self.templates]
        self._use: _Use | None = _Use()
        try:
            for template, source in templates:
                if template.environment.finalize is not None:
                    raise _Unsupported("the environment has a finalize function")
                analyse(template.environment.parse(source), self._use)
        except _Unsupported as reason:
            log.info("templates render without skeletons: %s", reason)
            self._use = None

    @property
    def specialised(self) -> bool:
        """Whether skeletons are in use."""
        return self._use is not None

    @property
    def shapes(self) -> int:
        """Skeletons kept so far (one per shape, for all templates)."""
        return len(self._skeletons)

    def render(
        self, context: dict[str, Any], encoded: Sequence[bool]
    ) -> list[str | bytes] | None:
        """Every template's output for ``context``, in order, or ``None``.

        Parameters
        ----------
        context
            The template context.
        encoded
            Per template: ``True`` gives its output as the body of a JSON string
            (UTF-8 bytes, as :func:`renderer.outbox.dumps` escapes text),
            ``False`` as text.
        """
        use = self._use
        if use is None:
            return None
        key: list = []
        slots: list = []
        _walk(use, context, key, slots)
        frozen = tuple(key)
        skeletons = self._skeletons.get(frozen)
        if skeletons is None:
            skeletons = self._new_shape(context, frozen, slots)
            if skeletons is None:
                return None
        outputs: list[str | bytes] = []
        for skeleton, to_text, as_bytes, encodings in zip(
            skeletons, self._to_text, encoded, self._encodings, strict=True
        ):
            if skeleton.tidied is not None:
                text = _fill_tidied(skeleton, slots, to_text)
                outputs.append(json_body(text) if as_bytes else text)
                continue
            if not as_bytes:
                outputs.append(_fill(skeleton, slots, to_text))
                continue
            body = skeleton.json
            pieces = [body[0]]
            if len(encodings) > MAX_ENCODINGS:
                encodings.clear()
            for index, slot in enumerate(skeleton.slots, 1):
                value = slots[slot]
                # most slot values recur (copy, product names and prices): their
                # escaped, encoded forms are kept, keyed by the exact string
                known = encodings.get(value) if type(value) is str else None
                if known is None:
                    known = json_body(to_text(value))
                    if type(value) is str:
                        encodings[value] = known
                pieces.append(known)
                pieces.append(body[index])
            outputs.append(b"".join(pieces))
        return outputs

    def _new_shape(
        self, context: dict[str, Any], frozen: tuple, slots: list
    ) -> tuple[_Skeleton, ...] | None:
        """Render a new shape's skeletons, checked against Jinja, and keep them."""
        use = self._use
        if use is None or len(self._skeletons) >= MAX_SHAPES:
            return None
        key: list = []
        shaped_slots: list = []
        shaped = _shape(context, use, key, shaped_slots)
        same = tuple(key) == frozen and len(shaped_slots) == len(slots)
        same = same and all(a is b for a, b in zip(shaped_slots, slots, strict=True))
        skeletons = tuple(
            _split(each.render(shaped), tidy)
            for each, tidy in zip(self.templates, self._tidy, strict=True)
        )
        for skeleton, template, to_text in zip(
            skeletons, self.templates, self._to_text, strict=True
        ):
            try:
                filled = _fill(skeleton, slots, to_text) if same else None
                tidied = (
                    _fill_tidied(skeleton, slots, to_text)
                    if same and skeleton.tidied is not None
                    else None
                )
            except IndexError:  # a sentinel-like value in the data named no slot
                filled = tidied = None
            expected = template.render(context)
            if filled != expected or (
                skeleton.tidied is not None and tidied != tidy_text(expected)
            ):
                log.warning(
                    "%s: a skeleton differs from Jinja's output; rendering "
                    "without skeletons from now on",
                    template.name,
                )
                self._use = None
                return None
        self._skeletons[frozen] = skeletons
        return skeletons


def _fill(skeleton: _Skeleton, slots: list, to_text: Callable[[Any], str]) -> str:
    """The skeleton's text with the slots' values filled in."""
    texts = skeleton.texts
    pieces = [texts[0]]
    for index, slot in enumerate(skeleton.slots, 1):
        pieces.append(to_text(slots[slot]))
        pieces.append(texts[index])
    return "".join(pieces)


def _fill_tidied(
    skeleton: _Skeleton, slots: list, to_text: Callable[[Any], str]
) -> str:
    """:func:`renderer.text.tidy_text` of the filled skeleton: its tidied texts
    joined with the values when every value is a plain line, else the long way."""
    values = [to_text(slots[slot]) for slot in skeleton.slots]
    if not all(map(is_plain_line, values)):
        return tidy_text(_fill(skeleton, slots, to_text))
    texts = skeleton.tidied
    assert texts is not None
    pieces = [texts[0]]
    for index, value in enumerate(values, 1):
        pieces.append(value)
        pieces.append(texts[index])
    return "".join(pieces)
