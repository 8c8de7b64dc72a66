"""Render one personalized campaign from the warehouse into the outbox, with the
decision audit written back to the warehouse (emails.decision_audit).

Plain glue between the warehouse (mailroom.recipients) and the renderer: the Dagster
asset and the command line both call :func:`render_to_outbox`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from mailroom.privacy import ErasedIdentifiers
from mailroom.recipients import (
    PICKS,
    RECIPIENTS,
    esp_sent_events,
    iter_recipient_tables,
)
from renderer import worker
from renderer.audit import (
    OUTCOME_SCHEMA,
    audit_blocks,
    decision_audit_sql,
    mismatched_blocks_sql,
)
from renderer.catalog import Catalog, load_catalog
from renderer.config import SendConfig
from renderer.export.state import SyncState, acknowledged_sends
from renderer.export.sync import STATE_FILE
from renderer.guard import (
    DEFAULT_WINDOW,
    SendGuard,
    load_suppression_list,
)
from renderer.outbox import OutboxManifest, write_outbox_chunks
from renderer.parallel import (
    RenderedChunk,
    RenderSpec,
    render_chunks,
)
from renderer.pipeline import AUDIT_COLUMNS, GUARD_COLUMNS, split_holdout
from renderer.render import PICK_KEYS, Campaign, Renderer, recipient_columns

# The decision audit: a view of its rows (per recipient and block) joined to the
# blocks of their run (per run and block: campaign, slot, rule, model version, as-of
# date), which every row of a run would otherwise repeat.
AUDIT_TABLE = "emails.decision_audit"
AUDIT_ROWS = "emails.decision_audit_rows"
AUDIT_BLOCKS = "emails.decision_audit_blocks"
AUDIT_ROW_COLUMNS = (
    "customer_id",
    "run_id",
    "variant",
    "block_id",
    "fired",
    "values_seen",
    "reason",
)
AUDIT_BLOCK_COLUMNS = (
    "run_id",
    "campaign_id",
    "block_id",
    "slot",
    "rule",
    "model_version",
    "as_of_date",
)
# Recipients whose audit is built in one statement.
AUDIT_FLUSH_RECIPIENTS = 50_000
# With workers, the audit is built once more when this many recipients are still
# to come (see _AuditWriter.expect).
AUDIT_TAIL_RECIPIENTS = 5_000
# Below this many recipients one process renders: starting workers costs more.
PARALLEL_MIN_RECIPIENTS = 20_000


@dataclass
class CampaignReport:
    """What one campaign run produced."""

    campaign_id: str
    manifest: OutboxManifest | None = None
    recipients: int = 0
    holdout: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    audit_rows: int = 0
    # (recipient_id, campaign_id) of every payload written, and the payload fields.
    exported: list[tuple[str, str]] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    export_log_rows: int = 0
    render_cpu: Counter[int] = field(default_factory=Counter)


def campaign_for(as_of: dt.date) -> Campaign:
    return Campaign(
        campaign_id=f"personalized-{as_of.isoformat()}",
        name=f"Personalized picks, {as_of.isoformat()}",
    )


def model_version(con: duckdb.DuckDBPyConnection) -> str:
    """The versions of the models behind the personalization mart, joined."""
    versions = []
    for table, column in (
        ("ml.customer_clusters", "model_version"),
        ("ml.customer_predictions", "model_version"),
    ):
        try:
            value = con.execute(f"select min({column}) from {table}").fetchone()[0]
        except duckdb.CatalogException:
            value = None
        if value:
            versions.append(str(value))
    return "+".join(versions) or "none"


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def sent_history(
    con: duckdb.DuckDBPyConnection,
    state_path: Path,
    as_of: dt.date,
    campaign_id: str,
    window: dt.timedelta = DEFAULT_WINDOW,
) -> list[tuple[str, dt.datetime]]:
    """``(email, sent at)`` per marketing email sent in the window before the as-of
    date, for the frequency cap: what was actually sent, not what was rendered.

    Two sources, one count per email and campaign:

    - the ESP's ``sent`` events in the warehouse, at the time the ESP sent them;
    - campaigns an ESP acknowledged in an export (the sync state), on their send
      date, so that a send counts before its events are loaded. When the events
      arrive they replace it.

    Outbox runs never exported, and rows an ESP rejected, do not count. Nor does
    ``campaign_id`` itself: re-rendering a campaign replaces it.
    """
    until = _midnight(as_of)
    since = until - window
    sends: dict[tuple[str, str], dt.datetime] = {}
    for email, campaign, day in acknowledged_sends(
        state_path, since.date(), as_of, exclude_campaign=campaign_id
    ):
        sends[(email, campaign)] = _midnight(day)
    for email, campaign, sent_at in esp_sent_events(con, since, until, campaign_id):
        sends[(email.strip().lower(), campaign)] = sent_at
    return [(email, sent_at) for (email, _), sent_at in sends.items()]


def render_to_outbox(
    con: duckdb.DuckDBPyConnection,
    outbox: Path,
    home: Path,
    as_of: dt.date,
    run_id: str,
    config: SendConfig | None = None,
    metadata: dict[str, object] | None = None,
) -> CampaignReport:
    """Render the as-of date's campaign for every row of marts.personalization.

    The send guard refuses anyone without an opt-in on the row, on the global
    suppression list (MAILROOM_HOME/suppression.txt), erased
    (privacy.erased_identifiers, by keyed hash) or over the frequency cap
    (counting what was sent: :func:`sent_history`); the
    holdout gets no email. Payloads go to ``outbox/<run_id>`` atomically; every
    decision (guard, holdout, each block evaluated) goes to emails.decision_audit,
    replacing the campaign's earlier rows, in the same transaction. The run is
    then logged in the export log (``outbox/esp_sync.sqlite``), one row per
    recipient written.
    """
    config = config or SendConfig()
    # the recipients iter_recipient_tables reads
    audience = con.execute(
        f"select count(*) from {RECIPIENTS} where customer_id > ''"
    ).fetchone()[0]
    processes = render_processes(config, audience)
    if processes > 1:  # it loads the renderer while this process goes on
        worker.start_fork_server()
    campaign = campaign_for(as_of)
    mart_types = {
        name: kind
        for name, kind, *_ in con.execute(f"describe {RECIPIENTS}").fetchall()
    }
    known = list(mart_types)
    suppression = config.suppression_path(home)
    erased = ErasedIdentifiers.load(con, home)
    guard = SendGuard(
        suppressed=load_suppression_list(suppression) if suppression.exists() else (),
        frequency_cap=config.frequency_cap,
        history=sent_history(con, outbox / STATE_FILE, as_of, campaign.campaign_id),
        now=_midnight(as_of),
        erased=erased.is_erased_email if erased else None,
    )
    report = CampaignReport(campaign_id=campaign.campaign_id)
    version = model_version(con)
    spec = RenderSpec(
        campaign=campaign,
        arms=dict(config.arms),
        model_version=version,
        known_columns=tuple(known),
        compression=config.outbox_compression,
    )
    # loaded here for the columns to read and the audit (the workers load their own)
    catalog = load_catalog(spec.catalog_path, known_columns=spec.known_columns)
    read = recipient_columns(catalog) | {"email", *GUARD_COLUMNS}
    pick_known = [row[0] for row in con.execute(f"describe {PICKS}").fetchall()]
    chunks = render_chunks(
        iter_recipient_tables(
            con,
            columns=[name for name in known if name in read],
            pick_columns=[name for name in pick_known if name in PICK_KEYS],
        ),
        guard,
        spec,
        processes=processes,
    )
    con.begin()
    try:
        audit = _AuditWriter(con, run_id, as_of, spec, catalog, mart_types)
        audit.prepare()
        if processes > 1:  # with no workers, nothing would overlap the statement
            audit.expect(audience)
        report.manifest = write_outbox_chunks(
            _counted(chunks, report, audit),
            outbox,
            run_id,
            metadata={
                **(metadata or {}),
                "as_of": as_of.isoformat(),
                "campaign_id": campaign.campaign_id,
                "model_version": version,
            },
            compression=config.outbox_compression,
        )
        report.audit_rows = audit.rows
        con.commit()
    except BaseException:
        con.rollback()
        raise
    with SyncState(outbox / STATE_FILE) as state:
        report.export_log_rows = state.log_export(
            "outbox", run_id, report.exported, sorted(report.fields)
        )
    return report


def render_processes(config: SendConfig, audience: int) -> int:
    """Worker processes for an audience: ``config.render_processes`` if set, else
    one per CPU for audiences of :data:`PARALLEL_MIN_RECIPIENTS` or more."""
    if config.render_processes is not None:
        return config.render_processes
    if audience < PARALLEL_MIN_RECIPIENTS:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _counted(
    chunks: Iterator[RenderedChunk], report: CampaignReport, audit: _AuditWriter
) -> Iterator[RenderedChunk]:
    for chunk in chunks:
        report.recipients += chunk.recipients
        report.holdout += chunk.holdout
        report.refused.update(chunk.refused)
        report.variants.update(chunk.variants)
        report.render_cpu[chunk.pid] += chunk.cpu_seconds
        report.exported.extend(chunk.exported)
        report.fields.update(chunk.fields)
        audit.add(chunk.outcomes)
        yield chunk
    # before the outbox run is put in place: a failing audit leaves no run behind
    audit.flush()


def _audit_types(columns: tuple[str, ...]) -> str:
    kinds = {"fired": "boolean", "as_of_date": "date"}
    return ", ".join(f"{name} {kinds.get(name, 'varchar')}" for name in columns)


def _migrate_audit(con: duckdb.DuckDBPyConnection) -> None:
    """Split a decision audit kept as one table (before the view) into its rows
    and its runs' blocks, in the transaction of the render that found it."""
    found = con.execute(
        "select table_type from information_schema.tables "
        "where table_catalog = current_database() and table_schema = 'emails' "
        "and table_name = 'decision_audit'"
    ).fetchone()
    if found is None or found[0] != "BASE TABLE":
        return
    shared = con.execute(
        f"select run_id from {AUDIT_TABLE} group by run_id "
        "having count(distinct campaign_id) > 1 limit 1"
    ).fetchone()
    if shared is not None:  # its blocks would join every such row twice
        raise ValueError(
            f"{AUDIT_TABLE} holds run id {shared[0]!r} for more than one campaign, "
            "which the audit's run blocks cannot tell apart: update those rows' "
            "run_id to one per campaign, then render again"
        )
    con.execute(
        f"create table {AUDIT_BLOCKS} as select distinct "
        f"{', '.join(AUDIT_BLOCK_COLUMNS)} from {AUDIT_TABLE}"
    )
    con.execute(
        f"create table {AUDIT_ROWS} as select {', '.join(AUDIT_ROW_COLUMNS)} "
        f"from {AUDIT_TABLE} order by customer_id, block_id"
    )
    con.execute(f"drop table {AUDIT_TABLE}")


