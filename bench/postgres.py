"""Time ingestion and `dbt build` on DuckDB and on PostgreSQL from the same landing
files, and check that both give the same tables.

    MAILROOM_PG_HOST=... MAILROOM_PG_DBNAME=... \\
        .venv/bin/python bench/postgres.py --home /tmp/bench-pg --customers 5000

Generates the demo data into HOME (unless HOME/landing exists), loads it into a
new DuckDB file and into the PostgreSQL database that the MAILROOM_PG_* variables
name (it must be empty: raw tables and schemas are created there), then builds
every model but the ML-fed personalization marts on each. Prints seconds per step
and every staging, intermediate, quality and mart table whose row counts differ.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from mailroom.ingest import ingest_landing
from mailroom.postgres import PostgresDestination, PostgresSettings
from mailroom.simulator import generate

REPOSITORY = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 1)
SCHEMAS = ("staging", "intermediate", "quality", "marts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=5000)
    args = parser.parse_args()
    landing = args.home / "landing"
    if not landing.exists():
        generate(args.home, customers=args.customers, seed=42, as_of=AS_OF)
    warehouse = args.home / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    server = PostgresSettings.from_env()

    with duckdb.connect(str(warehouse)) as con:
        report = _timed("ingest duckdb", lambda: ingest_landing(con, landing))
    print(f"  {report.rows_loaded():,} rows")
    with server.connect() as con:
        _timed(
            "ingest postgres",
            lambda: ingest_landing(PostgresDestination(con), landing),
        )
    env = {**os.environ, "MAILROOM_WAREHOUSE": str(warehouse)}
    env["MAILROOM_AS_OF"] = AS_OF.isoformat()
    for target in ("duckdb", "postgres"):
        _timed(f"dbt build {target}", lambda target=target: _dbt(args, target, env))
    _compare(warehouse, server)


def _timed(label: str, step):
    started = time.perf_counter()
    result = step()
    print(f"{label:<20} {time.perf_counter() - started:7.1f} s", flush=True)
    return result


def _dbt(args: argparse.Namespace, target: str, env: dict[str, str]) -> None:
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *("build", "--quiet", "--exclude", "tag:after_ml"),
            *("--profiles-dir", str(REPOSITORY), "--target", target),
            *("--target-path", str(args.home / f"target-{target}")),
            *("--log-path", str(args.home / "logs")),
        ],
        cwd=REPOSITORY,
        env=env,
        check=True,
    )


def _compare(warehouse: Path, server: PostgresSettings) -> None:
    with (
        duckdb.connect(str(warehouse), read_only=True) as duck,
        server.connect() as pg,
    ):
        tables = duck.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_schema in {SCHEMAS} order by 1"
        ).fetchall()
        differ = []
        for (table,) in tables:
            in_duckdb = duck.execute(f"select count(*) from {table}").fetchone()[0]
            in_postgres = pg.execute(f"select count(*) from {table}").fetchone()[0]
            if in_duckdb != in_postgres:
                differ.append(
                    f"  {table}: duckdb {in_duckdb:,}, postgres {in_postgres:,}"
                )
    print(f"{len(tables)} tables compared, {len(differ)} with other row counts")
    print("\n".join(differ))


if __name__ == "__main__":
    main()
