"""Local sync state: what each ESP has acknowledged, and what it rejected.

A small SQLite file (by convention ``<outbox>/esp_sync.sqlite``) with two tables:

- ``acknowledged``: per destination and ``(recipient_id, campaign_id)``, the
  ``content_hash`` the ESP last acknowledged, with its idempotency key and time,
  the recipient's email and the day the campaign goes out (the run's as-of date);
  the frequency cap counts these (:func:`acknowledged_sends`);
- ``rejections``: the latest per-item rejection (reason, run), cleared once the
  item is acknowledged; rejected items are not acknowledged, so the next sync
  sends them again;
- ``export_log``: the export audit, append-only: one row per recipient per export
  (an outbox run written, or an item an ESP acknowledged or rejected) with the
  recipient id (never the email), the destination, the outbox run, the fields
  that left, the outcome and the time. ESP rows are written in the transaction
  that records the batch, so the log and the state never disagree.

Each batch's outcome is written in one transaction, committed only after the ESP
acknowledged the batch; a sync killed midway resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import orjson

SCHEMA = """
create table if not exists acknowledged (
    destination text not null,
    recipient_id text not null,
    campaign_id text not null,
    content_hash text not null,
    idempotency_key text not null,
    run_id text not null,
    acknowledged_at text not null,
    email text,
    send_date text,
    primary key (destination, recipient_id, campaign_id)
);
create table if not exists rejections (
    destination text not null,
    recipient_id text not null,
    campaign_id text not null,
    content_hash text not null,
    reason text not null,
    run_id text not null,
    rejected_at text not null,
    primary key (destination, recipient_id, campaign_id)
);
create table if not exists export_log (
    exported_at text not null,
    destination text not null,
    run_id text not null,
    recipient_id text not null,
    campaign_id text,
    fields text not null,
    outcome text not null
);
create index if not exists export_log_run on export_log (run_id, destination);
"""
# Stands in for the recipient id of an erased person in the export log.
ERASED_RECIPIENT = "(erased)"


class SyncState:
    """The sync state file; use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        self.connection.execute("pragma journal_mode=wal")
        self.connection.execute("pragma synchronous=full")
        self.connection.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a state file written before ``email``/``send_date`` up to date;
        its old rows keep NULLs there (and are not counted by the frequency cap)."""
        present = {
            row[1] for row in self.connection.execute("pragma table_info(acknowledged)")
        }
        for column in ("email", "send_date"):
            if column not in present:
                self.connection.execute(
                    f"alter table acknowledged add column {column} text"
                )

    def __enter__(self) -> SyncState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self.connection.close()

    def acknowledged(self, destination: str, campaign_id: str) -> dict[str, str]:
        """``recipient_id -> content_hash`` acknowledged for one campaign."""
        rows = self.connection.execute(
            "select recipient_id, content_hash from acknowledged "
            "where destination = ? and campaign_id = ?",
            (destination, campaign_id),
        )
        return dict(rows.fetchall())

    def record_batch(
        self,
        destination: str,
        run_id: str,
        accepted: Iterable[tuple[str, str, str, str, str]],
        rejected: Iterable[tuple[str, str, str, str]],
        send_date: dt.date | None = None,
        fields: str | None = None,
    ) -> None:
        """Record one acknowledged batch atomically.

        Parameters
        ----------
        accepted
            ``(recipient_id, campaign_id, content_hash, idempotency_key, email)``
            rows.
        rejected
            ``(recipient_id, campaign_id, content_hash, reason)`` rows.
        send_date
            The day the campaign goes out (the outbox run's as-of date); today
            (UTC) when not given.
        fields
            The fields the items carried (comma-separated): with it, every item
            gets an ``export_log`` row in the same transaction.
        """
        moment = dt.datetime.now(dt.UTC)
        now = moment.isoformat()
        day = (send_date or moment.date()).isoformat()
        cursor = self.connection
        cursor.execute("begin immediate")
        try:
            for recipient_id, campaign_id, content_hash, key, email in accepted:
                cursor.execute(
                    "insert or replace into acknowledged (destination, recipient_id, "
                    "campaign_id, content_hash, idempotency_key, run_id, "
                    "acknowledged_at, email, send_date) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        destination,
                        recipient_id,
                        campaign_id,
                        content_hash,
                        key,
                        run_id,
                        now,
                        email,
                        day,
                    ),
                )
                cursor.execute(
                    "delete from rejections where destination = ? and "
                    "recipient_id = ? and campaign_id = ?",
                    (destination, recipient_id, campaign_id),
                )
                if fields is not None:
                    self._log(
                        now, destination, run_id, recipient_id, campaign_id, fields
                    )
            for recipient_id, campaign_id, content_hash, reason in rejected:
                if fields is not None:
                    self._log(
                        now,
                        destination,
                        run_id,
                        recipient_id,
                        campaign_id,
                        fields,
                        "rejected",
                    )
                cursor.execute(
                    "insert or replace into rejections values (?, ?, ?, ?, ?, ?, ?)",
                    (
                        destination,
                        recipient_id,
                        campaign_id,
                        content_hash,
                        reason,
                        run_id,
                        now,
                    ),
                )
        except BaseException:
            cursor.execute("rollback")
            raise
        cursor.execute("commit")

    def _log(
        self,
        now: str,
        destination: str,
        run_id: str,
        recipient_id: str,
        campaign_id: str | None,
        fields: str,
        outcome: str = "accepted",
    ) -> None:
        self.connection.execute(
            "insert into export_log values (?, ?, ?, ?, ?, ?, ?)",
            (now, destination, run_id, recipient_id, campaign_id, fields, outcome),
        )

    def log_export(
        self,
        destination: str,
        run_id: str,
        recipients: Iterable[tuple[str, str | None]],
        fields: Iterable[str],
    ) -> int:
        """Append one ``export_log`` row per ``(recipient_id, campaign_id)`` that
        left in one export (e.g. an outbox run written), in one transaction."""
        now = dt.datetime.now(dt.UTC).isoformat()
        listed = ",".join(fields)
        given = list(recipients)
        ids = list(map(str, (id_ for id_, _ in given)))
        campaigns = [campaign for _, campaign in given]
        distinct = set(campaigns)
        # The rows as one JSON array, unpacked by SQLite: a third less time
        # than a Python row per recipient (100,000 rows at the end of a render);
        # only the ids when all share one campaign (a render's do), a third less
        # again. SQLite's JSON functions cut text at NUL, so such rows go one by
        # one.
        if len(distinct) == 1:
            text = orjson.dumps(ids).decode()
            insert = "value, ?, ?"
            parameters: tuple[object, ...] = (*distinct, listed, text)
        else:
            text = orjson.dumps(list(zip(ids, campaigns, strict=True))).decode()
            insert = "json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?"
            parameters = (listed, text)
        cursor = self.connection
        cursor.execute("begin immediate")
        try:
            if "\\u0000" in text:
                cursor.executemany(
                    "insert into export_log values (?, ?, ?, ?, ?, ?, 'written')",
                    [
                        (now, destination, run_id, id_, campaign, listed)
                        for id_, campaign in zip(ids, campaigns, strict=True)
                    ],
                )
            else:
                cursor.execute(
                    f"insert into export_log select ?, ?, ?, {insert}, 'written' "
                    "from json_each(?)",
                    (now, destination, run_id, *parameters),
                )
        except BaseException:
            cursor.execute("rollback")
            raise
        cursor.execute("commit")
        return len(ids)

    def export_log(self, run_id: str | None = None) -> list[dict[str, str]]:
        """The export audit rows (of one outbox run), oldest first."""
        cursor = self.connection.execute(
            "select * from export_log where ? is null or run_id = ? order by rowid",
            (run_id, run_id),
        )
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def forget(self, recipient_ids: Iterable[str], emails: Iterable[str]) -> int:
        """Remove what the state holds about erased people; the rows removed.

        Their acknowledgements and rejections go (they would otherwise keep the
        email, and the frequency cap has no more use for it); their export-log
        rows stay, with :data:`ERASED_RECIPIENT` instead of the id, so the log
        still counts what was exported. The file is then vacuumed, so no deleted
        row lingers in free pages or the write-ahead log.
        """
        ids = sorted(set(recipient_ids))
        addresses = sorted({email.strip().lower() for email in emails})
        cursor = self.connection
        removed = 0
        cursor.execute("begin immediate")
        try:
            cursor.execute("create temporary table if not exists _ids (value text)")
            cursor.execute("create temporary table if not exists _emails (value text)")
            cursor.execute("delete from _ids")
            cursor.execute("delete from _emails")
            cursor.executemany("insert into _ids values (?)", [(i,) for i in ids])
            cursor.executemany(
                "insert into _emails values (?)", [(e,) for e in addresses]
            )
            removed += cursor.execute(
                "delete from acknowledged where recipient_id in (select value from "
                "_ids) or lower(trim(email)) in (select value from _emails)"
            ).rowcount
            removed += cursor.execute(
                "delete from rejections where recipient_id in (select value from _ids)"
            ).rowcount
            removed += cursor.execute(
                "update export_log set recipient_id = ? "
                "where recipient_id in (select value from _ids)",
                (ERASED_RECIPIENT,),
            ).rowcount
        except BaseException:
            cursor.execute("rollback")
            raise
        cursor.execute("commit")
        cursor.execute("drop table _ids")
        cursor.execute("drop table _emails")
        cursor.execute("vacuum")
        cursor.execute("pragma wal_checkpoint(truncate)")
        return removed

    def rejections(self, destination: str) -> list[tuple[str, str, str]]:
        """``(recipient_id, campaign_id, reason)`` currently rejected."""
        rows = self.connection.execute(
            "select recipient_id, campaign_id, reason from rejections "
            "where destination = ? order by recipient_id, campaign_id",
            (destination,),
        )
        return rows.fetchall()


def acknowledged_sends(
    path: Path, since: dt.date, until: dt.date, exclude_campaign: str | None = None
) -> list[tuple[str, str, dt.date]]:
    """``(email, campaign_id, send date)`` of every campaign an ESP acknowledged
    for an address, with a send date in ``[since, until)``, for frequency caps.

    One row per email and campaign however many destinations took it. Campaigns
    rendered but never exported, or rejected, are not here. A missing state file
    means nothing was exported.
    """
    path = Path(path)
    if not path.exists():
        return []
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "select lower(trim(email)), campaign_id, min(send_date) "
            "from acknowledged where email is not null and send_date >= ? "
            "and send_date < ? and campaign_id is not ? group by 1, 2",
            (since.isoformat(), until.isoformat(), exclude_campaign),
        ).fetchall()
    finally:
        connection.close()
    return [
        (email, campaign, dt.date.fromisoformat(day)) for email, campaign, day in rows
    ]
