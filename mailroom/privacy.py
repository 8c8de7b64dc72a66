"""Privacy tables, the keyed email hash that keeps erased people suppressed, and
retention of raw events.

- ``privacy.erasure_requests``: one row per `mailroom forget` request: its id, time,
  how it came (``via``, ``requested_by``), how many people, emails and rows per table
  and file were removed. No email, name, phone or id is kept in it.
- ``privacy.erased_identifiers``: the keyed SHA-256 of every email, phone, shop
  customer id, CRM contact id and web visitor id of an erased person
  (:func:`identifier_hash`), so that the same person landing again is recognised:
  ingestion leaves their rows out of ``raw``, the send guard refuses the address
  and an asset check fails if one reaches the personalization mart or the outbox.
  The key lives outside the warehouse (``MAILROOM_PRIVACY_KEY`` or
  ``MAILROOM_HOME/privacy.key``): without it a hash cannot be tested against a
  list of guessed addresses, and no SQL ever needs it.
- ``privacy.retention_purges``: one row per purge that deleted events older than
  the retention age (:func:`purge_expired_events`), with the counts per table.

Erasure itself is :mod:`mailroom.forget`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

ENV_PRIVACY_KEY = "MAILROOM_PRIVACY_KEY"
KEY_FILE = "privacy.key"
PRIVACY_SCHEMA = "privacy"
ERASURE_REQUESTS = "erasure_requests"
ERASED_IDENTIFIERS = "erased_identifiers"
RETENTION_PURGES = "retention_purges"

PRIVACY_TABLES: dict[str, dict[str, str]] = {
    ERASURE_REQUESTS: {
        "request_id": "varchar",
        "via": "varchar",
        "requested_by": "varchar",
        "people_count": "bigint",
        "email_count": "bigint",
        "rows_removed": "bigint",
        "removed_per_table": "varchar",
        "removed_per_file": "varchar",
        "esp_destinations": "varchar",
        "requested_at": "timestamp",
    },
    ERASED_IDENTIFIERS: {
        "identifier_hash": "varchar",
        "id_kind": "varchar",
        "key_fingerprint": "varchar",
        "request_id": "varchar",
        "erased_at": "timestamp",
    },
    RETENTION_PURGES: {
        "purge_id": "varchar",
        "retention_days": "bigint",
        "rows_purged": "bigint",
        "purged_per_table": "varchar",
        "files_deleted": "bigint",
        "cutoff_at": "timestamp",
        "purged_at": "timestamp",
    },
}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class PrivacyError(ValueError):
    """A request that cannot be carried out; the message says what to fix."""


def ensure_privacy_tables(con: Any) -> None:
    """Create the ``privacy`` schema and its tables (a DuckDB connection or an
    ingestion :class:`~mailroom.ingest.Destination`: both have ``execute``)."""
    con.execute(f"create schema if not exists {PRIVACY_SCHEMA}")
    for table, columns in PRIVACY_TABLES.items():
        typed = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
        con.execute(f"create table if not exists {PRIVACY_SCHEMA}.{table} ({typed})")


def normalize_email(value: object) -> str | None:
    """An email as the warehouse compares it (trimmed, lower-cased), or ``None``."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    return email if _EMAIL.fullmatch(email) else None


def privacy_key(home: Path) -> str | None:
    """The erasure key: ``MAILROOM_PRIVACY_KEY``, else ``HOME/privacy.key``; None
    when neither exists (then nobody has been erased with this data folder)."""
    value = os.environ.get(ENV_PRIVACY_KEY)
    if value:
        return value.strip()
    path = Path(home) / KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    return None


def ensure_privacy_key(home: Path) -> str:
    """The erasure key, creating ``HOME/privacy.key`` (random, mode 0600) if none."""
    key = privacy_key(home)
    if key:
        return key
    path = Path(home) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(key + "\n")
    return key


def key_fingerprint(key: str) -> str:
    """A short digest naming the key a hash was made with (not the key)."""
    return hashlib.sha256(f"mailroom-erasure-key|{key}".encode()).hexdigest()[:16]


# The identifiers an erased person is remembered by, and how a value of each kind
# is normalized before hashing (as staging and identity resolution compare them).
ID_KINDS = ("email", "phone", "customer_id", "contact_id", "anonymous_id", "device_id")
MIN_PHONE_DIGITS = 8


def identifier_kind(column: str) -> str | None:
    """Which kind of identifier a landing/raw column holds, or None: ``email`` and
    ``phone`` columns, and the shop ``customer_id``, ``contact_id``,
    ``anonymous_id`` and ``device_id`` of the landing contract."""
    name = column.lower()
    if name == "email" or name.endswith("_email"):
        return "email"
    if name == "phone" or name.endswith("_phone"):
        return "phone"
    if name in ("customer_id", "contact_id", "anonymous_id", "device_id"):
        return name
    return None


