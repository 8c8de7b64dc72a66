"""Local sync state: what each ESP has acknowledged, and what it rejected.

A small SQLite file (by convention ``<outbox>/esp_sync.sqlite``) with two tables:

- ``acknowledged``: per destination and ``(recipient_id, campaign_id)``, the
  ``content_hash`` the ESP last acknowledged, with its idempotency key and time;
- ``rejections``: the latest per-item rejection (reason, run), cleared once the
  item is acknowledged; rejected items are not acknowledged, so the next sync
  sends them again.

Each batch's outcome is written in one transaction, committed only after the ESP
acknowledged the batch; a sync killed midway resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path

SCHEMA = """
create table if not exists acknowledged (
    destination text not null,
    recipient_id text not null,
    campaign_id text not null,
    content_hash text not null,
    idempotency_key text not null,
    run_id text not null,
    acknowledged_at text not null,
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
"""


class SyncState:
    """The sync state file; use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        self.connection.execute("pragma journal_mode=wal")
        self.connection.execute("pragma synchronous=full")
        self.connection.executescript(SCHEMA)

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
        accepted: Iterable[tuple[str, str, str, str]],
        rejected: Iterable[tuple[str, str, str, str]],
    ) -> None:
        """Record one acknowledged batch atomically.

        Parameters
        ----------
        accepted
            ``(recipient_id, campaign_id, content_hash, idempotency_key)`` rows.
        rejected
            ``(recipient_id, campaign_id, content_hash, reason)`` rows.
        """
        now = dt.datetime.now(dt.UTC).isoformat()
        cursor = self.connection
        cursor.execute("begin immediate")
        try:
            for recipient_id, campaign_id, content_hash, key in accepted:
                cursor.execute(
                    "insert or replace into acknowledged values (?, ?, ?, ?, ?, ?, ?)",
                    (
                        destination,
                        recipient_id,
                        campaign_id,
                        content_hash,
                        key,
                        run_id,
                        now,
                    ),
                )
                cursor.execute(
                    "delete from rejections where destination = ? and "
                    "recipient_id = ? and campaign_id = ?",
                    (destination, recipient_id, campaign_id),
                )
            for recipient_id, campaign_id, content_hash, reason in rejected:
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

    def rejections(self, destination: str) -> list[tuple[str, str, str]]:
        """``(recipient_id, campaign_id, reason)`` currently rejected."""
        rows = self.connection.execute(
            "select recipient_id, campaign_id, reason from rejections "
            "where destination = ? order by recipient_id, campaign_id",
            (destination,),
        )
        return rows.fetchall()
