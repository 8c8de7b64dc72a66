"""The simulator's entry point: generate every landing source plus the ground truth."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mailroom.contract import SOURCES
from mailroom.settings import DEFAULT_AS_OF
from mailroom.simulator import constants as k
from mailroom.simulator.catalog import build_catalog
from mailroom.simulator.commerce import make_orders
from mailroom.simulator.context import Context, DefectLog, make_rng
from mailroom.simulator.esp import build_campaigns, make_email_events
from mailroom.simulator.output import (
    GROUND_TRUTH,
    IDENTIFIER_SCHEMA,
    PartWriter,
    TruthWriter,
)
from mailroom.simulator.people import (
    People,
    accounts_and_contacts,
    consent_ledger,
    lower_strip,
    make_people,
    people_truth,
)
from mailroom.simulator.timefmt import DAY, Season, epoch_seconds
from mailroom.simulator.web import cart_truth, make_web_events, web_identifiers

MIN_HISTORY_DAYS = 90
_STREAM_CATALOG, _STREAM_CAMPAIGNS, _STREAM_CHUNK = 1, 2, 3


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`generate` wrote: row counts per source and where."""

    out_dir: Path
    landing_dir: Path
    ground_truth_dir: Path
    people: int
    seed: int
    as_of: date
    rows: dict[str, int] = field(hash=False)
    files: dict[str, int] = field(hash=False)
    ground_truth_rows: dict[str, int] = field(hash=False)

    @property
    def total_rows(self) -> int:
        """Landing rows over all sources."""
        return sum(self.rows.values())


@dataclass
class _Pending:
    """Duplicate event rows waiting to be re-delivered in the next file."""

    tables: dict[str, pa.Table | None] = field(
        default_factory=lambda: {"web_events": None, "email_events": None}
    )


def _has_files(folder: Path) -> bool:
    return folder.exists() and any(p.is_file() for p in folder.rglob("*"))


def _prepare(out_dir: Path, overwrite: bool) -> tuple[Path, Path]:
    landing, truth = out_dir / "landing", out_dir / "ground_truth"
    busy = [str(p) for p in (landing, truth) if _has_files(p)]
    if busy and not overwrite:
        raise ValueError(
            f"{', '.join(busy)} already holds files; pick an empty --out folder or "
            "pass overwrite=True to replace the simulator's landing/ and ground_truth/"
        )
    for folder in (landing, truth):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    return landing, truth


def _with_duplicates(
    rng: np.random.Generator,
    source: str,
    table: pa.Table,
    pending: _Pending,
    log: DefectLog,
    last_chunk: bool,
) -> pa.Table:
    """Append re-delivered rows: the previous chunk's, and (last chunk) its own."""
    eligible = rng.random(table.num_rows) < k.DUPLICATE_EVENT_RATE
    for name, rows, column, _defect, _detail in log.items:
        if name == source and column == "occurred_at":
            eligible[rows] = False  # re-deliver only rows with a sound timestamp
    picks = np.flatnonzero(eligible)
    fresh = table.take(pa.array(picks, pa.int64()))
    extra = [t for t in (pending.tables[source],) if t is not None]
    if last_chunk:
        extra.append(fresh)
        pending.tables[source] = None
    else:
        pending.tables[source] = fresh
    if not extra:
        return table
    dup = pa.concat_tables(extra)
    rows = table.num_rows + np.arange(dup.num_rows)
    ids = dup.column("event_id").to_numpy(zero_copy_only=False)
    log.add(
        source,
        rows,
        "event_id",
        "duplicate_event_id",
        np.array([f"re-delivery of {i}" for i in ids], dtype=object),
    )
    return pa.concat_tables([table, dup])


def _identifiers(
    people: People, chunks: list[tuple[str, str, pa.Array, np.ndarray]]
) -> pa.Table:
    """Distinct (source, id_type, id_value) rows of one chunk with their person."""
    frames = []
    for source, id_type, values, person in chunks:
        frame = pd.DataFrame(
            {
                "source": source,
                "id_type": id_type,
                "id_value": pa.array(values, pa.string()).to_pandas(),
                "person": person,
            }
        )
        frames.append(frame[frame["id_value"].notna() & (frame["id_value"] != "")])
    df = pd.concat(frames, ignore_index=True).drop_duplicates(
        ["source", "id_type", "id_value"], keep="first"
    )
    values = pa.array(df["id_value"].to_numpy(dtype=object), pa.string())
    id_type = df["id_type"].to_numpy(dtype=object)
    digits = pc.replace_substring_regex(values, r"[^0-9]", "")
    normalized = np.where(
        id_type == "email",
        np.asarray(lower_strip(values), dtype=object),
        np.where(
            id_type == "phone",
            np.asarray(pc.binary_join_element_wise("+", digits, ""), dtype=object),
            np.asarray(pc.utf8_trim_whitespace(values), dtype=object),
        ),
    )
    return pa.table(
        {
            "source": pa.array(df["source"].to_numpy(dtype=object), pa.string()),
            "id_type": pa.array(id_type, pa.string()),
            "id_value": values,
            "normalized_value": pa.array(normalized, pa.string()),
            "person_id": people.person_id.take(pa.array(df["person"].to_numpy())),
        },
        schema=IDENTIFIER_SCHEMA,
    )


