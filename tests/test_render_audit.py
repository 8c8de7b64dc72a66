"""The decision audit built in the warehouse (renderer.audit).

Its rows are compared with the Python audit in tests/test_render_parallel.py; here,
the values a rule saw are written as Python writes them for every kind of column,
and a render whose audit disagrees with the blocks it rendered writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailroom.campaign
from mailroom.campaign import AuditMismatchError, render_to_outbox
from renderer.audit import _values_json, mismatched_blocks_sql
from renderer.conditions import quote_name
from renderer.config import SendConfig
from renderer.pipeline import _values_text
from tests.test_render_conditions import TYPED

# The mart's decimals: six places.
TYPES = {**TYPED, "amount": "DECIMAL(28,6)", "total": "HUGEINT"}
VALUES = {
    "flag": st.booleans(),
    "count": st.integers(-(2**63), 2**63 - 1),
    "amount": st.decimals("-1e12", "1e12", places=6),
    "score": st.floats(allow_nan=False, allow_infinity=False),
    "ratio": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "total": st.integers(-(2**100), 2**100),
    "label": st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=1)),
    "day": st.dates(),
    "seen_at": st.datetimes(),
}


@given(
    row=st.fixed_dictionaries({k: st.one_of(st.none(), v) for k, v in VALUES.items()})
)
def test_values_seen_are_written_as_python_writes_them(row: dict[str, Any]) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in TYPES.items())
    with duckdb.connect() as con:
        con.execute(f"create table seen ({columns})")
        con.execute(
            f"insert into seen values ({', '.join('?' for _ in TYPES)})",
            [row[name] for name in TYPES],
        )
        # read as rendering reads the mart: through Arrow
        (held,) = con.sql("select * from seen").to_arrow_table().to_pylist()
        (text,) = con.execute(
            f"select {_values_json(list(TYPES), TYPES, quote_name)} from seen"
        ).fetchone()
    names = tuple(sorted(TYPES))
    expected = _values_text(names, tuple(held[name] for name in names))
    if any(character < " " for character in row["label"] or ""):
        # DuckDB writes a control character's escape in upper case (\u001F)
        assert json.loads(text) == json.loads(expected)
    else:
        assert text == expected


def _one_customer_warehouse(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.personalization as select 'c-1' as customer_id, "
            "'c1@example.com' as email, 'Ana' as first_name, 'Silva' as last_name, "
            "'champions' as rfm_segment, 'opted_in' as consent_status, "
            "5000.0::decimal(28,6) as lifetime_revenue, true as is_vip, "
            "3 as lifetime_orders, 10 as days_since_last_order, 5 as r_score, "
            "5 as f_score, 5 as m_score"
        )
        con.execute(
            "create table marts.personalization_product_picks as select "
            "'c-1' as customer_id, 1 as pick_rank, 'p-1' as product_id, "
            "'Shell' as product_name, 'outdoor' as category, 10.0 as price, "
            "'EUR' as currency, null as product_url, null as image_url, "
            "'popular' as pick_reason limit 0"
        )


def _render(warehouse: Path, home: Path, as_of: dt.date, run_id: str) -> None:
    home.mkdir(exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        render_to_outbox(
            con, home / "outbox", home, as_of, run_id, SendConfig(arms={"A": 1})
        )


def test_a_render_whose_audit_disagrees_with_its_blocks_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _one_customer_warehouse(warehouse)
    # A fault: the warehouse's audit says the VIP block did not fire.
    built = mailroom.campaign.decision_audit_sql
    monkeypatch.setattr(
        mailroom.campaign,
        "decision_audit_sql",
        lambda *args, **kwargs: (
            "select * replace (fired and block_id <> 'vip_offer' "
            f"as fired) from ({built(*args, **kwargs)})"
        ),
    )
    home = tmp_path / "home"
    with pytest.raises(AuditMismatchError, match=r"c-1: rendered '[^']*vip_offer"):
        _render(warehouse, home, dt.date(2026, 11, 1), "run-1")
    assert not (home / "outbox" / "run-1").exists()
    with duckdb.connect(str(warehouse)) as con:  # the audit's schema rolled back too
        assert con.execute(
            "select count(*) from information_schema.tables "
            "where table_name = 'decision_audit'"
        ).fetchone() == (0,)


AUDIT = "select * from emails.decision_audit order by run_id, customer_id, block_id"


def _keep_as_one_table(warehouse: Path, rows: str) -> None:
    """Hold the audit as one table of ``rows`` (a query over the view), as
    warehouses written before its rows and blocks were kept apart do."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create table emails.whole as {rows}")
        con.execute("drop view emails.decision_audit")
        con.execute("drop table emails.decision_audit_rows")
        con.execute("drop table emails.decision_audit_blocks")
        con.execute("alter table emails.whole rename to decision_audit")


