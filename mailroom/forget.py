"""Erasure: `mailroom forget` removes a person from everything Mailroom produced.

For each email given, the person is found through ``marts.customer_identity_map``
(and the raw rows naming the email, for a warehouse never modelled): every email,
phone, shop customer id, CRM contact id, Mailroom customer id (also the ids they
had before a merge or split), order id and web visitor id (anonymous and device
ids that only they used) linked to them. Then:

1. every base table of the warehouse (``raw`` with the load-time check lookups,
   staging, intermediate with the incremental identity history, marts with the
   segment history and journey steps, quality, ``ml``, ``emails``) loses the rows
   whose identifier columns (:func:`column_rule`) hold one of those values; the
   next `mailroom run` rebuilds the models from what is left. With a PostgreSQL
   warehouse (``--postgres``) the person is resolved and erased there too;
2. every outbox run loses their payloads (the payload file, ``payloads.csv``, the
   manifest's counts and checksums rewritten, the run swapped in by rename), the
   ESP sync state loses their acknowledgements and the export log their id;
3. landing files lose their rows (rewritten atomically, and the ingestion ledger
   updated to the new checksum so that nothing is loaded again), unless
   ``keep_landing`` (then they are only reported);
4. their previews, lines of ``logs/``, entries of ``suppression.txt`` and values in
   the Dagster instance's storage are removed;
5. ``privacy.erased_identifiers`` keeps the keyed hash of each of their emails,
   phones, shop, CRM and visitor ids, so ingestion leaves out any row naming them
   again, and ``privacy.erasure_requests`` records the request with counts only
   (in each warehouse erased).
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mailroom.contract import SOURCES
from mailroom.ingest import (
    LEDGER,
    RAW_SCHEMA,
    Destination,
    DuckDBDestination,
    _sha256,
    ensure_raw_tables,
)
from mailroom.privacy import (
    ERASED_IDENTIFIERS,
    ERASURE_REQUESTS,
    MIN_PHONE_DIGITS,
    PRIVACY_SCHEMA,
    PrivacyError,
    as_json,
    ensure_privacy_key,
    identifier_hash,
    key_fingerprint,
    new_request_id,
    normalize_email,
    normalize_identifier,
    utc_now,
)
from mailroom.settings import Settings, duckdb_memory_limit
from renderer.export.state import SyncState
from renderer.export.sync import STATE_FILE
from renderer.outbox import rewrite_run, run_ids, run_payloads_file

# Kinds of values an erasure removes, as stored in the temporary _forget table.
EMAIL, PHONE, SHOP, CONTACT, CUSTOMER = "email", "phone", "shop", "contact", "customer"
ORDER, VISITOR, IDENTIFIER, RECORD = "order", "visitor", "identifier", "record"


@dataclass
class Person:
    """Everything that identifies the people of one request (normalized)."""

    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # digits only
    phone_texts: set[str] = field(default_factory=set)  # as delivered
    shop_ids: set[str] = field(default_factory=set)
    contact_ids: set[str] = field(default_factory=set)
    customer_ids: set[str] = field(default_factory=set)  # Mailroom ids
    order_ids: set[str] = field(default_factory=set)
    visitor_ids: set[str] = field(default_factory=set)  # anonymous and device ids
    anonymous_ids: set[str] = field(default_factory=set)
    device_ids: set[str] = field(default_factory=set)
    people: int = 0

    def update(self, other: Person) -> None:
        """Add the identifiers ``other`` found (the same request resolved in a
        second warehouse)."""
        for name, value in vars(other).items():
            if isinstance(value, set):
                getattr(self, name).update(value)
        self.people = max(self.people, other.people)

    def values(self) -> dict[str, set[str]]:
        keys = (
            {f"email:{v}" for v in self.emails}
            | {f"customer_id:{v}" for v in self.shop_ids}
            | {f"contact_id:{v}" for v in self.contact_ids}
            | {f"phone:+{v}" for v in self.phones}
            | {f"phone:{v}" for v in self.phones}
        )
        records = (
            {f"customers:{v}" for v in self.shop_ids}
            | {f"crm_contacts:{v}" for v in self.contact_ids}
            | {f"orders:{v}" for v in self.order_ids}
        )
        return {
            EMAIL: self.emails,
            PHONE: self.phones,
            SHOP: self.shop_ids,
            CONTACT: self.contact_ids,
            CUSTOMER: self.customer_ids,
            ORDER: self.order_ids,
            VISITOR: self.visitor_ids,
            IDENTIFIER: keys,
            RECORD: records,
        }

    def text_needles(self) -> list[str]:
        """Values distinctive enough to look for inside free text (logs, the
        Dagster event log): emails, phones as delivered, Mailroom and visitor ids."""
        needles = self.emails | self.phone_texts | self.customer_ids
        needles |= {v for v in self.visitor_ids | self.shop_ids if len(v) >= 6}
        needles |= {v for v in self.contact_ids if len(v) >= 6}
        return sorted(needles, key=len, reverse=True)

    def hashed(self) -> list[tuple[str, str]]:
        """``(kind, normalized value)`` kept as keyed hashes."""
        pairs = [("email", v) for v in self.emails]
        pairs += [("phone", v) for v in self.phones]
        pairs += [("customer_id", v) for v in self.shop_ids]
        pairs += [("contact_id", v) for v in self.contact_ids]
        pairs += [("anonymous_id", v) for v in self.anonymous_ids]
        pairs += [("device_id", v) for v in self.device_ids]
        return sorted(pairs)


@dataclass
class ErasureReport:
    """What one erasure request removed (counts only)."""

    request_id: str
    people: int
    emails: int
    per_table: dict[str, int] = field(default_factory=dict)  # the DuckDB file's
    postgres_per_table: dict[str, int] = field(default_factory=dict)
    per_file: dict[str, int] = field(default_factory=dict)
    landing_kept: dict[str, int] = field(default_factory=dict)
    esp_destinations: list[str] = field(default_factory=list)
    identifiers_suppressed: int = 0

    @property
    def rows(self) -> int:
        return sum(self.per_table.values())


def column_rule(schema: str, column: str) -> tuple[str, str] | None:
    """``(kind, SQL expression over the column)`` when a warehouse column holds an
    identifier an erasure matches, else None.

    The rules follow the names the project uses everywhere: ``*email*`` columns
    (compared trimmed and lower-cased), ``*phone*`` columns (compared as digits),
    the shop's ``customer_id`` in ``raw`` and ``shop_customer_id`` elsewhere,
    Mailroom's ``customer_id`` (and ``*_customer_id``, ``recipient_id``) outside
    ``raw``, ``contact_id``, ``order_id``, anonymous and device ids, visitor and
    session keys, identifier keys (``type:value``, also the component ids made of
    them) and record ids (``source:id``).
    """
    name = column.lower()
    quoted = f'"{column}"'
    if "email" in name:
        return EMAIL, f"lower(trim({quoted}))"
    if "phone" in name:
        return PHONE, f"regexp_replace({quoted}, '[^0-9]', '', 'g')"
    if name == "shop_customer_id" or (schema == RAW_SCHEMA and name == "customer_id"):
        return SHOP, quoted
    if name in ("customer_id", "recipient_id") or name.endswith("_customer_id"):
        return CUSTOMER, quoted
    if name == "contact_id" or name.endswith("_contact_id"):
        return CONTACT, quoted
    if name in ("order_id", "foreign_key"):
        return ORDER, quoted
    if name in ("anonymous_id", "device_id", "visitor_key"):
        return VISITOR, quoted
    if name == "session_id":
        return VISITOR, f"split_part({quoted}, '#', 1)"
    if name in ("identifier_key", "component_a", "component_b") or name.endswith(
        "component_id"
    ):
        return IDENTIFIER, quoted
    if name in ("record_id", "record_a", "record_b"):
        return RECORD, quoted
    if name == "record_key":
        return "record_key", quoted
    return None


def forget(
    settings: Settings,
    emails: Iterable[str],
    via: str = "mailroom forget",
    requested_by: str | None = None,
    keep_landing: bool = False,
    compact: bool = True,
    postgres: Destination | None = None,
) -> ErasureReport:
    """Erase the people with these emails from the warehouse, the outbox, the
    landing folder and Mailroom's other files; see the module docstring.

    With ``compact`` (the default) the warehouse is then copied into a new file
    that replaces it (:func:`compact_warehouse`): DuckDB leaves deleted values in
    free blocks until it reuses them, the copy holds only live rows.

    With ``postgres`` (a :class:`~mailroom.postgres.PostgresDestination`), the
    people are also resolved in and erased from that warehouse, which keeps the
    request and the keyed hashes too, so that ingesting into it leaves them out.
    Its changes are committed last: a request that fails midway leaves it as it
    was, and running the request again finishes it.

    Raises
    ------
    PrivacyError
        If an email is not an address, or none is given.
    """
    wanted = _checked_emails(emails)
    key = ensure_privacy_key(settings.home)
    request_id = new_request_id()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(
        str(settings.warehouse), config={"memory_limit": duckdb_memory_limit()}
    ) as duck:
        con = DuckDBDestination(duck)
        ensure_raw_tables(con)
        person = resolve(con, wanted)
        if postgres is not None:
            ensure_raw_tables(postgres)
            person.update(resolve(postgres, wanted))
        report = ErasureReport(request_id, person.people, len(person.emails))
        # Files first: each step only needs the person's values, so a request
        # interrupted midway is finished by running it again.
        rewrites = _rewrite_landing(settings.landing, person, keep_landing, report)
        hashes = [
            (identifier_hash(kind, value, key), kind) for kind, value in person.hashed()
        ]
        # Committed in this order; those not committed yet roll back on failure.
        pending = [con] if postgres is None else [con, postgres]
        for warehouse in pending:
            warehouse.begin()
        try:
            _scrub_outbox(settings, person, report)
            _scrub_home_files(settings, person, report)
            request = {
                "request_id": request_id,
                "via": via,
                "requested_by": requested_by or _user(),
                "people": report.people,
                "emails": report.emails,
                "per_file": as_json(report.per_file),
                "esp_destinations": json.dumps(report.esp_destinations),
                "requested_at": utc_now(),
            }
            report.per_table = _erase_in_warehouse(
                con, person, hashes, key, request, rewrites
            )
            if postgres is not None:
                report.postgres_per_table = _erase_in_warehouse(
                    postgres, person, hashes, key, request, rewrites
                )
            report.identifiers_suppressed = len(hashes)
            while pending:
                pending[0].commit()
                pending.pop(0)
        except BaseException:
            for warehouse in pending:
                warehouse.rollback()
            for _, temporary in _pending_replacements(settings.landing, rewrites):
                temporary.unlink(missing_ok=True)
            raise
        duck.execute("checkpoint")
    for relative, temporary in _pending_replacements(settings.landing, rewrites):
        os.replace(temporary, settings.landing / relative)
    if compact:
        compact_warehouse(settings.warehouse)
    return report


def compact_warehouse(path: Path) -> None:
    """Rewrite the DuckDB file with only its live rows (``COPY FROM DATABASE`` into
    a sibling file, then an atomic rename over the original)."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.compact{path.suffix}")
    temporary.unlink(missing_ok=True)
    try:
        with duckdb.connect(
            str(path), config={"memory_limit": duckdb_memory_limit()}
        ) as con:
            con.execute("set enable_progress_bar = false")
            name = con.execute("select current_database()").fetchone()[0]
            con.execute(f"attach '{temporary}' as _compacted")
            con.execute(f'copy from database "{name}" to _compacted')
            con.execute("detach _compacted")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)