class AuditMismatchError(RuntimeError):
    """The decision audit built in the warehouse disagrees with the blocks rendered."""


class _AuditWriter:
    """Buffers the chunks' outcomes and builds their decision audit in the
    warehouse (:mod:`renderer.audit`), checked against the blocks rendered."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        as_of: dt.date,
        spec: RenderSpec,
        catalog: Catalog,
        mart_types: dict[str, str],
    ) -> None:
        self.con, self.run_id, self.as_of = con, run_id, as_of
        self.batches: list[pa.RecordBatch] = []
        self.buffered = 0
        self.rows = 0
        # the recipients still to come, when expected (see expect)
        self.to_come: int | None = None
        _, share = split_holdout(spec.arms)
        self.spec, self.catalog = spec, catalog
        self.share = share if spec.holdout is None else spec.holdout
        self.slots = catalog.slots
        self.query = decision_audit_sql(
            catalog,
            mart_types,
            outcomes="_render_outcomes",
            mart=RECIPIENTS,
            campaign_id=spec.campaign.campaign_id,
            model_version=spec.model_version,
            holdout_share=self.share,
        )

    def prepare(self) -> None:
        """Create the audit's tables and view where missing (splitting an audit
        kept as one table), drop the campaign's earlier audit and record the
        blocks of this run."""
        con, campaign = self.con, self.spec.campaign.campaign_id
        con.execute("create schema if not exists emails")
        _migrate_audit(con)
        con.execute(
            f"create table if not exists {AUDIT_ROWS} "
            f"({_audit_types(AUDIT_ROW_COLUMNS)})"
        )
        con.execute(
            f"create table if not exists {AUDIT_BLOCKS} "
            f"({_audit_types(AUDIT_BLOCK_COLUMNS)})"
        )
        shown = ", ".join(
            f"{'block' if name in AUDIT_BLOCK_COLUMNS else 'decision'}.{name}"
            for name in (*AUDIT_COLUMNS, "run_id", "as_of_date")
        )
        con.execute(
            f"create or replace view {AUDIT_TABLE} as select {shown} "
            f"from {AUDIT_ROWS} as decision inner join {AUDIT_BLOCKS} as block "
            "on decision.run_id = block.run_id and decision.block_id = block.block_id"
        )
        con.execute(
            f"delete from {AUDIT_ROWS} where run_id in "
            f"(select run_id from {AUDIT_BLOCKS} where campaign_id = ?)",
            [campaign],
        )
        con.execute(f"delete from {AUDIT_BLOCKS} where campaign_id = ?", [campaign])
        taken = con.execute(
            f"select campaign_id from {AUDIT_BLOCKS} where run_id = ? limit 1",
            [self.run_id],
        ).fetchone()
        if taken is not None:
            raise ValueError(
                f"run id {self.run_id!r} already names the audit of campaign "
                f"{taken[0]!r} in {AUDIT_TABLE}: give this run another"
            )
        con.executemany(
            f"insert into {AUDIT_BLOCKS} ({', '.join(AUDIT_BLOCK_COLUMNS)}) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    self.run_id,
                    campaign,
                    block,
                    slot,
                    rule,
                    self.spec.model_version,
                    self.as_of,
                )
                for block, slot, rule in audit_blocks(self.catalog, self.share)
            ],
        )

    def expect(self, recipients: int) -> None:
        """Build the audit once more when the last :data:`AUDIT_TAIL_RECIPIENTS`
        of ``recipients`` are still to come: what is then left for the end, when
        the workers are done and one core waits, is small."""
        self.to_come = recipients

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.buffered += batch.num_rows
        last_stretch = False
        if self.to_come is not None:
            before = self.to_come
            self.to_come -= batch.num_rows
            last_stretch = self.to_come <= AUDIT_TAIL_RECIPIENTS < before
        if self.buffered >= AUDIT_FLUSH_RECIPIENTS or last_stretch:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        con = self.con
        outcomes = pa.Table.from_batches(self.batches, OUTCOME_SCHEMA)
        con.register("_render_outcomes", outcomes)
        ids = outcomes.column("customer_id")
        try:
            # In a total order: DuckDB then compresses the rows as it inserts
            # them, a row group at a time, and the better for the order (a
            # customer's rows together). Unordered, the rows stayed in the
            # transaction until the checkpoint closing the connection compressed
            # them, which cost more CPU, all of it after the last payload.
            columns = ", ".join(AUDIT_ROW_COLUMNS)
            (inserted,) = con.execute(
                f"insert into {AUDIT_ROWS} ({columns}) select {columns} "
                f"from (select *, $run_id as run_id from ({self.query})) "
                "order by customer_id, block_id",
                {"run_id": self.run_id},
            ).fetchone()
            # The run's rows in the table, semi-joined to this flush's recipients,
            # cheaper than evaluating the statement again. Chunks come in
            # customer order, so the id range skips earlier flushes' row groups.
            wrong = con.execute(
                mismatched_blocks_sql(
                    f"(select * from {AUDIT_TABLE} where run_id = $run_id "
                    "and customer_id between $first and $last)",
                    "_render_outcomes",
                    self.slots,
                ),
                {
                    "run_id": self.run_id,
                    "first": pc.min(ids).as_py(),
                    "last": pc.max(ids).as_py(),
                },
            ).fetchmany(3)
        finally:
            # after a failed statement the transaction is aborted, and so is this;
            # the rollback drops the view anyway, and the first error is the one
            with contextlib.suppress(duckdb.Error):
                con.unregister("_render_outcomes")
        if wrong:  # the caller rolls back the transaction, the rows inserted too
            examples = "; ".join(
                f"{customer}: rendered {shown!r}, audit fired {fired!r}"
                for customer, shown, fired in wrong
            )
            raise AuditMismatchError(
                "the decision audit disagrees with the blocks rendered "
                f"({examples}): a block condition means something else in "
                "SQL than in Python (renderer.conditions); nothing was written"
            )
        self.rows += inserted
        self.batches = []
        self.buffered = 0


class NotSendable(LookupError):
    """The customer gets no email; the message says why."""


def preview_customer(
    con: duckdb.DuckDBPyConnection, customer_id: str, as_of: dt.date
) -> tuple[str, list[dict]]:
    """The HTML the customer would get in the as-of date's campaign, and each block
    evaluated for them (fired or not, the rule, the values it saw)."""
    from renderer.preview import preview

    recipients = _rows(
        con, "select * from marts.personalization where customer_id = ?", customer_id
    )
    if not recipients:
        profile = _rows(
            con,
            "select email, email_consent_status, person_consent_status, "
            "is_email_suppressed from marts.dim_customers where customer_id = ?",
            customer_id,
        )
        if not profile:
            raise NotSendable(f"no customer {customer_id!r} in marts.dim_customers")
        facts = ", ".join(f"{key}={value}" for key, value in profile[0].items())
        raise NotSendable(f"{customer_id} is not sendable ({facts})")
    picks = _rows(
        con,
        "select * from marts.personalization_product_picks where customer_id = ? "
        "order by pick_rank",
        customer_id,
    )
    known = [row[0] for row in con.execute(f"describe {RECIPIENTS}").fetchall()]
    renderer = Renderer(catalog=load_catalog(known_columns=known))
    return preview(recipients[0], picks, campaign_for(as_of), renderer=renderer)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[dict]:
    result = con.execute(sql, list(params))
    columns = [column[0] for column in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