def _two_runs(tmp_path: Path) -> tuple[Path, Path, list[tuple]]:
    """A one-customer warehouse rendered for two campaigns (run-1, run-2): its
    warehouse, home and audit rows."""
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    _one_customer_warehouse(warehouse)
    _render(warehouse, home, dt.date(2026, 11, 1), "run-1")
    _render(warehouse, home, dt.date(2026, 11, 2), "run-2")
    with duckdb.connect(str(warehouse)) as con:
        return warehouse, home, con.execute(AUDIT).fetchall()


def test_a_rerun_replaces_its_campaigns_audit_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    warehouse, home, before = _two_runs(tmp_path)
    _render(warehouse, home, dt.date(2026, 11, 2), "run-3")  # run-2's campaign
    with duckdb.connect(str(warehouse)) as con:
        after = con.execute(AUDIT).fetchall()
        blocks = con.execute(
            "select distinct run_id from emails.decision_audit_blocks order by 1"
        ).fetchall()
    first = [row for row in before if row[-2] == "run-1"]
    assert first and [row for row in after if row[-2] == "run-1"] == first
    second = [row[:-2] for row in before if row[-2] == "run-2"]
    assert second and [row[:-2] for row in after if row[-2] == "run-3"] == second
    assert blocks == [("run-1",), ("run-3",)]


def test_a_run_id_naming_another_campaigns_audit_is_refused(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _one_customer_warehouse(warehouse)
    _render(warehouse, tmp_path / "one", dt.date(2026, 11, 1), "daily")
    with pytest.raises(ValueError, match="'daily' already names the audit of"):
        # another outbox, so only the audit knows the run id
        _render(warehouse, tmp_path / "two", dt.date(2026, 11, 2), "daily")
    assert not (tmp_path / "two" / "outbox" / "daily").exists()


def test_an_audit_kept_as_one_table_becomes_the_view_of_its_rows(
    tmp_path: Path,
) -> None:
    # Warehouses written before the audit's rows and blocks were kept apart hold
    # it as one table: the next render splits it and carries on.
    warehouse, home, before = _two_runs(tmp_path)
    _keep_as_one_table(warehouse, "select * from emails.decision_audit")
    _render(warehouse, home, dt.date(2026, 11, 3), "run-3")
    with duckdb.connect(str(warehouse)) as con:
        after = con.execute(AUDIT).fetchall()
        (kind,) = con.execute(
            "select table_type from information_schema.tables "
            "where table_schema = 'emails' and table_name = 'decision_audit'"
        ).fetchone()
    assert kind == "VIEW"
    assert [row for row in after if row[-2] != "run-3"] == before
    assert {row[-2] for row in after} == {"run-1", "run-2", "run-3"}


def test_an_audit_table_with_a_run_id_in_two_campaigns_is_not_split(
    tmp_path: Path,
) -> None:
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    _one_customer_warehouse(warehouse)
    _render(warehouse, home, dt.date(2026, 11, 1), "run-1")
    _keep_as_one_table(
        warehouse,
        "select * from emails.decision_audit union all select * replace "
        "('another' as campaign_id) from emails.decision_audit",
    )
    with pytest.raises(ValueError, match="holds run id 'run-1' for more than one"):
        _render(warehouse, home, dt.date(2026, 11, 2), "run-2")
    with duckdb.connect(str(warehouse)) as con:  # left as it was
        assert con.execute("select count(*) from emails.decision_audit").fetchone()[0]


def test_a_recipient_shown_no_block_agrees_with_an_audit_where_none_fired() -> None:
    with duckdb.connect() as con:
        con.execute(
            "create table outcomes as select 'c-1' as customer_id, '' as blocks "
            "union all select 'c-2', 'greeting'"
        )
        con.execute(
            "create table audit as select 'c-1' as customer_id, 'greeting' as "
            "block_id, 'header' as slot, false as fired union all "
            "select 'c-2', 'greeting', 'header', true"
        )
        assert (
            con.execute(
                mismatched_blocks_sql("audit", "outcomes", ("header",))
            ).fetchall()
            == []
        )