def read_emails_file(path: Path) -> list[str]:
    """Emails from a file: one per line, or a CSV whose header has an ``email``
    column (any case). Blank lines and ``#`` comments are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise PrivacyError(f"{path}: cannot be read ({error.strerror})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise PrivacyError(f"{path}: holds no email")
    header = next(csv.reader([lines[0]]))
    names = [name.strip().lower() for name in header]
    if len(header) > 1 or names == ["email"]:
        if "email" not in names:
            raise PrivacyError(
                f"{path} row 1 (header): no 'email' column; give one email per line "
                f"or a CSV with an email column (found: {', '.join(header)})"
            )
        column = names.index("email")
        emails = []
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if number == 1 or not any(cell.strip() for cell in row):
                continue
            if column >= len(row) or normalize_email(row[column]) is None:
                value = row[column] if column < len(row) else ""
                raise PrivacyError(
                    f"{path} row {number}, column email: {value!r} is not an email "
                    "address; fix or remove the row"
                )
            emails.append(row[column])
        return emails
    emails = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if normalize_email(entry) is None:
            raise PrivacyError(
                f"{path} line {number}: {entry!r} is not an email address; fix or "
                "remove the line"
            )
        emails.append(entry)
    return emails


def _checked_emails(emails: Iterable[str]) -> set[str]:
    wanted = set()
    for value in emails:
        email = normalize_email(value)
        if email is None:
            raise PrivacyError(f"{value!r} is not an email address")
        wanted.add(email)
    if not wanted:
        raise PrivacyError("no email given: use --email ADDRESS or --file FILE")
    return wanted


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# Resolving the person ---------------------------------------------------------


def _warehouse(con: duckdb.DuckDBPyConnection | Destination) -> Destination:
    """The warehouse to erase from: the DuckDB file's connection or any ingestion
    :class:`~mailroom.ingest.Destination` (PostgreSQL's), whose SQL takes ``?``."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBDestination(con)
    return con


def _exists(con: Destination, schema: str, table: str) -> bool:
    return bool(
        con.fetchall(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        )[0][0]
    )


def _column(con: Destination, sql: str, params: list[Any]) -> set[str]:
    return {row[0] for row in con.fetchall(sql, params) if row[0] is not None}


def resolve(con: duckdb.DuckDBPyConnection | Destination, emails: set[str]) -> Person:
    """The identifiers of the people with these emails (see the module docstring)."""
    con = _warehouse(con)
    person = Person(emails=set(emails))
    if _exists(con, "marts", "customer_identity_map"):
        person.customer_ids = _column(
            con,
            "select distinct customer_id from marts.customer_identity_map "
            "where id_type = 'email' and id_value in (select unnest(?::varchar[]))",
            [sorted(emails)],
        )
        rows = con.fetchall(
            "select id_type, id_value from marts.customer_identity_map "
            "where customer_id in (select unnest(?::varchar[]))",
            [sorted(person.customer_ids)],
        )
        for id_type, value in rows:
            if id_type == "email":
                person.emails.add(value)
            elif id_type == "customer_id":
                person.shop_ids.add(value)
            elif id_type == "contact_id":
                person.contact_ids.add(value)
            elif id_type == "phone":
                digits = normalize_identifier("phone", value)
                if digits:
                    person.phones.add(digits)
    addresses = [sorted(person.emails)]
    person.shop_ids |= _column(
        con,
        "select customer_id from raw.customers "
        "where lower(trim(email)) in (select unnest(?::varchar[]))",
        addresses,
    )
    person.contact_ids |= _column(
        con,
        "select contact_id from raw.crm_contacts "
        "where lower(trim(email)) in (select unnest(?::varchar[]))",
        addresses,
    )
    _resolve_phones(con, person)
    if _exists(con, "intermediate", "int_identity_customer_id_history"):
        keys = sorted(person.values()[IDENTIFIER])
        earlier = _column(
            con,
            "select customer_id from intermediate.int_identity_customer_id_history "
            "where identifier_key in (select unnest(?::varchar[])) union "
            "select previous_customer_id "
            "from intermediate.int_identity_customer_id_history "
            "where identifier_key in (select unnest(?::varchar[]))",
            [keys, keys],
        )
        # An id the person had before a split may be someone else's now: keep it.
        others = (
            _column(
                con,
                "select distinct customer_id from marts.customer_identity_map "
                "where customer_id in (select unnest(?::varchar[])) and not ("
                "customer_id in (select unnest(?::varchar[])))",
                [sorted(earlier), sorted(person.customer_ids)],
            )
            if _exists(con, "marts", "customer_identity_map")
            else set()
        )
        person.customer_ids |= earlier - others
    shops, mails = [sorted(person.shop_ids)], [sorted(person.emails)]
    person.order_ids = _column(
        con,
        "select order_id from raw.orders where customer_id in "
        "(select unnest(?::varchar[])) or lower(trim(email)) in "
        "(select unnest(?::varchar[]))",
        shops + mails,
    )
    _resolve_visitors(con, person)
    person.people = len(person.customer_ids - _merged_away(con, person)) or (
        1 if person.shop_ids or person.contact_ids else 0
    )
    return person


def _merged_away(con: Destination, person: Person) -> set[str]:
    """The person's ids that are no longer current (merged or split away)."""
    if not _exists(con, "marts", "customer_identity_map"):
        return set()
    current = _column(
        con,
        "select distinct customer_id from marts.customer_identity_map "
        "where customer_id in (select unnest(?::varchar[]))",
        [sorted(person.customer_ids)],
    )
    return person.customer_ids - current


def _resolve_phones(con: Destination, person: Person) -> None:
    """Phones on the person's account and CRM rows that no one else's row has.

    Decided in the warehouse, as digits (at least ``MIN_PHONE_DIGITS``): only the
    person's numbers come back, with the ways they were written."""
    digits = "regexp_replace(phone, '[^0-9]', '', 'g')"
    rows = con.fetchall(
        f"""
        with phones as (
            select phone, customer_id, null as contact_id from raw.customers
            union all
            select phone, null as customer_id, contact_id from raw.crm_contacts
        ),
        numbers as (
            select
                phone,
                {digits} as digits,
                coalesce(customer_id in (select unnest(?::varchar[])), false)
                or coalesce(contact_id in (select unnest(?::varchar[])), false)
                    as is_mine
            from phones
            where length({digits}) >= {MIN_PHONE_DIGITS}
        )
        select
            digits,
            bool_or(is_mine) as is_mine,
            bool_or(not is_mine) as is_theirs,
            array_agg(distinct phone) as written
        from numbers
        group by digits
        having bool_or(is_mine) or digits in (select unnest(?::varchar[]))
        """,
        [sorted(person.shop_ids), sorted(person.contact_ids), sorted(person.phones)],
    )
    person.phones |= {number for number, mine, theirs, _ in rows if mine and not theirs}
    for number, _, _, written in rows:
        if number in person.phones:
            person.phone_texts |= {text.strip() for text in written}
    # The E.164 forms the load-time checks gave their numbers.
    checked = con.fetchall(
        f"select phone_e164 from {RAW_SCHEMA}._phone_checks "
        "where phone_e164 is not null and regexp_replace(phone_raw, '[^0-9]', '', 'g') "
        "in (select unnest(?::varchar[]))",
        [sorted(person.phones)],
    )
    for (e164,) in checked:
        number = normalize_identifier("phone", e164)
        if number:
            person.phones.add(number)
        person.phone_texts.add(e164)


def _resolve_visitors(con: Destination, person: Person) -> None:
    """Anonymous and device ids seen with the person and with no one else.

    Decided in the warehouse: only the person's candidate ids come back, never
    the web events (tens of millions of rows at 1,000,000 customers)."""
    resolved = (
        _column(
            con,
            "select anonymous_id from intermediate.int_web_anonymous_ids_resolved "
            "where customer_id in (select unnest(?::varchar[]))",
            [sorted(person.customer_ids)],
        )
        if _exists(con, "intermediate", "int_web_anonymous_ids_resolved")
        else set()
    )
    # Per id seen with the person (on an event naming them, or resolved to
    # them): whether an event naming someone else carries it too.
    rows = con.fetchall(
        """
        with named as (
            select
                anonymous_id,
                device_id,
                coalesce(customer_id in (select unnest(?::varchar[])), false)
                or coalesce(
                    lower(trim(email)) in (select unnest(?::varchar[])), false
                ) as is_mine
            from raw.web_events
            where (anonymous_id <> '' or device_id <> '')
                and (customer_id is not null or email is not null)
        ),
        seen as (
            select 'anonymous_id' as kind, anonymous_id as value, is_mine
            from named where anonymous_id <> ''
            union all
            select 'device_id' as kind, device_id as value, is_mine
            from named where device_id <> ''
        ),
        candidates as (
            select kind, value from seen where is_mine
            union
            select 'anonymous_id' as kind, unnest(?::varchar[]) as value
        )
        select
            candidates.kind,
            candidates.value,
            coalesce(bool_or(not seen.is_mine), false) as is_shared
        from candidates
        left join seen
            on candidates.kind = seen.kind and candidates.value = seen.value
        group by candidates.kind, candidates.value
        """,
        [sorted(person.shop_ids), sorted(person.emails), sorted(resolved)],
    )
    for kind, value, is_shared in rows:
        if not is_shared:
            ids = person.anonymous_ids if kind == "anonymous_id" else person.device_ids
            ids.add(value)
    person.visitor_ids = person.anonymous_ids | person.device_ids


# The warehouse ------------------------------------------------------------------


def _load_values(con: Destination, person: Person) -> None:
    con.execute("drop table if exists _forget")
    con.execute("create temporary table _forget (kind varchar, value varchar)")
    rows = [
        (kind, value)
        for kind, values in person.values().items()
        for value in values
        if value
    ]
    # Visitor and session keys may be a shop id or an email too.
    rows += [(VISITOR, value) for value in person.shop_ids | person.emails]
    # A quality row's record key is an order, account or contact id or an email.
    rows += [
        ("record_key", value)
        for value in person.order_ids
        | person.shop_ids
        | person.contact_ids
        | person.emails
    ]
    if rows:
        kinds, values = zip(*rows, strict=True)
        con.execute(
            "insert into _forget select unnest(?::varchar[]), unnest(?::varchar[])",
            [list(kinds), list(values)],
        )


def _delete_rows(con: Destination) -> dict[str, int]:
    """Delete the matching rows of every base table (not views: they follow);
    return the rows deleted per ``schema.table``."""
    tables = con.fetchall(
        """
        select columns.table_schema, columns.table_name, columns.column_name
        from information_schema.columns as columns
        inner join information_schema.tables as tables
            on columns.table_schema = tables.table_schema
            and columns.table_name = tables.table_name
        where tables.table_type = 'BASE TABLE'
            and tables.table_catalog = current_database()
            and columns.table_schema not in ('information_schema', 'pg_catalog', ?)
            and upper(columns.data_type) in ('VARCHAR', 'TEXT', 'CHARACTER VARYING')
        order by 1, 2, columns.ordinal_position
        """,
        [PRIVACY_SCHEMA],
    )
    predicates: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in tables:
        rule = column_rule(schema, column)
        if rule is None:
            continue
        kind, expression = rule
        predicates.setdefault((schema, table), []).append(
            f"{expression} in (select value from _forget where kind = '{kind}')"
        )
    per_table = {}
    for (schema, table), clauses in predicates.items():
        deleted = len(
            con.fetchall(
                f'delete from "{schema}"."{table}" where '
                + " or ".join(clauses)
                + " returning 1"
            )
        )
        if deleted:
            per_table[f"{schema}.{table}"] = deleted
    return per_table


def _erase_in_warehouse(
    con: Destination,
    person: Person,
    hashes: list[tuple[str, str]],
    key: str,
    request: dict[str, Any],
    checksums: dict[str, str],
) -> dict[str, int]:
    """In the open transaction: delete the person's rows, point the ledger at the
    rewritten landing files' ``checksums``, keep the keyed ``hashes`` of their
    identifiers and record the ``request`` (its columns but the per-table counts,
    which this returns)."""
    _load_values(con, person)
    per_table = _delete_rows(con)
    for relative, checksum in checksums.items():
        source, name = relative.split("/", 1)
        con.execute(
            f"update {RAW_SCHEMA}.{LEDGER} set checksum = ? "
            "where source = ? and file_name = ? and status = 'loaded'",
            [checksum, source, name],
        )
    known = {
        row[0]
        for row in con.fetchall(
            f"select identifier_hash from {PRIVACY_SCHEMA}.{ERASED_IDENTIFIERS}"
        )
    }
    for identifier, kind in hashes:
        if identifier not in known:
            con.execute(
                f"insert into {PRIVACY_SCHEMA}.{ERASED_IDENTIFIERS} "
                "values (?, ?, ?, ?, ?)",
                [
                    identifier,
                    kind,
                    key_fingerprint(key),
                    request["request_id"],
                    request["requested_at"],
                ],
            )
    con.execute(
        f"insert into {PRIVACY_SCHEMA}.{ERASURE_REQUESTS} "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            request["request_id"],
            request["via"],
            request["requested_by"],
            request["people"],
            request["emails"],
            sum(per_table.values()),
            as_json(per_table),
            request["per_file"],
            request["esp_destinations"],
            request["requested_at"],
        ],
    )
    con.execute("drop table _forget")
    return per_table