def normalize_identifier(kind: str, value: object) -> str | None:
    """A value as it is hashed: emails trimmed and lower-cased, phones as their
    digits (at least 8, as identity resolution links them), ids trimmed."""
    if value is None:
        return None
    text = str(value).strip()
    if kind == "email":
        return normalize_email(text)
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", text)
        return digits if len(digits) >= MIN_PHONE_DIGITS else None
    return text or None


def identifier_hash(kind: str, value: str, key: str) -> str:
    """sha256 of ``key|kind|value`` in hex (``value`` already normalized)."""
    return hashlib.sha256(f"{key}|{kind}|{value}".encode()).hexdigest()


@dataclass(frozen=True)
class ErasedIdentifiers:
    """The erased identifiers on record and the key to test values against them."""

    hashes: frozenset[str]
    key: str | None

    @classmethod
    def load(cls, con: Any, home: Path) -> ErasedIdentifiers:
        """Read ``privacy.erased_identifiers`` from a DuckDB connection."""
        return cls.from_rows(_rows(con, ERASED_SQL), home)

    @classmethod
    def from_rows(cls, rows: list[tuple], home: Path) -> ErasedIdentifiers:
        """From ``(identifier_hash, key_fingerprint)`` rows; refuses a missing key
        or a key other than the one the hashes were made with."""
        if not rows:
            return cls(frozenset(), None)
        key = privacy_key(home)
        if not key:
            raise PrivacyError(
                f"{len(rows)} erased identifiers are on record but the erasure key "
                f"is missing: restore {Path(home) / KEY_FILE} or set "
                f"{ENV_PRIVACY_KEY}, or erased people could come back"
            )
        fingerprints = {fingerprint for _, fingerprint in rows}
        if fingerprints != {key_fingerprint(key)}:
            raise PrivacyError(
                "the erasure key differs from the one the erased identifiers were "
                f"hashed with: restore the original {KEY_FILE} or {ENV_PRIVACY_KEY}"
            )
        return cls(frozenset(h for h, _ in rows), key)

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def is_erased(self, kind: str, value: object) -> bool:
        normalized = normalize_identifier(kind, value)
        if not self.hashes or normalized is None:
            return False
        return identifier_hash(kind, normalized, self.key) in self.hashes

    def is_erased_email(self, email: str) -> bool:
        return self.is_erased("email", email)


ERASED_SQL = (
    "select identifier_hash, key_fingerprint "
    f"from {PRIVACY_SCHEMA}.{ERASED_IDENTIFIERS}"
)


def erased_recipients(con: Any, home: Path, outbox_emails: list[str]) -> dict[str, int]:
    """How many rows of ``marts.personalization`` and of ``outbox_emails`` are the
    address of an erased person (both 0 when all is well)."""
    erased = ErasedIdentifiers.load(con, home)
    mart = [row[0] for row in _rows(con, "select email from marts.personalization")]
    return {
        "erased_in_personalization": sum(map(erased.is_erased_email, mart)),
        "erased_in_outbox": sum(map(erased.is_erased_email, outbox_emails)),
    }


def _rows(con: Any, sql: str) -> list[tuple]:
    import duckdb

    try:
        return con.execute(sql).fetchall()
    except duckdb.CatalogException:
        return []


def new_request_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Retention ------------------------------------------------------------------------

# Raw event tables and the timestamp column their age is read from.
EVENT_SOURCES = {"web_events": "occurred_at", "email_events": "occurred_at"}
INTAKE_FILE = re.compile(r"intake-(\d{8}T\d{6})\d*Z-[0-9a-f]+\.jsonl")


@dataclass
class PurgeReport:
    """What one retention purge removed."""

    cutoff: datetime
    retention_days: int
    per_table: dict[str, int] = field(default_factory=dict)
    files_deleted: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.per_table.values())


def retention_cutoff(as_of: date, retention_days: int) -> datetime:
    """Midnight UTC ``retention_days`` before the as-of date: older events go."""
    return datetime.combine(as_of, datetime.min.time()) - timedelta(days=retention_days)


