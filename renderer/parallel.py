"""Render a campaign in chunks, in worker processes, into one ordered outbox run.

The parent process keeps everything that must see the whole audience in order: it
reads the recipients, runs the :class:`~renderer.guard.SendGuard` (duplicates and
the frequency cap depend on who came before) and writes the outbox and the audit.
Each chunk of recipients, with the guard's verdicts, goes to a worker, which draws
the arms, chooses the blocks, renders the payloads and serialises them to the exact
bytes of the outbox's payload file (compressed there: the parent then receives and
writes a sixtieth of the bytes) and ``payloads.csv``, with the chunk's outcomes
(per recipient: guard reason, arm, picks and blocks shown) as an Arrow record
batch, from which the parent builds the decision audit in the warehouse
(:mod:`renderer.audit`).
Chunks come back in the order they were sent, so the run is the same, byte for byte,
whatever the number of processes (tested), and
:func:`renderer.outbox.write_outbox_chunks` writes it atomically with one manifest.

Workers are forked from a fork server that loaded the renderer once
(:mod:`renderer.worker`), not from the parent: it may hold a DuckDB connection,
whose threads do not survive ``fork``.
"""

from __future__ import annotations

import os
import pickle
import time
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
from mypy_extensions import mypyc_attr

from renderer import worker
from renderer.audit import OUTCOME_SCHEMA
from renderer.catalog import load_catalog
from renderer.guard import SendGuard, reason_code
from renderer.outbox import (
    DEFAULT_COMPRESSION,
    LineEncoder,
    csv_record,
    payload_line_with_html,
    plain_json,
    segment_key,
)
from renderer.pipeline import GUARD_COLUMNS, render_campaign
from renderer.render import Campaign, Renderer, group_picks

# Recipients per chunk: about 20 MB of JSONL, enough to amortise the hand-over.
CHUNK_SIZE: Final = 1_000
# Chunks in flight per worker: keeps workers busy while the parent writes.
IN_FLIGHT_PER_WORKER: Final = 2
Rows = list[dict[str, Any]]
PicksByCustomer = Mapping[str, list[dict[str, Any]]]
# What the send guard reads of a recipient row (each when the mart has it).
GUARD_READS: Final = ("email", *GUARD_COLUMNS)
# Recipients and their picks: rows and picks by customer id (as
# :func:`renderer.pipeline.render_campaign` takes them), or two Arrow tables in
# customer id order (the picks by rank within a customer).
RecipientBatch = tuple[Rows, PicksByCustomer] | tuple[pa.Table, pa.Table]


# pickled (to workers): compiled, a frozen dataclass would not unpickle
@mypyc_attr(native_class=False)
@dataclass(frozen=True)
class RenderSpec:
    """What a worker needs to build its own renderer (nothing here is compiled)."""

    campaign: Campaign
    arms: Mapping[str, float]
    model_version: str
    holdout: float | None = None
    catalog_path: Path | None = None
    known_columns: tuple[str, ...] | None = None
    compression: str = DEFAULT_COMPRESSION


@dataclass
class RenderedChunk:
    """A chunk of recipients, rendered and serialised, in input order.

    Attributes
    ----------
    jsonl, csv
        The chunk's payloads as lines of the outbox's payload file, encoded
        (:class:`renderer.outbox.LineEncoder`) with the spec's compression, and
        as ``payloads.csv`` records (no header).
    payload_count, segments
        Payloads in the chunk, and per manifest segment key.
    recipients, holdout, refused, variants
        Recipients seen; held out; refused per reason code; payloads per arm.
    outcomes
        One row per recipient, as :data:`renderer.audit.OUTCOME_SCHEMA`.
    exported, fields
        ``(recipient_id, campaign_id)`` of each payload, and the payload fields
        written (for the export log).
    cpu_seconds, pid
        CPU time the chunk took and the process that rendered it.
    """

    jsonl: bytes = b""
    csv: bytes = b""
    payload_count: int = 0
    segments: Counter[str] = field(default_factory=Counter)
    recipients: int = 0
    holdout: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    outcomes: pa.RecordBatch = field(
        default_factory=lambda: pa.RecordBatch.from_pylist([], schema=OUTCOME_SCHEMA)
    )
    exported: list[tuple[str, str]] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    cpu_seconds: float = 0.0
    pid: int = 0


class _Verdicts:
    """The parent's guard verdicts, replayed in order for one chunk."""

    def __init__(self, reasons: Sequence[str | None]) -> None:
        self._reasons = iter(reasons)

    def check(self, recipient: Mapping[str, Any]) -> str | None:
        return next(self._reasons)


def _build_renderer(spec: RenderSpec) -> Renderer:
    return Renderer(
        catalog=load_catalog(spec.catalog_path, known_columns=spec.known_columns)
    )