# The outbox and Mailroom's files ---------------------------------------------------


def _scrub_outbox(settings: Settings, person: Person, report: ErasureReport) -> None:
    ids = person.customer_ids
    needles = [f'"{value}"'.encode() for value in ids | person.emails]

    def drop(payload: dict[str, Any]) -> bool:
        email = normalize_email(payload.get("email"))
        return payload.get("recipient_id") in ids or email in person.emails

    for run_id in run_ids(settings.outbox):
        removed = rewrite_run(settings.outbox, run_id, drop, needles)
        if removed:
            name = run_payloads_file(settings.outbox, run_id)
            report.per_file[f"outbox/{run_id}/{name}"] = removed
    state_path = settings.outbox / STATE_FILE
    if state_path.exists():
        with sqlite3.connect(state_path) as connection:
            report.esp_destinations = (
                [
                    row[0]
                    for row in connection.execute(
                        "select distinct destination from acknowledged "
                        f"where recipient_id in ({','.join('?' * len(ids))}) "
                        "and destination <> 'outbox' order by 1",
                        sorted(ids),
                    ).fetchall()
                ]
                if ids
                else []
            )
        connection.close()
        with SyncState(state_path) as state:
            removed = state.forget(ids, person.emails)
        if removed:
            report.per_file[f"outbox/{STATE_FILE}"] = removed