def generate(
    out_dir: Path,
    customers: int = 5000,
    seed: int = 42,
    as_of: date = DEFAULT_AS_OF,
    history_days: int = 730,
    progress: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> SimulationSummary:
    """Write deterministic demo landing files and their ground truth.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``landing/<source>/part-*.{csv,parquet,jsonl}`` and
        ``ground_truth/*.parquet``.
    customers : int
        Number of true people simulated (shop accounts, CRM contacts, guests and
        anonymous visitors among them).
    seed : int
        Seed of every random stream; same arguments give byte-identical files.
    as_of : date
        Normal timestamps are strictly before midnight UTC of this date.
    history_days : int
        Length of the simulated history before ``as_of``.
    progress : callable, optional
        Called with a short message after each step.
    overwrite : bool
        Replace existing ``landing/`` and ``ground_truth/`` folders under ``out_dir``.

    Returns
    -------
    SimulationSummary
        Row counts and paths of what was written.

    Raises
    ------
    ValueError
        For non-positive sizes, too short a history, or a non-empty output folder
        without ``overwrite``.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if history_days < MIN_HISTORY_DAYS:
        raise ValueError(
            f"history_days must be at least {MIN_HISTORY_DAYS}, got {history_days}"
        )
    report = progress or (lambda _message: None)
    out_dir = Path(out_dir)
    landing, truth_dir = _prepare(out_dir, overwrite)

    as_of_s = epoch_seconds(as_of)
    start = as_of_s - history_days * DAY
    catalog = build_catalog(make_rng(seed, _STREAM_CATALOG))
    campaigns = build_campaigns(
        start, as_of_s, catalog.categories, make_rng(seed, _STREAM_CAMPAIGNS)
    )
    ctx = Context(seed, as_of_s, start, Season(start, history_days), catalog, campaigns)

    writers = {name: PartWriter(landing, name) for name in SOURCES}
    truth = {
        name: TruthWriter(truth_dir / f"{name}.parquet", schema)
        for name, schema in GROUND_TRUTH.items()
    }
    empty_log = DefectLog()
    writers["products"].write(catalog.table)
    writers["campaigns"].write(campaigns.table)

    counters = dict.fromkeys(
        ("customer", "contact", "order", "web", "email", "send"), 0
    )
    pending = _Pending()
    n_chunks = -(-customers // k.PEOPLE_PER_CHUNK)
    for chunk in range(n_chunks):
        rng = make_rng(seed, _STREAM_CHUNK, chunk)
        pid0 = chunk * k.PEOPLE_PER_CHUNK
        n = min(k.PEOPLE_PER_CHUNK, customers - pid0)
        log = DefectLog()
        people = make_people(
            ctx, rng, pid0, n, counters["customer"], counters["contact"]
        )
        counters["customer"] += int(people.has_account.sum())
        counters["contact"] += int(people.in_crm.sum())
        cust, cust_person, crm, crm_person = accounts_and_contacts(
            ctx, rng, people, log
        )
        consents, consent_person = consent_ledger(rng, people, log)
        orders = make_orders(ctx, rng, people, log, counters["order"])
        counters["order"] += orders.person.size
        web = make_web_events(ctx, rng, people, orders, log, counters["web"])
        counters["web"] += web.table.num_rows
        email, email_person, has_consent, sends = make_email_events(
            ctx, rng, people, log, counters["email"], counters["send"]
        )
        counters["email"] += email.num_rows
        counters["send"] += sends
        carts = cart_truth(web, orders, people)
        last = chunk == n_chunks - 1
        web_table = _with_duplicates(rng, "web_events", web.table, pending, log, last)
        email_table = _with_duplicates(rng, "email_events", email, pending, log, last)

        tables = {
            "customers": cust,
            "crm_contacts": crm,
            "consents": consents,
            "orders": orders.orders,
            "order_items": orders.items,
            "web_events": web_table,
            "email_events": email_table,
        }
        for source, table in tables.items():
            first = writers[source].write(table)
            truth["defects"].write(log.resolve(source, writers[source], first))

        email_who = np.unique(email_person)
        ident = [
            ("customers", "customer_id", cust.column("customer_id"), cust_person),
            ("customers", "email", cust.column("email"), cust_person),
            ("customers", "phone", cust.column("phone"), cust_person),
            ("crm_contacts", "contact_id", crm.column("contact_id"), crm_person),
            ("crm_contacts", "email", crm.column("email"), crm_person),
            ("crm_contacts", "phone", crm.column("phone"), crm_person),
            (
                "orders",
                "customer_id",
                orders.orders.column("customer_id"),
                orders.person,
            ),
            ("orders", "email", orders.orders.column("email"), orders.person),
            ("consents", "email", consents.column("email"), consent_person),
            ("consents", "contact_id", consents.column("contact_id"), consent_person),
            *[("web_events", t, v, p) for t, v, p in web_identifiers(web, people)],
            (
                "email_events",
                "email",
                pa.array(people.email[email_who], pa.string()),
                email_who,
            ),
        ]
        truth["identifiers"].write(_identifiers(people, ident))
        truth["people"].write(people_truth(people, has_consent, ctx))
        truth["cart_adds"].write(carts)
        report(f"chunk {chunk + 1}/{n_chunks}: {pid0 + n} people")
        del people, orders, web, email, tables, web_table, email_table

    for source in ("products", "campaigns"):
        truth["defects"].write(empty_log.resolve(source, writers[source], 1))
    for writer in writers.values():
        writer.finish()
    for writer in truth.values():
        writer.close()
    return SimulationSummary(
        out_dir=out_dir,
        landing_dir=landing,
        ground_truth_dir=truth_dir,
        people=customers,
        seed=seed,
        as_of=as_of,
        rows={name: w.rows for name, w in writers.items()},
        files={name: w.next_file - 1 for name, w in writers.items()},
        ground_truth_rows={name: w.rows for name, w in truth.items()},
    )