def render_chunk(
    spec: RenderSpec,
    renderer: Renderer,
    recipients: Rows | pa.Table | pa.Buffer,
    reasons: Sequence[str | None],
    picks_by_customer: PicksByCustomer | pa.Table | pa.Buffer,
) -> RenderedChunk:
    """Render and serialise one chunk, given the guard's verdict per recipient
    (recipients and picks as rows, as Arrow tables or as their IPC streams)."""
    began = time.process_time()
    recipients, picks_by_customer = _rows(recipients, picks_by_customer)
    chunk = RenderedChunk(pid=os.getpid())
    lines = LineEncoder(spec.compression)
    records: list[bytes] = []
    ids: list[str] = []
    variants: list[str | None] = []
    pick_counts: list[int | None] = []
    blocks: list[str | None] = []
    for item in render_campaign(
        [(recipients, picks_by_customer)],
        spec.campaign,
        _Verdicts(reasons),
        spec.arms,
        spec.model_version,
        holdout=spec.holdout,
        renderer=renderer,
        encoded=True,
        audit=False,
    ):
        chunk.recipients += 1
        ids.append(item.customer_id)
        variants.append(item.variant)
        payload = item.payload
        if item.refused:
            chunk.refused[reason_code(item.refused)] += 1
        if payload is None or item.html is None:
            if not item.refused:
                chunk.holdout += 1
            pick_counts.append(None)
            blocks.append(None)
        else:
            pick_counts.append(len(payload["recommendations"]))
            blocks.append(",".join(payload["blocks"]))
            chunk.variants[item.variant or ""] += 1
            lines.write(
                payload_line_with_html(
                    payload, item.html.json, exact=_json_exact(payload)
                )
            )
            # encoded one by one: most are ASCII, which encodes by copying
            records.append(csv_record(payload).encode("utf-8"))
            chunk.segments[segment_key(payload)] += 1
            chunk.exported.append(
                (str(payload["recipient_id"]), str(payload["campaign_id"]))
            )
            if not chunk.fields:
                chunk.fields.update(payload, ["html"])
    chunk.outcomes = pa.RecordBatch.from_arrays(
        [
            pa.array(ids, pa.string()),
            pa.array(variants, pa.string()),
            pa.array(reasons, pa.string()),
            pa.array(pick_counts, pa.int32()),
            pa.array(blocks, pa.string()),
        ],
        schema=OUTCOME_SCHEMA,
    )
    chunk.jsonl = lines.finish()
    chunk.csv = b"".join(records)
    chunk.payload_count = len(records)
    chunk.cpu_seconds = time.process_time() - began
    return chunk


def _json_exact(payload: Mapping[str, Any]) -> bool:
    """Whether orjson writes a payload of :func:`render_chunk` as ``dumps`` does.

    The renderer builds every value of a catalog payload from text, ``None``,
    Decimals and lists and dicts of them (``merge_vars`` and
    ``recommendations`` included), which orjson writes alike, except the
    segment, copied from the mart as it is, and the model version given; only
    those are checked here (the whole check costs ~5 us a payload). The chunked
    run is compared byte for byte with the classic writer, which checks all.
    """
    return plain_json(payload["segment"], payload["model_version"])


# One renderer per worker process, built by the pool's initializer.
_WORKER: tuple[RenderSpec, Renderer] | None = None


def init_worker(spec: RenderSpec) -> None:
    """Build this worker process's renderer (run by :func:`renderer.worker.start`)."""
    global _WORKER
    _WORKER = (spec, _build_renderer(spec))


def _render_in_worker(
    recipients: Rows | pa.Buffer,
    reasons: list[str | None],
    picks: PicksByCustomer | pa.Buffer,
) -> RenderedChunk:
    assert _WORKER is not None, "worker not initialised"
    spec, renderer = _WORKER
    return render_chunk(spec, renderer, recipients, reasons, picks)


# A guarded chunk: recipients, the guard's verdicts and picks (rows or tables).
_Chunk = tuple[Rows | pa.Table, list[str | None], PicksByCustomer | pa.Table]


def _rows(
    recipients: Rows | pa.Table | pa.Buffer,
    picks: PicksByCustomer | pa.Table | pa.Buffer,
) -> tuple[Rows, PicksByCustomer]:
    """A chunk's recipients and picks by customer as Python rows."""
    if isinstance(recipients, pa.Buffer):
        recipients = pa.ipc.open_stream(recipients).read_all()
    if isinstance(recipients, pa.Table):
        recipients = recipients.to_pylist()
    if isinstance(picks, pa.Buffer):
        picks = pa.ipc.open_stream(picks).read_all()
    if isinstance(picks, pa.Table):
        picks = group_picks(_prices_as_text(picks).to_pylist())
    return recipients, picks