def _scrub_home_files(
    settings: Settings, person: Person, report: ErasureReport
) -> None:
    """Previews, logs, the suppression list and the Dagster instance's storage."""
    home = settings.home
    for customer_id in person.customer_ids:
        preview = home / "preview" / f"{customer_id}.html"
        if preview.exists():
            preview.unlink()
            report.per_file[f"preview/{preview.name}"] = 1
    suppression = home / "suppression.txt"
    if suppression.exists():
        lines = suppression.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.strip().lower() not in person.emails]
        if len(kept) != len(lines):
            _replace_file(suppression, "".join(kept).encode())
            report.per_file["suppression.txt"] = len(lines) - len(kept)
    _scrub_ground_truth(home / "ground_truth", person, home, report)
    needles = person.text_needles()
    if not needles:
        return
    pattern = re.compile(
        "|".join(rf"(?<![\w.-]){re.escape(value)}(?![\w-])" for value in needles),
        re.IGNORECASE,
    )
    logs = home / "logs"
    if logs.is_dir():
        for path in sorted(logs.rglob("*")):
            if path.is_file():
                _drop_matching_lines(path, pattern, home, report)
    dagster = Path(os.environ.get("DAGSTER_HOME") or home / "dagster")
    if dagster.is_dir() and dagster.resolve().is_relative_to(home.resolve()):
        for path in sorted(dagster.rglob("*")):
            if not path.is_file():
                continue
            if path.suffix == ".db":
                _scrub_sqlite(path, pattern, home, report)
            elif path.suffix in (".out", ".err", ".log", ".txt", ".json"):
                _drop_matching_lines(path, pattern, home, report)


