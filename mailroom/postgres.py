"""Run Mailroom's warehouse on PostgreSQL: the connection settings and the ingestion
destination.

The settings are read from the same ``MAILROOM_PG_*`` environment variables as the
``postgres`` output in ``profiles.yml``, so ingestion and dbt always talk to the same
database. Needs the ``postgres`` extra (``pip install -e '.[postgres]'``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

try:
    import psycopg
except ImportError as missing:  # pragma: no cover - depends on the install
    raise ImportError(
        "PostgreSQL support needs psycopg: pip install -e '.[postgres]'"
    ) from missing


@dataclass(frozen=True)
class PostgresSettings:
    """Where the PostgreSQL warehouse is; the defaults match profiles.yml."""

    host: str = "localhost"
    port: int = 5432
    user: str = "mailroom"
    password: str = ""
    dbname: str = "mailroom"
    schema: str = "public"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PostgresSettings:
        """Read ``MAILROOM_PG_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``,
        ``_DBNAME`` and ``_SCHEMA``; unset ones keep their defaults."""
        environ = os.environ if environ is None else environ
        values = {
            name: environ[f"MAILROOM_PG_{name.upper()}"]
            for name in cls.__dataclass_fields__
            if f"MAILROOM_PG_{name.upper()}" in environ
        }
        if "port" in values:
            try:
                values["port"] = int(values["port"])
            except ValueError:
                raise ValueError(
                    f"MAILROOM_PG_PORT must be a port number, got {values['port']!r}"
                ) from None
        return cls(**values)

    def env(self) -> dict[str, str]:
        """The environment variables that point dbt's ``postgres`` target here."""
        return {
            f"MAILROOM_PG_{name.upper()}": str(getattr(self, name))
            for name in self.__dataclass_fields__
        }

    def connect(self) -> psycopg.Connection:
        """An autocommit connection: ingestion opens its own transaction per file.

        Raises ``ConnectionError`` naming the server and the variables to fix.
        """
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=self.dbname,
                autocommit=True,
            )
        except psycopg.OperationalError as error:
            reason = (
                str(error).strip().splitlines()[-1].strip() if str(error) else error
            )
            raise ConnectionError(
                f"cannot connect to PostgreSQL database {self.dbname!r} as "
                f"{self.user!r} at {self.host}:{self.port} ({reason}); set "
                "MAILROOM_PG_HOST, _PORT, _USER, _PASSWORD and _DBNAME"
            ) from error


class PostgresDestination:
    """A PostgreSQL warehouse for :func:`mailroom.ingest.ingest_landing`.

    Batches are streamed with ``COPY ... FROM STDIN`` as CSV written by Arrow, which
    quotes every text value, so an empty string stays an empty string and only a
    missing value becomes NULL, as in DuckDB.
    """

    errors = (psycopg.Error,)

    def __init__(self, con: psycopg.Connection) -> None:
        self.con = con
        self._appended: set[str] = set()

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self._run(sql, params)

    def fetchall(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self._run(sql, params).fetchall()

    def _run(self, sql: str, params: list[Any] | None) -> psycopg.Cursor:
        if params is None:
            return self.con.execute(sql)
        # Ingestion's SQL uses DuckDB's ``?`` placeholders; psycopg wants ``%s``.
        return self.con.execute(sql.replace("%", "%%").replace("?", "%s"), params)

    def begin(self) -> None:
        self.con.execute("begin")

    def commit(self) -> None:
        """Commit, then refresh the planner's statistics of the tables loaded into:
        dbt's first queries over a fresh raw table are otherwise planned for a
        handful of rows (nested loops over millions)."""
        self.con.execute("commit")
        for table in sorted(self._appended):
            self.con.execute(f"analyze {table}")
        self._appended.clear()

    def rollback(self) -> None:
        self.con.execute("rollback")
        self._appended.clear()

    def append(self, table: str, batch: pa.RecordBatch) -> None:
        self._appended.add(table)
        columns = ", ".join(f'"{name}"' for name in batch.schema.names)
        buffer = io.BytesIO()
        pa_csv.write_csv(batch, buffer, pa_csv.WriteOptions(include_header=False))
        with (
            self.con.cursor() as cursor,
            cursor.copy(f"copy {table} ({columns}) from stdin (format csv)") as copy,
        ):
            copy.write(buffer.getbuffer())


def replace_table(
    con: psycopg.Connection, schema: str, table: str, data: pa.Table
) -> None:
    """Replace ``schema.table`` with the rows of an Arrow table, in one transaction.

    For handing Python-made tables (the ML step's, for one) to a PostgreSQL
    warehouse; column types follow the Arrow types (see :func:`postgres_type`).
    """
    destination = PostgresDestination(con)
    columns = ", ".join(
        f'"{field.name}" {postgres_type(field.type)}' for field in data.schema
    )
    destination.begin()
    try:
        destination.execute(f"create schema if not exists {schema}")
        destination.execute(f"drop table if exists {schema}.{table}")
        destination.execute(f"create table {schema}.{table} ({columns})")
        for batch in data.to_batches():
            destination.append(f"{schema}.{table}", batch)
        destination.commit()
    except BaseException:
        destination.rollback()
        raise


def postgres_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type; text for anything unusual."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        return f"numeric({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    return "text"
