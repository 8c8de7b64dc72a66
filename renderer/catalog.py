"""The content-block catalog: which block goes in which slot of the email, and when.

A catalog is a folder a marketer can read and edit (``renderer/blocks/`` by default):

- ``catalog.yaml`` names the slots in the order they appear in the email and the
  MJML layout the blocks are placed into;
- one ``<block>.yaml`` per block: ``id``, ``slot``, ``priority``, ``condition`` (see
  :mod:`renderer.conditions`) or ``fallback: true``, the ``template`` (an MJML + Jinja
  fragment) and ``text_template`` (its plain-text twin), optional ``subject``,
  ``subject_anonymous``, ``preheader``, ``params`` (e.g. a discount code), ``links``
  and ``images``;
- the templates, in ``templates/``.

Selection, per slot: the highest-priority block whose condition holds, else the slot's
fallback block, else nothing. Every block evaluated is recorded as a
:class:`Decision` (fired or not, the rule text, the values it saw).

Everything is validated when the catalog loads, and all problems are reported at once
in one :class:`CatalogError`, each naming its file: unknown columns (checked against
the mart columns actually present), condition syntax errors, missing or invalid
templates, slot conflicts (two blocks with the same slot and priority), unknown keys.
A block that sets ``if_columns_missing: disable`` is switched off (and listed in
:attr:`Catalog.disabled`) instead of failing when the mart lacks a column it reads;
it switches on by itself once the mart gains the column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from renderer.conditions import (
    ALWAYS,
    Condition,
    ConditionSyntaxError,
    condition_helpers,
    parse_condition,
)

DEFAULT_CATALOG_DIR = Path(__file__).parent / "blocks"
CATALOG_FILE = "catalog.yaml"

# Columns of marts.personalization today; pass ``known_columns`` to load_catalog to
# validate against the columns actually present in the warehouse.
MART_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "rfm_segment",
    "cluster_name",
    "preferred_category",
    "r_score",
    "f_score",
    "m_score",
    "lifetime_orders",
    "lifetime_revenue",
    "currency",
    "days_since_last_order",
    "is_vip",
    "as_of_date",
    "last_order_at",
)
# Columns the renderer adds to every row before conditions are evaluated.
CONTEXT_COLUMNS: tuple[str, ...] = ("campaign_id", "variant", "pick_count")

# Names a block template may read; ``customer.<column>`` is checked against columns.
TEMPLATE_VARIABLES = frozenset(
    {"customer", "block", "items", "campaign", "subject", "preheader", "variant"}
    | {"first_name", "copy"}
)

_BLOCK_KEYS = frozenset(
    {
        "id",
        "slot",
        "priority",
        "condition",
        "fallback",
        "template",
        "text_template",
        "subject",
        "subject_anonymous",
        "preheader",
        "params",
        "links",
        "images",
        "description",
        "if_columns_missing",
    }
)
_REQUIRED_KEYS = ("id", "slot", "template", "text_template")
_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Block ids of the decision audit's own rows (renderer.pipeline): a refusal and
# the holdout; no catalog block may take them.
GUARD_BLOCK_ID = "send_guard"
HOLDOUT_BLOCK_ID = "holdout"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
FIRST_NAME_PLACEHOLDER = "{first_name}"


class CatalogError(ValueError):
    """The catalog is invalid; :attr:`problems` lists every problem found.

    Each problem is one line, starting with the file it concerns.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"- {problem}" for problem in problems)
        super().__init__(
            f"invalid block catalog ({len(problems)} problem(s)):\n{lines}"
        )


@dataclass(frozen=True)
class LinkSpec:
    """Where a block's link or image comes from: a fixed path/URL or a column."""

    value: str
    is_column: bool


