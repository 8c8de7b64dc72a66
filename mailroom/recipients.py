"""Read recipients and their product picks from the warehouse, in batches, and check
an outbox against the consent ledger independently of the marts that chose it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from renderer.conditions import quote_name
from renderer.render import group_picks

RECIPIENTS = "marts.personalization"
PICKS = "marts.personalization_product_picks"
CONSENT_STATE = "intermediate.int_email_consent_state"
EMAIL_EVENTS = "staging.stg_esp__email_events"


def iter_recipient_batches(
    con: duckdb.DuckDBPyConnection,
    batch_size: int = 50_000,
    columns: Sequence[str] | None = None,
    pick_columns: Sequence[str] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]]:
    """Yield (recipients, picks by customer id) a batch at a time, by customer id:
    :func:`iter_recipient_tables` as dicts."""
    batches = iter_recipient_tables(con, batch_size, columns, pick_columns)
    for recipients, picks in batches:
        yield recipients.to_pylist(), group_picks(picks.to_pylist())


def iter_recipient_tables(
    con: duckdb.DuckDBPyConnection,
    batch_size: int = 50_000,
    columns: Sequence[str] | None = None,
    pick_columns: Sequence[str] | None = None,
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Yield (recipients, their picks) as Arrow tables, a batch at a time, both in
    customer id order (picks by rank within a customer).

    Memory stays bounded by the batch size whatever the audience size. With
    ``columns`` (``pick_columns``), recipients (picks) hold only those, and
    ``customer_id``: turning rows into Python objects is most of the cost of
    reading the mart, the more so for the dates and timestamps rendering never
    reads.
    """
    selected, picked = _select_list(columns), _select_list(pick_columns)
    last_id = ""
    while True:
        recipients = con.sql(
            f"select {selected} from {RECIPIENTS} where customer_id > ? "
            "order by customer_id limit ?",
            params=[last_id, batch_size],
        ).to_arrow_table()
        if not recipients.num_rows:
            return
        ids = recipients.column("customer_id")
        first_id, last_id = ids[0].as_py(), ids[-1].as_py()
        picks = con.sql(
            f"select {picked} from {PICKS} where customer_id between ? and ? "
            "order by customer_id, pick_rank",
            params=[first_id, last_id],
        ).to_arrow_table()
        yield recipients, picks


def _select_list(columns: Sequence[str] | None) -> str:
    if columns is None:
        return "*"
    wanted = dict.fromkeys(["customer_id", *columns])
    return ", ".join(map(quote_name, wanted))


def emails_without_consent(
    con: duckdb.DuckDBPyConnection, emails: Iterable[str]
) -> list[str]:
    """The emails, among ``emails``, that the consent ledger does not allow mailing:
    no opt-in as the latest word, or a bounce or complaint on record."""
    emails = list(emails)
    if not emails:
        return []
    # Registered as a frame, not inserted row by row: executemany took minutes
    # for the 405,827 recipients of a 1,000,000-customer outbox.
    con.register("_outbox_emails", pd.DataFrame({"email": emails}, dtype=object))
    try:
        rows = con.execute(
            f"""
            select outbox.email
            from _outbox_emails as outbox
            left join {CONSENT_STATE} as consent
                on lower(trim(outbox.email)) = consent.email
            where
                consent.email is null
                or consent.consent_status != 'opted_in'
                or consent.is_suppressed
            order by outbox.email
            """
        ).fetchall()
    finally:
        con.unregister("_outbox_emails")
    return [row[0] for row in rows]


def esp_sent_events(
    con: duckdb.DuckDBPyConnection,
    since: dt.datetime,
    until: dt.datetime,
    exclude_campaign: str | None = None,
) -> list[tuple[str, str, dt.datetime]]:
    """``(email, campaign or event key, sent at)`` of the ESP's ``sent`` events in
    ``[since, until)``: what the ESP reports it actually sent, for frequency caps.

    An event without a campaign id is keyed by its event id, so it counts alone.
    Without an email-events table (the source is optional) there are none.
    """
    try:
        rows = con.execute(
            f"""
            select email, coalesce(campaign_id, 'event:' || event_id), occurred_at
            from {EMAIL_EVENTS}
            where event_type = 'sent'
                and occurred_at >= ? and occurred_at < ?
                and (?::varchar is null or campaign_id is distinct from ?)
            """,
            [_naive_utc(since), _naive_utc(until), exclude_campaign, exclude_campaign],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [(email, key, at.replace(tzinfo=dt.UTC)) for email, key, at in rows]


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as the naive UTC timestamp the warehouse stores."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