def _scrub_ground_truth(
    folder: Path, person: Person, home: Path, report: ErasureReport
) -> None:
    """The simulator's answer key (`mailroom generate` writes it beside the demo
    landing files): drop the rows of the simulated people holding one of the
    person's values, in every file."""
    if not folder.is_dir():
        return
    values = {v for values in person.values().values() for v in values}
    values |= person.phone_texts
    wanted = pa.array(sorted({value.lower() for value in values}), pa.string())
    files = sorted(folder.glob("*.parquet"))
    tables = {path: pq.read_table(path) for path in files}
    simulated: set[object] = set()
    for table in tables.values():
        if "person_id" not in table.column_names:
            continue
        # A row holding one of the values in any cell (trimmed, lower-cased).
        hit = pa.repeat(False, table.num_rows)
        for column in table.columns:
            try:
                text = pc.utf8_lower(
                    pc.utf8_trim_whitespace(pc.cast(column, pa.string()))
                )
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                continue  # lists and the like hold no identifier as text
            hit = pc.or_(hit, pc.fill_null(pc.is_in(text, value_set=wanted), False))
        simulated.update(table.filter(hit)["person_id"].drop_null().to_pylist())
    if not simulated:
        return
    for path, table in tables.items():
        if "person_id" not in table.column_names:
            continue
        person_ids = table["person_id"]
        gone = pc.is_in(
            person_ids, value_set=pa.array(sorted(simulated), person_ids.type)
        )
        removed = pc.sum(gone).as_py() or 0
        if removed:
            buffer = pa.BufferOutputStream()
            pq.write_table(table.filter(pc.invert(gone)), buffer)
            _replace_file(path, buffer.getvalue().to_pybytes())
            report.per_file[str(path.relative_to(home))] = removed