@dataclass(frozen=True)
class Block:
    """One content block of the catalog.

    Attributes
    ----------
    id, slot, priority
        Identity, the slot it fills and its rank there (higher wins).
    condition
        When it may fire; :data:`renderer.conditions.ALWAYS` for fallback blocks.
    fallback
        Whether it is the slot's fallback (used when no other block fires).
    template, text_template
        Paths of the MJML+Jinja fragment and of the plain-text fragment.
    subject, subject_anonymous, preheader
        Optional subject (with ``{first_name}``), subject without a name, preheader.
    params
        Free values for the template (``block.params.discount_code``).
    links, images
        Named URLs for the template: links get UTM parameters and the tracking id.
    columns
        Every column the block reads, in its condition or its templates.
    source
        The YAML file that defines it.
    """

    id: str
    slot: str
    priority: int
    condition: Condition
    fallback: bool
    template: Path
    text_template: Path
    source: Path
    subject: str | None = None
    subject_anonymous: str | None = None
    preheader: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, LinkSpec] = field(default_factory=dict)
    images: Mapping[str, LinkSpec] = field(default_factory=dict)
    description: str = ""
    columns: tuple[str, ...] = ()

    @property
    def rule(self) -> str:
        """The rule as recorded in decision audits."""
        return "fallback" if self.fallback else self.condition.text


class Decision(NamedTuple):
    """One block evaluated for one recipient (a tuple: several are made per
    recipient, and a frozen dataclass costs three times as much to build).

    ``row`` is the row the condition read and ``columns`` the columns it reads;
    :attr:`values` picks them out only when asked for (the decision audit
    serialises them straight from the row).
    """

    block_id: str
    slot: str
    fired: bool
    rule: str
    row: Mapping[str, Any]
    columns: tuple[str, ...]

    @property
    def values(self) -> dict[str, Any]:
        """The values of the columns the condition reads, as it saw them."""
        row = self.row
        return {column: row.get(column) for column in self.columns}

    def __repr__(self) -> str:
        return (
            f"Decision(block_id={self.block_id!r}, slot={self.slot!r}, "
            f"fired={self.fired!r}, rule={self.rule!r}, values={self.values!r})"
        )


@dataclass(frozen=True)
class Catalog:
    """A validated block catalog; see :func:`load_catalog`.

    Attributes
    ----------
    root
        The catalog folder.
    slots
        Slot names in email order.
    layout
        Path of the MJML layout.
    blocks
        Enabled blocks, by slot order then descending priority (fallback last).
    disabled
        Blocks switched off because the mart lacks a column, with the reason.
    known_columns
        The columns conditions and templates were validated against.
    """

    root: Path
    slots: tuple[str, ...]
    layout: Path
    blocks: tuple[Block, ...]
    disabled: Mapping[str, str]
    known_columns: frozenset[str]

    def __post_init__(self) -> None:
        by_slot: dict[str, tuple[Block, ...]] = {
            slot: tuple(block for block in self.blocks if block.slot == slot)
            for slot in self.slots
        }
        object.__setattr__(self, "_by_slot", by_slot)
        object.__setattr__(self, "_choose", _chooser(by_slot))

    def block(self, block_id: str) -> Block:
        """The enabled block with id ``block_id`` (``KeyError`` if none)."""
        for block in self.blocks:
            if block.id == block_id:
                return block
        raise KeyError(block_id)

    @property
    def template_columns(self) -> tuple[str, ...]:
        """Every column any enabled block reads, sorted."""
        return tuple(sorted({c for block in self.blocks for c in block.columns}))

    def select(self, row: Mapping[str, Any]) -> tuple[list[Block], list[Decision]]:
        """Choose the blocks for one recipient.

        Parameters
        ----------
        row
            A personalization-mart row plus the :data:`CONTEXT_COLUMNS`.

        Returns
        -------
        tuple of (list of Block, list of Decision)
            The chosen blocks in slot order, and one decision per block evaluated:
            per slot, blocks are tried by descending priority until one fires.
        """
        chosen: list[Block] = []
        decisions: list[Decision] = []
        by_slot: dict[str, tuple[Block, ...]] = self._by_slot  # type: ignore[attr-defined]
        for slot in self.slots:
            for block in by_slot[slot]:
                condition = block.condition
                fired = block.fallback or condition.predicate(row)
                decisions.append(
                    Decision(block.id, slot, fired, block.rule, row, condition.columns)
                )
                if fired:
                    chosen.append(block)
                    break
        return chosen, decisions

    def choose(self, row: Mapping[str, Any]) -> list[Block]:
        """The blocks :meth:`select` chooses, without recording its decisions: one
        function compiled from every slot's conditions (tested to agree)."""
        return self._choose(row)  # type: ignore[attr-defined, no-any-return]