def purge_expired_events(
    con: Any,
    as_of: date,
    retention_days: int,
    landing: Path | None = None,
) -> PurgeReport:
    """Delete web and email events that happened before the retention cutoff from
    ``raw`` and from every table built from them that dbt keeps between runs.

    ``con`` is the DuckDB file's connection or an ingestion
    :class:`~mailroom.ingest.Destination` (PostgreSQL's). Raw rows are compared on
    their delivered timestamp (parsed as dbt staging parses it); a value that does
    not parse is kept, since staging quarantines it and nothing downstream uses
    it. Every other base table with ``event_id`` and ``occurred_at`` columns (the
    incremental event models, and the rebuilt ones until their next build) loses
    the same events. Intake files Mailroom wrote into the landing folder
    (``intake-<time>-<id>.jsonl``) before the cutoff are deleted; files the user
    delivered are left alone (see the README).

    Raises
    ------
    PrivacyError
        On PostgreSQL, if dbt never ran there (its setup hook creates the
        ``mailroom_try_cast`` function staging parses timestamps with).
    """
    from mailroom.ingest import DuckDBDestination

    if isinstance(con, duckdb.DuckDBPyConnection):
        con = DuckDBDestination(con)
    cutoff = retention_cutoff(as_of, retention_days)
    report = PurgeReport(cutoff=cutoff, retention_days=retention_days)
    present = {
        row[0]
        for row in con.fetchall(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw'"
        )
    }
    parse = (
        _duckdb_timestamp
        if isinstance(con, DuckDBDestination)
        else _postgres_timestamp(con)
    )

    def count(relation: str) -> int:
        return con.fetchall(f"select count(*) from {relation}")[0][0]

    con.begin()
    try:
        for source, column in EVENT_SOURCES.items():
            if source not in present:
                continue
            table = f"raw.{source}"
            before = count(table)
            con.execute(
                f"delete from {table} where {parse(column)} "
                "< cast(? as timestamp) at time zone 'UTC'",
                [cutoff],
            )
            report.per_table[table] = before - count(table)
        for schema, table in _event_tables(con):
            relation = f'"{schema}"."{table}"'
            before = count(relation)
            con.execute(f"delete from {relation} where occurred_at < ?", [cutoff])
            deleted = before - count(relation)
            if deleted:
                report.per_table[f"{schema}.{table}"] = deleted
        if landing is not None:
            report.files_deleted = _expired_intake_files(Path(landing), cutoff)
        ensure_privacy_tables(con)
        if report.rows or report.files_deleted:
            _record_purge(con, report)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    for path in report.files_deleted:
        Path(landing, path).unlink(missing_ok=True)
    return report


def _duckdb_timestamp(column: str) -> str:
    """SQL: a raw text column as staging reads it on DuckDB (null if unreadable)."""
    return f'try_cast("{column}" as timestamptz)'


def _postgres_timestamp(con: Any) -> Callable[[str], str]:
    """SQL: a raw text column as staging reads it on PostgreSQL (the
    ``postgres__safe_cast`` macro: ISO dates only, through ``mailroom_try_cast``)."""
    found = con.fetchall(
        "select namespace.nspname from pg_proc as function "
        "inner join pg_namespace as namespace "
        "on function.pronamespace = namespace.oid "
        "where function.proname = 'mailroom_try_cast' order by 1 limit 1"
    )
    if not found:
        raise PrivacyError(
            "this PostgreSQL warehouse has no mailroom_try_cast function: run "
            "`dbt build --target postgres` once (its on-run-start hook creates it)"
        )
    schema = found[0][0]

    def parse(column: str) -> str:
        return (
            f'"{schema}".mailroom_try_cast(case when trim("{column}") '
            f"~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' then \"{column}\" end, "
            "null::timestamptz)"
        )

    return parse


def _record_purge(con: Any, report: PurgeReport) -> None:
    con.execute(
        f"insert into {PRIVACY_SCHEMA}.{RETENTION_PURGES} values (?, ?, ?, ?, ?, ?, ?)",
        [
            new_request_id(),
            report.retention_days,
            report.rows,
            json.dumps(report.per_table, sort_keys=True),
            len(report.files_deleted),
            report.cutoff,
            utc_now(),
        ],
    )


def _event_tables(con: Any) -> list[tuple[str, str]]:
    """Base tables outside raw with an ``event_id`` and a timestamp ``occurred_at``."""
    rows = con.fetchall(
        """
        select columns.table_schema, columns.table_name
        from information_schema.columns as columns
        inner join information_schema.tables as tables
            on columns.table_schema = tables.table_schema
            and columns.table_name = tables.table_name
        where tables.table_type = 'BASE TABLE'
            and columns.table_schema not in (
                'raw', 'privacy', 'information_schema', 'pg_catalog'
            )
            and columns.column_name in ('event_id', 'occurred_at')
        group by 1, 2
        having count(*) = 2
            and upper(max(case when columns.column_name = 'occurred_at'
                then columns.data_type end)) like 'TIMESTAMP%'
        order by 1, 2
        """
    )
    return [(schema, table) for schema, table in rows]


def _expired_intake_files(landing: Path, cutoff: datetime) -> list[str]:
    """Intake files (written by `mailroom intake`) from before the cutoff."""
    expired = []
    for source in EVENT_SOURCES:
        folder = landing / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            match = INTAKE_FILE.fullmatch(path.name)
            if match and datetime.strptime(match[1], "%Y%m%dT%H%M%S") < cutoff:
                expired.append(f"{source}/{path.name}")
    return expired


def as_json(counts: Mapping[str, int]) -> str:
    return json.dumps(dict(counts), sort_keys=True)
