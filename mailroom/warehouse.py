"""Small warehouse helpers shared by the Python assets."""

from __future__ import annotations

import duckdb
import pandas as pd


def replace_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> None:
    """Replace ``schema.table`` with the rows of ``frame`` in one transaction."""
    con.execute(f"create schema if not exists {schema}")
    con.register("_frame", frame)
    try:
        con.execute(f"create or replace table {schema}.{table} as select * from _frame")
    finally:
        con.unregister("_frame")


def append_rows(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    frame: pd.DataFrame,
    replace_where: tuple[str, object] | None = None,
) -> None:
    """Append ``frame`` to ``schema.table`` (created from the frame's columns the
    first time), first deleting the rows where ``replace_where`` (column, value)
    matches, so that re-running one run id replaces its rows instead of doubling
    them. One transaction."""
    con.execute(f"create schema if not exists {schema}")
    con.register("_frame", frame)
    try:
        con.begin()
        con.execute(
            f"create table if not exists {schema}.{table} as "
            "select * from _frame where false"
        )
        if replace_where is not None:
            column, value = replace_where
            con.execute(f"delete from {schema}.{table} where {column} = ?", [value])
        con.execute(f"insert into {schema}.{table} by name select * from _frame")
        con.commit()
    except Exception:
        con.rollback()
        raise
    finally:
        con.unregister("_frame")