def _chooser(
    by_slot: Mapping[str, tuple[Block, ...]],
) -> Callable[[Mapping[str, Any]], list[Block]]:
    """One function choosing every slot's block, from the conditions' sources."""
    constants: dict[str, object] = {}
    lines = ["def choose(row):", "    get = row.get", "    chosen = []"]
    for blocks in by_slot.values():
        keyword = "if"
        for block in blocks:
            name = f"_block{len(constants)}"
            constants[name] = block
            test = "True" if block.fallback else block.condition.source(constants)
            lines += [f"    {keyword} {test}:", f"        chosen.append({name})"]
            keyword = "elif"
    lines.append("    return chosen")
    namespace = {**condition_helpers(), **constants}
    exec(compile("\n".join(lines), "<catalog choice>", "exec"), namespace)
    return namespace["choose"]  # type: ignore[return-value]


def load_catalog(
    path: Path | None = None, known_columns: Collection[str] | None = None
) -> Catalog:
    """Load and validate a block catalog.

    Parameters
    ----------
    path
        The catalog folder, or its ``catalog.yaml``; defaults to ``renderer/blocks``.
    known_columns
        Columns of the personalization mart actually present (e.g. from
        ``describe marts.personalization``); defaults to :data:`MART_COLUMNS`.
        :data:`CONTEXT_COLUMNS` are always known.

    Returns
    -------
    Catalog
        The validated catalog.

    Raises
    ------
    CatalogError
        Listing every problem found, each with the file it concerns.
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG_DIR
    catalog_file = path if path.is_file() else path / CATALOG_FILE
    root = catalog_file.parent
    columns = frozenset(MART_COLUMNS if known_columns is None else known_columns)
    columns |= frozenset(CONTEXT_COLUMNS)
    problems: list[str] = []

    header = _read_yaml(catalog_file, problems)
    slots: tuple[str, ...] = ()
    layout = root / "templates" / "layout.mjml.j2"
    if isinstance(header, dict):
        raw_slots = header.get("slots")
        if (
            not isinstance(raw_slots, list)
            or not raw_slots
            or not all(isinstance(s, str) and _ID.fullmatch(s) for s in raw_slots)
            or len(set(raw_slots)) != len(raw_slots)
        ):
            problems.append(
                f"{catalog_file}: 'slots' must be a list of distinct lowercase names, "
                f"got {raw_slots!r}"
            )
        else:
            slots = tuple(raw_slots)
        layout = root / str(header.get("layout", "templates/layout.mjml.j2"))
        if not layout.is_file():
            problems.append(f"{catalog_file}: layout file {layout} does not exist")
        unknown = set(header) - {"slots", "layout", "description"}
        if unknown:
            problems.append(f"{catalog_file}: unknown key(s) {sorted(unknown)}")
    elif header is not None:
        problems.append(f"{catalog_file}: expected a mapping with 'slots' and 'layout'")

    environment = SandboxedEnvironment()
    blocks: list[Block] = []
    disabled: dict[str, str] = {}
    seen_ids: dict[str, Path] = {}
    for source in sorted(root.glob("*.yaml")):
        if source.name == CATALOG_FILE:
            continue
        data = _read_yaml(source, problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(f"{source}: expected a mapping of block settings")
            continue
        block, reason = _parse_block(
            source, data, slots, columns, environment, problems
        )
        if block is None:
            continue
        if block.id in seen_ids:
            problems.append(
                f"{source}: block id {block.id!r} is already used by "
                f"{seen_ids[block.id]}"
            )
            continue
        seen_ids[block.id] = source
        if reason is not None:
            disabled[block.id] = reason
            continue
        blocks.append(block)

    _check_slot_conflicts(blocks, problems)
    if problems:
        raise CatalogError(problems)
    order = {slot: index for index, slot in enumerate(slots)}
    blocks.sort(key=lambda b: (order[b.slot], b.fallback, -b.priority, b.id))
    return Catalog(
        root=root,
        slots=slots,
        layout=layout,
        blocks=tuple(blocks),
        disabled=disabled,
        known_columns=columns,
    )


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        problems.append(f"{path}: invalid YAML: {error}")
        return None


def _parse_block(
    source: Path,
    data: dict[str, Any],
    slots: tuple[str, ...],
    columns: frozenset[str],
    environment: SandboxedEnvironment,
    problems: list[str],
) -> tuple[Block | None, str | None]:
    """Validate one block file; return the block and, if disabled, why."""
    before = len(problems)
    unknown = set(data) - _BLOCK_KEYS
    if unknown:
        problems.append(
            f"{source}: unknown key(s) {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(_BLOCK_KEYS))}"
        )
    for key in _REQUIRED_KEYS:
        if key not in data:
            problems.append(f"{source}: missing required key {key!r}")
    if len(problems) > before:
        return None, None

    block_id = data["id"]
    if not isinstance(block_id, str) or not _ID.fullmatch(block_id):
        problems.append(
            f"{source}: id {block_id!r} must be lowercase letters, digits and '_'"
        )
    elif block_id in (GUARD_BLOCK_ID, HOLDOUT_BLOCK_ID):
        problems.append(
            f"{source}: id {block_id!r} is the decision audit's own (refusals and "
            "the holdout): give the block another"
        )
    slot = data["slot"]
    if slots and slot not in slots:
        problems.append(
            f"{source}: slot {slot!r} is not one of the catalog's slots {list(slots)}"
        )
    fallback = data.get("fallback", False)
    if not isinstance(fallback, bool):
        problems.append(f"{source}: 'fallback' must be true or false")
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        problems.append(f"{source}: 'priority' must be an integer, got {priority!r}")
    policy = data.get("if_columns_missing", "error")
    if policy not in ("error", "disable"):
        problems.append(
            f"{source}: 'if_columns_missing' must be 'error' or 'disable', "
            f"got {policy!r}"
        )

    condition = ALWAYS
    raw_condition = data.get("condition")
    if fallback and raw_condition is not None:
        problems.append(f"{source}: a fallback block takes no 'condition'")
    elif not fallback:
        if raw_condition is None:
            problems.append(
                f"{source}: missing 'condition' (or set 'fallback: true' for the "
                "block used when no other block in the slot fires)"
            )
        else:
            try:
                condition = parse_condition(str(raw_condition))
            except ConditionSyntaxError as error:
                problems.append(f"{source}: condition syntax error: {error}")

    texts: dict[str, str | None] = {}
    for key in ("subject", "subject_anonymous", "preheader"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{source}: {key!r} must be text")
            value = None
        if value is not None:
            stray = [
                p for p in _PLACEHOLDER.findall(value) if p != FIRST_NAME_PLACEHOLDER
            ]
            if stray or (key != "subject" and FIRST_NAME_PLACEHOLDER in value):
                problems.append(
                    f"{source}: {key!r} may only use the placeholder "
                    f"{FIRST_NAME_PLACEHOLDER!r}"
                    + (" (and only in 'subject')" if key != "subject" else "")
                )
        texts[key] = value
    subject = texts["subject"]
    if (
        subject is not None
        and texts["subject_anonymous"] is None
        and FIRST_NAME_PLACEHOLDER in subject
    ):
        problems.append(
            f"{source}: 'subject' uses {FIRST_NAME_PLACEHOLDER!r}, so also give "
            "'subject_anonymous' for recipients without a first name"
        )

    params = data.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        problems.append(f"{source}: 'params' must be a mapping of names to values")
        params = {}
    links = _link_specs(source, "links", data.get("links"), problems)
    images = _link_specs(source, "images", data.get("images"), problems)

    template_columns: set[str] = set()
    templates: dict[str, Path] = {}
    for key in ("template", "text_template"):
        template_path = source.parent / str(data[key])
        templates[key] = template_path
        if not template_path.is_file():
            problems.append(f"{source}: {key} file {template_path} does not exist")
            continue
        template_columns |= _template_columns(template_path, environment, problems)
    if len(problems) > before:
        return None, None

    read = list(condition.columns)
    read += [s.value for s in (*links.values(), *images.values()) if s.is_column]
    read += sorted(template_columns)
    missing = sorted({column for column in read if column not in columns})
    reason = None
    if missing:
        if policy == "disable":
            reason = f"the mart has no column(s) {missing}"
        else:
            for column in missing:
                hint = difflib.get_close_matches(column, sorted(columns), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                problems.append(
                    f"{source}: unknown column {column!r}{suggestion}; known columns: "
                    f"{', '.join(sorted(columns))}"
                )
            return None, None
    block = Block(
        id=block_id,
        slot=slot,
        priority=priority,
        condition=condition,
        fallback=fallback,
        template=templates["template"],
        text_template=templates["text_template"],
        source=source,
        subject=texts["subject"],
        subject_anonymous=texts["subject_anonymous"],
        preheader=texts["preheader"],
        params=dict(params),
        links=links,
        images=images,
        description=str(data.get("description") or ""),
        columns=tuple(dict.fromkeys(read)),
    )
    return block, reason


def _link_specs(
    source: Path, key: str, raw: object, problems: list[str]
) -> dict[str, LinkSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{source}: {key!r} must map names to a path or {{column: x}}")
        return {}
    specs: dict[str, LinkSpec] = {}
    for name, value in raw.items():
        if isinstance(value, str) and value:
            specs[str(name)] = LinkSpec(value, is_column=False)
        elif (
            isinstance(value, dict)
            and set(value) == {"column"}
            and isinstance(value["column"], str)
        ):
            specs[str(name)] = LinkSpec(value["column"], is_column=True)
        else:
            problems.append(
                f"{source}: {key}.{name} must be a path/URL or {{column: <name>}}, "
                f"got {value!r}"
            )
    return specs


def _template_columns(
    path: Path, environment: SandboxedEnvironment, problems: list[str]
) -> set[str]:
    """Columns a template reads as ``customer.<column>``; checks its variables."""
    try:
        tree = environment.parse(path.read_text(encoding="utf-8"))
    except TemplateSyntaxError as error:
        problems.append(f"{path}: template syntax error line {error.lineno}: {error}")
        return set()
    columns: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "customer":
            if isinstance(node, nodes.Getattr):
                columns.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                columns.add(node.arg.value)
            else:
                problems.append(f"{path}: read customer columns by name only")
    assigned = {
        target.name
        for node in tree.find_all((nodes.Assign, nodes.For, nodes.With))
        for target in _assigned_names(node)
    }
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in TEMPLATE_VARIABLES | assigned:
            problems.append(
                f"{path}: unknown template variable {name.name!r}; available: "
                f"{', '.join(sorted(TEMPLATE_VARIABLES))}"
            )
    return columns


def _assigned_names(node: nodes.Node) -> list[nodes.Name]:
    targets: list[nodes.Node] = []
    if isinstance(node, nodes.Assign | nodes.For):
        targets.append(node.target)
    elif isinstance(node, nodes.With):
        targets.extend(node.targets)
    names: list[nodes.Name] = []
    for target in targets:
        names.extend(
            target.find_all(nodes.Name)
            if not isinstance(target, nodes.Name)
            else [target]
        )
    return names


def _check_slot_conflicts(blocks: list[Block], problems: list[str]) -> None:
    seen: dict[tuple[str, object], Block] = {}
    for block in blocks:
        key = (block.slot, "fallback" if block.fallback else block.priority)
        other = seen.get(key)
        if other is not None:
            what = "fallback" if block.fallback else f"priority {block.priority}"
            problems.append(
                f"{block.source}: slot conflict: {block.id!r} and {other.id!r} "
                f"({other.source.name}) both fill slot {block.slot!r} at {what}; "
                "give them different priorities"
            )
        else:
            seen[key] = block