def _drop_matching_lines(
    path: Path, pattern: re.Pattern[str], home: Path, report: ErasureReport
) -> None:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not pattern.search(line)]
    if len(kept) != len(lines):
        _replace_file(path, "".join(kept).encode("utf-8", errors="surrogateescape"))
        report.per_file[str(path.relative_to(home))] = len(lines) - len(kept)


def _scrub_sqlite(
    path: Path, pattern: re.Pattern[str], home: Path, report: ErasureReport
) -> None:
    """Replace the person's values in every text cell of a SQLite file (the
    Dagster event log keeps step logs and metadata as JSON text), then vacuum."""
    changed = 0
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "select name from sqlite_master where type = 'table' "
                "and name not like 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = [
                row[1]
                for row in connection.execute(f'pragma table_info("{table}")')
                if (row[2] or "").upper() in ("TEXT", "VARCHAR", "")
                or "CHAR" in (row[2] or "").upper()
            ]
            for column in columns:
                rows = connection.execute(
                    f'select rowid, "{column}" from "{table}" where typeof("{column}")'
                    " = 'text'"
                ).fetchall()
                for rowid, value in rows:
                    if pattern.search(value):
                        connection.execute(
                            f'update "{table}" set "{column}" = ? where rowid = ?',
                            (pattern.sub("[erased]", value), rowid),
                        )
                        changed += 1
        connection.commit()
        if changed:
            connection.execute("vacuum")
    except sqlite3.DatabaseError:
        return
    finally:
        connection.close()
    if changed:
        report.per_file[str(path.relative_to(home))] = changed


