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
