"""Load landing files into ``raw.<source>``, each file once, exactly as delivered.

Every value is stored as text, as it was in the file, next to load metadata
(``_file_name``, ``_row_number``, ``_loaded_at``, ``_file_checksum``). Typing and most
validation are dbt's job; this step only refuses what cannot be loaded at all: a file
that cannot be read, or that lacks a required column, is refused whole with a one-line
message naming the file and the column, and the other files still load. A ledger
(``raw._file_loads``) makes re-runs load nothing twice.

One check is made here rather than in dbt, because SQL is the wrong tool for it:
each distinct email and (phone, country) pair of a loaded file is validated once with
email-validator and phonenumbers (:mod:`mailroom.validation`), and the verdicts are
appended to ``raw._email_checks`` and ``raw._phone_checks``, which staging joins.

Files are streamed batch by batch, so memory stays flat whatever their size. The
warehouse is a :class:`Destination`: DuckDB (the embedded default, here) or PostgreSQL
(:mod:`mailroom.postgres`). Reading, validation and the ledger are the same for both;
a destination only runs SQL and appends record batches.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from mailroom.contract import FILE_SUFFIXES, SOURCES, Source
from mailroom.privacy import (
    ERASED_SQL,
    ID_KINDS,
    ErasedIdentifiers,
    ensure_privacy_tables,
    identifier_kind,
)
from mailroom.validation import Validator

RAW_SCHEMA = "raw"
LEDGER = "_file_loads"
METADATA_COLUMNS = {
    "_file_name": "varchar",
    "_row_number": "bigint",
    "_loaded_at": "timestamp",
    "_file_checksum": "varchar",
}
BATCH_ROWS = 250_000
# Verdicts on each distinct email and (phone, country) value ever loaded, made once
# in Python (mailroom.validation) and joined by dbt staging.
EMAIL_CHECKS = "_email_checks"
PHONE_CHECKS = "_phone_checks"
ARROW_TYPES = {
    "varchar": pa.string(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
}
CHECK_TABLES = {
    EMAIL_CHECKS: {
        "email_raw": "varchar",
        "email_normalized": "varchar",
        "is_valid": "boolean",
        "problem": "varchar",
        "detail": "varchar",
        "suggested_email": "varchar",
        "checked_at": "timestamp",
    },
    PHONE_CHECKS: {
        "phone_raw": "varchar",
        "country_raw": "varchar",
        "phone_e164": "varchar",
        "is_valid": "boolean",
        "problem": "varchar",
        "checked_at": "timestamp",
    },
}

# How each contract type is checked at load time; staging applies the same casts.
TYPE_CHECKS = {
    "timestamp": (
        "try_cast({col} as timestamptz)",
        "a timestamp (ISO 8601, e.g. 2024-03-05T14:12:00Z)",
    ),
    "date": ("try_cast({col} as date)", "a date (YYYY-MM-DD)"),
    "decimal": ("try_cast({col} as decimal(18, 4))", "a number (e.g. 89.90)"),
    "integer": ("try_cast({col} as bigint)", "a whole number"),
    "boolean": ("try_cast({col} as boolean)", "true or false"),
}


class Destination(Protocol):
    """The warehouse that raw tables are loaded into.

    SQL uses ``?`` placeholders. ``errors`` are the driver's exceptions that refuse
    the file being loaded (the transaction is rolled back) instead of ending the run.
    """

    errors: tuple[type[Exception], ...]

    def execute(self, sql: str, params: list[Any] | None = None) -> None: ...

    def fetchall(self, sql: str, params: list[Any] | None = None) -> list[tuple]: ...

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def append(self, table: str, batch: pa.RecordBatch) -> None:
        """Insert the batch's rows, matching its columns to the table's by name."""


class DuckDBDestination:
    """A DuckDB warehouse: batches are inserted straight from Arrow, by name."""

    errors = (duckdb.Error,)

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.con.execute(sql, params).fetchall()

    def fetchall(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def begin(self) -> None:
        self.con.begin()

    def commit(self) -> None:
        self.con.commit()

    def rollback(self) -> None:
        self.con.rollback()

    def append(self, table: str, batch: pa.RecordBatch) -> None:
        self.con.register("_landing_batch", pa.Table.from_batches([batch]))
        try:
            self.con.execute(
                f"insert into {table} by name select * from _landing_batch"
            )
        finally:
            self.con.unregister("_landing_batch")


class IngestError(RuntimeError):
    """Ingestion cannot start at all (for example: no orders anywhere)."""


@dataclass(frozen=True)
class FileLoad:
    """What happened to one landing file in one ingestion run."""

    source: str
    file_name: str
    status: str  # loaded | skipped | refused
    rows: int = 0
    checksum: str = ""
    message: str = ""
    # Rows left out because they name a person erased with `mailroom forget`.
    erased_rows: int = 0


@dataclass(frozen=True)
class RowIssue:
    """A value that will not type-check: the row loads, staging quarantines it."""

    path: str
    row_number: int
    column: str
    value: str
    expected: str
    more_rows: int = 0

    def __str__(self) -> str:
        more = (
            f" (and {self.more_rows} more rows in this file)" if self.more_rows else ""
        )
        return (
            f"{self.path} row {self.row_number}, column {self.column}: {self.value!r} "
            f"is not {self.expected}; the row is kept and quarantined{more}"
        )


@dataclass
class IngestReport:
    """The outcome of one ingestion run."""

    loads: list[FileLoad] = field(default_factory=list)
    row_issues: list[RowIssue] = field(default_factory=list)

    @property
    def refused(self) -> list[FileLoad]:
        return [load for load in self.loads if load.status == "refused"]

    def rows_loaded(self, source: str | None = None) -> int:
        return sum(
            load.rows
            for load in self.loads
            if load.status == "loaded" and source in (None, load.source)
        )

    def files(self, status: str) -> int:
        return sum(load.status == status for load in self.loads)

    def erased_rows(self, source: str | None = None) -> int:
        return sum(
            load.erased_rows for load in self.loads if source in (None, load.source)
        )


class _Refusal(Exception):
    """A file that cannot be loaded; the message is the one-line reason."""


def ingest_landing(
    con: duckdb.DuckDBPyConnection | Destination,
    landing: Path,
    progress: Callable[[str], None] | None = None,
    require_orders: bool = True,
    home: Path | None = None,
) -> IngestReport:
    """Load every new file under ``landing/<source>/`` into ``raw.<source>``.

    Parameters
    ----------
    con
        An open DuckDB connection to the warehouse, or any :class:`Destination`
        (for PostgreSQL: :func:`mailroom.postgres.PostgresDestination`).
    landing
        The landing folder, one sub-folder per source of the contract.
    progress
        Called with a short line per file, for command-line progress.
    require_orders
        Stop (IngestError) when no orders have been loaded, the usual sign of a
        wrong landing folder. Off for loads that only resolve identities.
    home
        The data folder holding the erasure key (``privacy.key``); by default the
        landing folder's parent. Rows naming a person erased with `mailroom
        forget` (an email, phone or id whose keyed hash is in
        ``privacy.erased_identifiers``) are left out of ``raw`` and counted.

    Returns
    -------
    IngestReport
        Per file: loaded, skipped (loaded before) or refused (with the reason).
    """
    landing = Path(landing)
    if not landing.is_dir():
        raise IngestError(
            f"landing folder {landing} does not exist: create it with one sub-folder "
            "per source (at least orders/), or run `mailroom generate`"
        )
    warehouse = (
        DuckDBDestination(con) if isinstance(con, duckdb.DuckDBPyConnection) else con
    )
    with Validator() as validator:
        if ensure_raw_tables(warehouse):
            # The lookups are new in a warehouse loaded before they existed: check
            # what is already there, so staging finds a verdict for every value.
            for source in SOURCES.values():
                check_new_values(warehouse, source.name, validator=validator)
        erased = ErasedIdentifiers.from_rows(
            warehouse.fetchall(ERASED_SQL), home or landing.parent
        )
        report = IngestReport()
        for source in SOURCES.values():
            for path in _landing_files(landing / source.name):
                load = _load_file(
                    warehouse, source, path, landing, report, validator, erased
                )
                report.loads.append(load)
                if progress and load.status != "skipped":
                    progress(
                        f"{load.status} {source.name}/{path.name} ({load.rows:,} rows)"
                    )
    if require_orders:
        _require_orders(warehouse, landing)
    return report


def ensure_raw_tables(con: Destination) -> bool:
    """Create the raw schema, the ledger, the check lookups and one table per source
    with its columns; True when the lookups were created just now.

    Every source gets its table even before any file arrives, so that dbt can build
    when only ``orders`` is delivered.
    """
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    existing = _raw_columns(con, EMAIL_CHECKS)
    for table, columns in CHECK_TABLES.items():
        typed = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
        con.execute(f"create table if not exists {RAW_SCHEMA}.{table} ({typed})")
    con.execute(
        f"""
        create table if not exists {RAW_SCHEMA}.{LEDGER} (
            source varchar, file_name varchar, checksum varchar, status varchar,
            row_count bigint, message varchar, loaded_at timestamp
        )
        """
    )
    for source in SOURCES.values():
        columns = [f'"{name}" varchar' for name in source.column_names]
        columns += [f"{name} {type_}" for name, type_ in METADATA_COLUMNS.items()]
        con.execute(
            f"create table if not exists {RAW_SCHEMA}.{source.name} "
            f"({', '.join(columns)})"
        )
    ensure_privacy_tables(con)
    return not existing


def _raw_columns(con: Destination, table: str) -> set[str]:
    """The column names of ``raw.<table>``; empty when it does not exist."""
    return {
        row[0]
        for row in con.fetchall(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [RAW_SCHEMA, table],
        )
    }


def check_new_values(
    con: Destination,
    source_name: str,
    file_name: str | None = None,
    validator: Validator | None = None,
) -> tuple[int, int]:
    """Validate the emails and (phone, country) pairs of ``raw.<source_name>`` (of
    one loaded file, or all rows) that have no verdict yet, and append the verdicts.

    The warehouse finds the distinct unchecked values, so each value is validated
    once however many rows and files repeat it; ``validator`` may check them in
    worker processes. Returns (emails, phones) checked.
    """
    validator = validator or Validator(processes=1)
    columns = _raw_columns(con, source_name)
    where = "delivered._file_name = ?" if file_name else "true"
    params = [file_name] if file_name else []
    emails = phones = 0
    # The file's distinct values are joined to the verdicts with a left join, not
    # `not exists`: DuckDB then hashes the file's values and streams the verdicts
    # past them instead of hashing every verdict ever made for each file (a cost
    # that grows with the warehouse; measured below in README).
    if "email" in columns:
        values = con.fetchall(
            "select delivered.value from ("
            "select distinct delivered.email as value "
            f"from {RAW_SCHEMA}.{source_name} as delivered "
            f"where {where} and trim(delivered.email) <> '') as delivered "
            f"left join {RAW_SCHEMA}.{EMAIL_CHECKS} as checks "
            "on checks.email_raw = delivered.value "
            "where checks.email_raw is null",
            params,
        )
        emails = _append_checks(
            con, EMAIL_CHECKS, validator.emails([value for (value,) in values])
        )
    if {"phone", "country"} <= columns:
        pairs = con.fetchall(
            # A missing country and an empty one are the same to the staging join.
            "select delivered.phone, delivered.country from ("
            "select distinct delivered.phone, "
            "coalesce(delivered.country, '') as country "
            f"from {RAW_SCHEMA}.{source_name} as delivered "
            f"where {where} and trim(delivered.phone) <> '') as delivered "
            f"left join {RAW_SCHEMA}.{PHONE_CHECKS} as checks "
            "on checks.phone_raw = delivered.phone "
            "and coalesce(checks.country_raw, '') = delivered.country "
            "where checks.phone_raw is null",
            params,
        )
        phones = _append_checks(con, PHONE_CHECKS, validator.phones(pairs))
    return emails, phones


def _append_checks(con: Destination, table: str, checks: list) -> int:
    """Append verdicts (dataclasses named like the table's columns) in batches."""
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    schema = pa.schema(
        (name, ARROW_TYPES[type_]) for name, type_ in CHECK_TABLES[table].items()
    )
    for start in range(0, len(checks), BATCH_ROWS):
        chunk = checks[start : start + BATCH_ROWS]
        # Every column is a field of the verdicts, except checked_at.
        columns = {
            name: [getattr(check, name, checked_at) for check in chunk]
            for name in schema.names
        }
        con.append(f"{RAW_SCHEMA}.{table}", pa.RecordBatch.from_pydict(columns, schema))
    return len(checks)


def _landing_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        (
            path
            for path in folder.iterdir()
            if path.is_file() and not path.name.startswith(".")
        ),
        key=lambda path: path.name,
    )


def _load_file(
    con: Destination,
    source: Source,
    path: Path,
    landing: Path,
    report: IngestReport,
    validator: Validator,
    erased: ErasedIdentifiers | None = None,
) -> FileLoad:
    display = f"{path.relative_to(landing)}"
    checksum = _sha256(path)
    loaded_before = [
        row[0]
        for row in con.fetchall(
            f"select checksum from {RAW_SCHEMA}.{LEDGER} "
            "where source = ? and file_name = ? and status = 'loaded'",
            [source.name, path.name],
        )
    ]
    if checksum in loaded_before:
        return FileLoad(source.name, path.name, "skipped", checksum=checksum)
    try:
        if loaded_before:
            raise _Refusal(
                f"{display}: a file of this name was loaded before with other content; "
                "to add new data, deliver it under a new file name"
            )
        with _RowChecker(source, display) as checker:
            rows, left_out = _insert_file(
                con, source, path, display, checksum, checker, validator, erased
            )
            issues = checker.issues()
    except _Refusal as refusal:
        load = FileLoad(source.name, path.name, "refused", 0, checksum, str(refusal))
    else:
        message = f"{left_out} rows of erased people left out" if left_out else ""
        load = FileLoad(
            source.name, path.name, "loaded", rows, checksum, message, left_out
        )
        report.row_issues.extend(issues)
    _record(con, load)
    return load


def _insert_file(
    con: Destination,
    source: Source,
    path: Path,
    display: str,
    checksum: str,
    checker: _RowChecker,
    validator: Validator,
    erased: ErasedIdentifiers | None = None,
) -> tuple[int, int]:
    """Insert all rows of one file in one transaction; refuse the file on any error.

    Returns the rows loaded and the rows left out as an erased person's.
    """
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    metadata = {
        "_file_name": pa.array([path.name]),
        "_file_checksum": pa.array([checksum]),
        "_loaded_at": pa.array([loaded_at], pa.timestamp("us")),
    }
    table = f"{RAW_SCHEMA}.{source.name}"
    rows = 0
    left_out = 0
    con.begin()
    try:
        known = _raw_columns(con, source.name)
        for batch in _read_batches(path, source, display):
            for name in batch.schema.names:
                if name not in known:
                    con.execute(f'alter table {table} add column "{name}" varchar')
                    known.add(name)
            count = batch.num_rows
            batch = batch.append_column(
                "_row_number", pa.array(np.arange(rows + 1, rows + count + 1))
            )
            rows += count
            # Constant columns repeated in C++ (from Python lists they took a sixth
            # of the load at 1,000,000 customers).
            for name, value in metadata.items():
                batch = batch.append_column(name, value.take(np.zeros(count, np.int8)))
            if erased:
                kept = batch.filter(pc.invert(erased_rows(batch, erased)))
                left_out += batch.num_rows - kept.num_rows
                batch = kept
            checker.check(batch)
            con.append(table, batch)
        check_new_values(con, source.name, path.name, validator)
        con.commit()
    except _Refusal:
        con.rollback()
        raise
    except (pa.ArrowException, UnicodeDecodeError, OSError, *con.errors) as error:
        con.rollback()
        detail = (
            str(error).strip().splitlines()[0]
            if str(error).strip()
            else type(error).__name__
        )
        raise _Refusal(
            f"{display}: cannot be read ({detail}); fix the file and deliver it again"
        ) from error
    return rows - left_out, left_out


def erased_rows(batch: pa.RecordBatch, erased: ErasedIdentifiers) -> pa.Array:
    """A boolean mask of the rows naming an erased person: an email, phone, shop
    customer id, CRM contact id, anonymous or device id whose keyed hash is on
    record. Each distinct value is hashed once."""
    mask = pa.array([False] * batch.num_rows)
    for kind in ID_KINDS:
        columns = [name for name in batch.schema.names if identifier_kind(name) == kind]
        for name in columns:
            column = batch.column(name)
            values = pc.unique(column.drop_null()).to_pylist()
            hits = [value for value in values if erased.is_erased(kind, value)]
            if hits:
                mask = pc.or_(
                    mask, pc.fill_null(pc.is_in(column, pa.array(hits)), False)
                )
    return mask


def _read_batches(path: Path, source: Source, display: str) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows as record batches of text columns with lower-case names."""
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise _Refusal(
            f"{display}: unsupported file type {suffix or '(none)'}; "
            f"deliver {', '.join(FILE_SUFFIXES)} files"
        )
    if suffix == ".csv":
        header = _csv_header(path, display)
        _check_columns(header, source, display)
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=header, skip_rows=1, block_size=1 << 24
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header}
            ),
        )
        yield from reader
        return
    if suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        names = _lower_names(parquet.schema_arrow.names, display)
        _check_columns(names, source, display)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield _as_text(batch, names, display)
        return
    reader = pa_json.open_json(path)
    names = _lower_names(reader.schema.names, display)
    _check_columns(names, source, display)
    for batch in reader:
        yield _as_text(batch, names, display)


def _csv_header(path: Path, display: str) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            header = next(csv.reader(handle), None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise _Refusal(
                f"{display}: cannot read the header row ({error})"
            ) from error
    if not header:
        raise _Refusal(f"{display}: the file is empty; a header row is required")
    return _lower_names(header, display)


def _lower_names(names: list[str], display: str) -> list[str]:
    lowered = [name.strip().lower() for name in names]
    duplicates = sorted({name for name in lowered if lowered.count(name) > 1})
    if duplicates:
        raise _Refusal(
            f"{display}: column {duplicates[0]!r} appears more than once "
            "(column names are case-insensitive); keep one"
        )
    if "" in lowered:
        position = lowered.index("") + 1
        raise _Refusal(f"{display}: column {position} of the header has no name")
    reserved = [name for name in lowered if name in METADATA_COLUMNS]
    if reserved:
        raise _Refusal(
            f"{display}: column {reserved[0]!r} is reserved for load metadata"
        )
    return lowered


def _check_columns(names: list[str], source: Source, display: str) -> None:
    missing = source.missing_columns(set(names))
    if missing:
        raise _Refusal(
            f"{display} row 1 (header): missing required column {missing[0]!r}; "
            f"the {source.name} source needs {', '.join(_required_names(source))} "
            f"(found: {', '.join(names)})"
        )


def _required_names(source: Source) -> list[str]:
    names = [column.name for column in source.required]
    names += [" or ".join(c.name for c in group) for group in source.one_of]
    return names


def _as_text(batch: pa.RecordBatch, names: list[str], display: str) -> pa.RecordBatch:
    columns = []
    for name, column in zip(names, batch.columns, strict=True):
        if pa.types.is_nested(column.type):
            raise _Refusal(
                f"{display}: column {name!r} holds nested values; deliver plain values"
            )
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        columns.append(
            column if pa.types.is_string(column.type) else column.cast(pa.string())
        )
    return pa.RecordBatch.from_arrays(columns, names=names)


class _RowChecker:
    """Finds the first value per typed column of one file that will not type-check.

    Runs the casts of ``TYPE_CHECKS`` on each batch before it is loaded, in a private
    in-memory DuckDB, so the check is the same whichever warehouse the file goes to.
    """

    def __init__(self, source: Source, display: str) -> None:
        self.display = display
        self.typed = [c for c in source.columns if c.type in TYPE_CHECKS]
        self.found: dict[str, list] = {}  # column -> [count, first row, first value]

    def __enter__(self) -> _RowChecker:
        self.con = duckdb.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.con.close()

    def check(self, batch: pa.RecordBatch) -> None:
        columns = [c for c in self.typed if c.name in batch.schema.names]
        if not columns:
            return
        selects = []
        for column in columns:
            cast, _ = TYPE_CHECKS[column.type]
            value = f"nullif(trim(\"{column.name}\"), '')"
            bad = f"{value} is not null and {cast.format(col=value)} is null"
            selects += [
                f"count(*) filter (where {bad})",
                f"min(_row_number) filter (where {bad})",
                f'arg_min("{column.name}", _row_number) filter (where {bad})',
            ]
        self.con.register("_batch", pa.Table.from_batches([batch]))
        [row] = self.con.execute(f"select {', '.join(selects)} from _batch").fetchall()
        self.con.unregister("_batch")
        for index, column in enumerate(columns):
            count, first_row, value = row[3 * index : 3 * index + 3]
            if count:
                seen = self.found.setdefault(column.name, [0, first_row, value])
                seen[0] += count

    def issues(self) -> list[RowIssue]:
        """One issue per column with bad values, in the contract's column order."""
        return [
            RowIssue(
                self.display,
                self.found[column.name][1],
                column.name,
                self.found[column.name][2],
                TYPE_CHECKS[column.type][1],
                self.found[column.name][0] - 1,
            )
            for column in self.typed
            if column.name in self.found
        ]


def _record(con: Destination, load: FileLoad) -> None:
    """Keep one ledger row per loaded file and the latest refusal of a refused one."""
    con.execute(
        f"delete from {RAW_SCHEMA}.{LEDGER} "
        "where source = ? and file_name = ? and status = 'refused'",
        [load.source, load.file_name],
    )
    con.execute(
        f"insert into {RAW_SCHEMA}.{LEDGER} values (?, ?, ?, ?, ?, ?, ?)",
        [
            load.source,
            load.file_name,
            load.checksum,
            load.status,
            load.rows,
            load.message,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def _require_orders(con: Destination, landing: Path) -> None:
    [(count,)] = con.fetchall(f"select count(*) from {RAW_SCHEMA}.orders")
    if not count:
        raise IngestError(
            "no orders have been loaded: put at least one .csv, .parquet or .jsonl "
            "file with order_id, customer_id or email, ordered_at and total_amount "
            f"in {landing / 'orders'}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def landing_fingerprints(landing: Path) -> dict[str, str]:
    """``source/file`` -> size and modification time of every landing file.

    Cheap to compute (no file is read, the warehouse is not opened), so a sensor can
    poll it; a changed fingerprint means a new or re-delivered file.
    """
    fingerprints = {}
    for name in SOURCES:
        for path in _landing_files(Path(landing) / name):
            stat = path.stat()
            fingerprints[f"{name}/{path.name}"] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return fingerprints
