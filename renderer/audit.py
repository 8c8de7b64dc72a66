"""The decision audit, built in the warehouse from what each recipient's render decided.

Rendering hands back one *outcome* per recipient (:data:`OUTCOME_SCHEMA`): the
guard's reason when refused, the arm, how many picks the email shows and the
blocks it shows. Everything else in the audit follows from the recipient's mart
row, so :func:`decision_audit_sql` writes it as one SQL statement over the
outcomes joined to that row, evaluating every block's condition in SQL
(:meth:`renderer.conditions.Condition.sql`), in the catalog's order: per slot, the
blocks are tried by descending priority until one fires, and each block tried is
a row with the rule and the values it saw.

The rows are those :func:`renderer.pipeline.render_campaign` audits in Python
(tested equal, values text included), at a fraction of the cost: building them per
recipient in Python took about a fifth of rendering. :func:`mismatched_blocks_sql`
cross-checks the two: the blocks fired in the audit must be the blocks rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa

from renderer.catalog import CONTEXT_COLUMNS, Catalog
from renderer.conditions import quote_name, quote_text, value_kind
from renderer.pipeline import (
    GUARD_BLOCK_ID,
    GUARD_COLUMNS,
    GUARD_RULE,
    HOLDOUT_BLOCK_ID,
    HOLDOUT_REASON,
    holdout_rule,
)

# What a render hands back per recipient; ``variant`` is null when refused,
# ``pick_count`` and ``blocks`` (comma-separated, in slot order) when no email.
OUTCOME_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("variant", pa.string()),
        ("reason", pa.string()),
        ("pick_count", pa.int32()),
        ("blocks", pa.string()),
    ]
)
# Types of the context columns conditions read besides the mart's.
CONTEXT_TYPES = {
    "campaign_id": "VARCHAR",
    "variant": "VARCHAR",
    "pick_count": "INTEGER",
}


def _text(value: str | None) -> str:
    return "null" if value is None else quote_text(value)


def _json_value(sql: str, warehouse_type: str) -> str:
    """SQL giving a value's JSON text as :func:`renderer.outbox.dumps` writes it
    (Decimals and dates as strings, floats in Python's shortest form)."""
    kind = value_kind(warehouse_type)
    upper = warehouse_type.upper()
    if kind == "boolean":
        text = f"case when {sql} then 'true' when not {sql} then 'false' end"
    elif upper.startswith("DECIMAL") or upper in ("HUGEINT", "UHUGEINT"):
        # Python reads both as Decimals, written as strings
        text = f"'\"' || cast({sql} as varchar) || '\"'"
    elif kind == "float":
        # REAL read as the double Python holds; Python refuses NaN and infinities
        # in JSON, here they are strings
        double = f"cast({sql} as double)"
        text = (
            f"case when isfinite({double}) then cast({double} as varchar) "
            f"else '\"' || cast({double} as varchar) || '\"' end"
        )
    elif kind == "number":
        text = f"cast({sql} as varchar)"
    elif kind == "date":
        text = f"'\"' || cast({sql} as varchar) || '\"'"
    elif kind == "timestamp":
        text = (
            f"'\"' || strftime({sql}, '%Y-%m-%dT%H:%M:%S') || case when "
            f"epoch_us({sql}) % 1000000 <> 0 then strftime({sql}, '.%f') "
            "else '' end || '\"'"
        )
    else:
        text = f"cast(to_json({sql}) as varchar)"
    return f"coalesce({text}, 'null')"


def _values_json(
    columns: list[str], types: Mapping[str, str], read: Callable[[str], str]
) -> str:
    """SQL of the JSON object of ``columns`` (keys sorted, as the audit writes)."""
    if not columns:
        return "'{}'"
    parts = []
    for index, name in enumerate(sorted(columns)):
        key = ("{" if index == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":"
        parts.append(_text(key))
        parts.append(_json_value(read(name), types[name]))
    return " || ".join([*parts, "'}'"])


def decision_audit_sql(
    catalog: Catalog,
    mart_types: Mapping[str, str],
    *,
    outcomes: str,
    mart: str,
    campaign_id: str,
    model_version: str,
    holdout_share: float,
) -> str:
    """A query giving the decision-audit rows of every outcome, with the columns
    of :data:`renderer.pipeline.AUDIT_COLUMNS`.

    Parameters
    ----------
    catalog
        The catalog the recipients were rendered with.
    mart_types
        The personalization mart's column types (``describe``).
    outcomes, mart
        Relation names: the outcomes (:data:`OUTCOME_SCHEMA`) and the mart.
    campaign_id, model_version
        Copied to every row; ``campaign_id`` is also the context column.
    holdout_share
        The holdout's share, for its rows' rule.

    Raises
    ------
    ValueError
        If a condition reads a column of a type conditions cannot compare in SQL.
    """
    types = {**mart_types, **CONTEXT_TYPES}

    def read(name: str) -> str:
        if name == "campaign_id":
            return _text(campaign_id)
        if name in CONTEXT_COLUMNS:
            return quote_name(f"outcome_{name}")
        return quote_name(name)

    kinds = {name: value_kind(kind) for name, kind in types.items()}
    constant = f"{_text(campaign_id)} as campaign_id"
    version = f"{_text(model_version)} as model_version"
    seen = [name for name in GUARD_COLUMNS if name in mart_types]
    selects = [
        f"select customer_id, {constant}, null as variant, "
        f"{_text(GUARD_BLOCK_ID)} as block_id, null as slot, false as fired, "
        f"{_text(GUARD_RULE)} as rule, {_values_json(seen, types, read)} as "
        f"values_seen, outcome_reason as reason, {version} "
        "from recipients where outcome_reason is not null",
        f"select customer_id, {constant}, outcome_variant, "
        f"{_text(HOLDOUT_BLOCK_ID)}, null, true, {_text(holdout_rule(holdout_share))}, "
        f"'{{}}', {_text(HOLDOUT_REASON)}, {version} from recipients "
        f"where outcome_reason is null and outcome_variant = {_text('holdout')}",
    ]
    rendered = f"outcome_reason is null and outcome_variant <> {_text('holdout')}"
    earlier: dict[str, list[str]] = {}
    read_columns = set(seen)
    for block in catalog.blocks:
        try:
            fired = "true" if block.fallback else block.condition.sql(kinds, read)
        except ValueError as error:
            raise ValueError(
                f"block {block.id!r}: its condition cannot be audited in SQL: {error}"
            ) from error
        tried = [rendered, *(f"not {other}" for other in earlier.get(block.slot, []))]
        earlier.setdefault(block.slot, []).append(fired)
        read_columns.update(block.condition.columns)
        values = _values_json(list(block.condition.columns), types, read)
        selects.append(
            f"select customer_id, {constant}, outcome_variant, "
            f"{_text(block.id)}, {_text(block.slot)}, {fired}, {_text(block.rule)}, "
            f"{values}, null, {version} from recipients "
            f"where {' and '.join(tried)}"
        )
    mart_columns = sorted(read_columns - set(CONTEXT_COLUMNS) - {"customer_id"})
    columns = "".join(f", recipient.{quote_name(name)}" for name in mart_columns)
    body = "\nunion all\n".join(selects)
    return (
        "with recipients as materialized (select outcome.customer_id, "
        "outcome.variant as outcome_variant, outcome.reason as outcome_reason, "
        f"outcome.pick_count as outcome_pick_count{columns} from {outcomes} as "
        f"outcome left join {mart} as recipient using (customer_id))\n{body}"
    )


def audit_blocks(
    catalog: Catalog, holdout_share: float
) -> list[tuple[str, str | None, str]]:
    """``(block_id, slot, rule)`` of every block a render's audit rows name, as
    :func:`decision_audit_sql` writes them: the guard's, the holdout's, then the
    catalog's."""
    return [
        (GUARD_BLOCK_ID, None, GUARD_RULE),
        (HOLDOUT_BLOCK_ID, None, holdout_rule(holdout_share)),
        *((block.id, block.slot, block.rule) for block in catalog.blocks),
    ]


def mismatched_blocks_sql(audit: str, outcomes: str, slots: Sequence[str]) -> str:
    """A query giving the rendered recipients whose fired blocks in ``audit`` (a
    relation of decision-audit rows) are not the blocks their email shows, with
    both lists (in the order of ``slots``); none when the two agree."""
    order = "list_position([" + ", ".join(map(_text, slots)) + "], slot)"
    return f"""
        with fired as (
            select customer_id, string_agg(block_id, ',' order by {order}) as blocks
            from {audit}
            where
                fired
                and slot is not null
                and customer_id in (select customer_id from {outcomes})
            group by customer_id
        )
        select outcome.customer_id, outcome.blocks, fired.blocks
        from {outcomes} as outcome
        left join fired using (customer_id)
        where
            outcome.blocks is not null
            and outcome.blocks <> coalesce(fired.blocks, '')
        order by outcome.customer_id
    """