def _replace_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (temp file in the same folder)."""
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


# Landing files ------------------------------------------------------------------

_PENDING = ".forget-"


def _landing_checks(person: Person, source: str) -> list[tuple[str, str, set[str]]]:
    """``(landing column, kind, the person's values)`` a landing row is matched on."""
    checks = [
        ("email", "email", person.emails),
        ("phone", "phone", person.phones),
        ("customer_id", "customer_id", person.shop_ids),
        ("contact_id", "contact_id", person.contact_ids),
        ("anonymous_id", "anonymous_id", person.visitor_ids),
        ("device_id", "device_id", person.visitor_ids),
    ]
    if source in ("orders", "order_items"):
        checks.append(("order_id", "order_id", person.order_ids))
    return [check for check in checks if check[2]]


def _landing_match(person: Person, source: str) -> Any:
    """A row predicate over a landing row (lower-cased column names -> text)."""
    checks = _landing_checks(person, source)

    def match(row: dict[str, Any]) -> bool:
        for column, kind, values in checks:
            value = row.get(column)
            if value is None:
                continue
            normalized = (
                normalize_identifier(kind, value)
                if kind in ("email", "phone")
                else str(value).strip()
            )
            if normalized in values:
                return True
        return False

    return match


def _landing_mask(person: Person, source: str) -> Any:
    """:func:`_landing_match` over a whole Arrow batch: true where a row names the
    person (emails trimmed and lower-cased, phones as digits, ids trimmed)."""
    checks = [
        (column, kind, pa.array(sorted(values), pa.string()))
        for column, kind, values in _landing_checks(person, source)
    ]

    def mask(batch: pa.RecordBatch) -> pa.Array:
        names = [name.lower() for name in batch.schema.names]
        matched = pa.repeat(False, batch.num_rows)
        for column, kind, values in checks:
            if column not in names:
                continue
            text = pc.utf8_trim_whitespace(
                pc.cast(batch.column(names.index(column)), pa.string())
            )
            if kind == "email":
                text = pc.utf8_lower(text)
            elif kind == "phone":
                text = pc.replace_substring_regex(text, "[^0-9]", "")
            hit = pc.is_in(text, value_set=values)
            matched = pc.or_(matched, pc.fill_null(hit, False))
        return matched

    return mask


def _rewrite_landing(
    landing: Path, person: Person, keep: bool, report: ErasureReport
) -> dict[str, str]:
    """Write each landing file holding the person without their rows, to a hidden
    temporary sibling (replaced in after the warehouse commits); returns
    ``source/file -> new checksum``. With ``keep``, only count the rows."""
    rewrites: dict[str, str] = {}
    if not landing.is_dir():
        return rewrites
    for source in SOURCES:
        folder = landing / source
        if not folder.is_dir():
            continue
        match = _landing_match(person, source)
        mask = _landing_mask(person, source)
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            relative = f"{source}/{path.name}"
            suffix = path.suffix.lower()
            temporary = folder / f"{_PENDING}{path.name}"
            if suffix == ".csv":
                removed = _rewrite_csv(path, temporary, match, keep)
            elif suffix == ".jsonl":
                removed = _rewrite_jsonl(path, temporary, match, keep)
            elif suffix == ".parquet":
                removed = _rewrite_parquet(path, temporary, mask, keep)
            else:
                continue
            if not removed:
                continue
            if keep:
                report.landing_kept[f"landing/{relative}"] = removed
                continue
            report.per_file[f"landing/{relative}"] = removed
            rewrites[relative] = _sha256(temporary)
    return rewrites


def _pending_replacements(
    landing: Path, rewrites: dict[str, str]
) -> Iterator[tuple[str, Path]]:
    for relative in rewrites:
        source, name = relative.split("/", 1)
        yield relative, landing / source / f"{_PENDING}{name}"


def _rewrite_csv(path: Path, target: Path, match: Any, keep: bool) -> int:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return 0
    header = [name.strip().lower() for name in rows[0]]
    kept = [rows[0]]
    for row in rows[1:]:
        if not match(dict(zip(header, row, strict=False))):
            kept.append(row)
    removed = len(rows) - len(kept)
    if removed and not keep:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(kept)
        _write_new(target, buffer.getvalue().encode("utf-8"))
    return removed


def _rewrite_jsonl(path: Path, target: Path, match: Any, keep: bool) -> int:
    kept: list[bytes] = []
    removed = 0
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if isinstance(record, dict) and match(
                    {str(k).lower(): v for k, v in record.items()}
                ):
                    removed += 1
                    continue
            kept.append(line)
    if removed and not keep:
        _write_new(target, b"".join(kept))
    return removed


def _rewrite_parquet(path: Path, target: Path, mask: Any, keep: bool) -> int:
    """Batch by batch, never the whole file in memory: the event files are the
    largest landing files (a million rows each in the 1,000,000-customer bench)."""
    parquet = pq.ParquetFile(path)
    removed = sum(pc.sum(mask(batch)).as_py() or 0 for batch in parquet.iter_batches())
    if removed and not keep:
        with open(target, "wb") as out:
            with pq.ParquetWriter(out, parquet.schema_arrow) as writer:
                for batch in parquet.iter_batches():
                    writer.write_batch(batch.filter(pc.invert(mask(batch))))
            out.flush()
            os.fsync(out.fileno())
    return removed


def _write_new(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def counts_by_schema(per_table: dict[str, int]) -> Counter[str]:
    """Rows removed per schema, for a short summary."""
    totals: Counter[str] = Counter()
    for table, count in per_table.items():
        totals[table.split(".", 1)[0]] += count
    return totals