def _prices_as_text(picks: pa.Table) -> pa.Table:
    """Picks with a decimal ``price`` as its text, which the renderer reads back
    to the same Decimal (:func:`renderer.render._pick_parts`): Arrow writes the
    texts in bulk, where making a Python Decimal per pick is slow."""
    if "price" not in picks.column_names:
        return picks
    index = picks.column_names.index("price")
    if not pa.types.is_decimal(picks.schema.field(index).type):
        return picks
    return picks.set_column(index, "price", picks.column(index).cast(pa.string()))


def _to_worker(part: Rows | PicksByCustomer | pa.Table) -> Any:
    """A chunk's recipients or picks as they travel to a worker: a table as an
    Arrow IPC stream (only its rows: pickling a slice of a table would carry all
    of the table's buffers), rows as they are."""
    if not isinstance(part, pa.Table):
        return part
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, part.schema) as writer:
        writer.write_table(part)
    return sink.getvalue()


def _guarded_chunks(
    batches: Iterable[RecipientBatch], guard: SendGuard, chunk_size: int
) -> Iterator[_Chunk]:
    """Split batches into chunks, with the guard's verdicts taken in input order.

    Batches of Arrow tables stay Arrow: the guard reads its few columns here, and
    the rows are made in the process that renders them.
    """
    for recipients, picks in batches:
        if isinstance(recipients, pa.Table):
            assert isinstance(picks, pa.Table)
            yield from _guarded_table_chunks(recipients, picks, guard, chunk_size)
            continue
        assert not isinstance(picks, pa.Table)
        for start in range(0, len(recipients), chunk_size):
            part = recipients[start : start + chunk_size]
            reasons = [guard.check(recipient) for recipient in part]
            part_picks = {}
            for recipient, reason in zip(part, reasons, strict=True):
                customer_id = str(recipient.get("customer_id"))
                if reason is None and customer_id in picks:
                    part_picks[customer_id] = picks[customer_id]
            yield part, reasons, part_picks


def _guarded_table_chunks(
    recipients: pa.Table, picks: pa.Table, guard: SendGuard, chunk_size: int
) -> Iterator[_Chunk]:
    # what the guard reads of a row, when the mart has it
    read = [name for name in GUARD_READS if name in recipients.column_names]
    # picks come in customer order, so a chunk's are those in its id range:
    # found by bisection, where comparing every pick's id per chunk grew with
    # the square of the batch
    pick_ids: list[str] = picks.column("customer_id").to_pylist()
    begin = 0
    for start in range(0, recipients.num_rows, chunk_size):
        part = recipients.slice(start, chunk_size)
        reasons = [guard.check(row) for row in part.select(read).to_pylist()]
        ids = part.column("customer_id")
        # from the previous chunk's first: an id may end one chunk and start the next
        begin = bisect_left(pick_ids, ids[0].as_py(), begin)
        end = bisect_right(pick_ids, ids[-1].as_py(), begin)
        yield part, reasons, picks.slice(begin, end - begin)


def render_chunks(
    batches: Iterable[RecipientBatch],
    guard: SendGuard,
    spec: RenderSpec,
    *,
    processes: int = 1,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[RenderedChunk]:
    """Render a campaign chunk by chunk, in ``processes`` worker processes.

    Parameters
    ----------
    batches
        ``(recipients, picks by customer id)`` batches, as for
        :func:`renderer.pipeline.render_campaign`, or both as Arrow tables
        (:data:`RecipientBatch`), which reach the workers as Arrow.
    guard
        The send guard; it runs here, in input order.
    spec
        Campaign, arms, model version and catalog, for the workers' renderers.
    processes
        Worker processes; 1 renders in this process, with no pool.
    chunk_size
        Recipients per chunk.

    Yields
    ------
    RenderedChunk
        In input order; the same chunks whatever ``processes`` is.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    chunks = _guarded_chunks(batches, guard, chunk_size)
    if processes <= 1:
        renderer = _build_renderer(spec)
        for part in chunks:
            yield render_chunk(spec, renderer, *part)
        return
    # Fail here, with the catalog's own message, not in a worker's start-up.
    load_catalog(spec.catalog_path, known_columns=spec.known_columns)
    pool = ProcessPoolExecutor(
        processes,
        mp_context=worker.context(),
        initializer=worker.start,
        initargs=(pickle.dumps(spec), worker.loaded_renderer()),
    )
    pending: deque[Future[RenderedChunk]] = deque()
    try:
        for recipients, reasons, picks in chunks:
            pending.append(
                pool.submit(
                    _render_in_worker,
                    _to_worker(recipients),
                    reasons,
                    _to_worker(picks),
                )
            )
            if len(pending) >= processes * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
