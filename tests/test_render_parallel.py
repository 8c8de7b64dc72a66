"""Rendering in worker processes gives the same outbox run and audit as one process.

A real DuckDB warehouse with a personalization mart (hostile names, opt-outs, a
suppressed address, an address that appears twice in different chunks, cart
reminders) is rendered by ``render_to_outbox`` with one and with two worker
processes: the JSONL, the CSV, the manifest's counts and checksums, the report and
the decision audit must be identical, and equal to what the classic one-payload-
at-a-time path (``render_campaign`` + ``write_outbox``) writes.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailroom.campaign import campaign_for, render_processes, render_to_outbox
from mailroom.recipients import iter_recipient_batches
from renderer import worker
from renderer.catalog import CatalogError, load_catalog
from renderer.config import SendConfig
from renderer.guard import SendGuard
from renderer.outbox import (
    CSV_FILE,
    PAYLOADS_FILE,
    PAYLOADS_FILES,
    payload_line,
    payload_line_with_html,
    read_outbox,
    write_outbox,
)
from renderer.parallel import RenderSpec, _guarded_chunks, render_chunks
from renderer.pipeline import AUDIT_COLUMNS, _values_text, payloads, render_campaign
from renderer.render import Campaign, MissingFieldError, Renderer
from tests.conftest import REPOSITORY

AS_OF = dt.date(2026, 11, 1)
RECIPIENTS = 2_600  # three chunks of CHUNK_SIZE, so both workers get some
HOSTILE = ("<script>alert(1)</script>", "{{ 7*7 }}", "{% raw %}", "Ana\r\nBcc: x@y")
SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("rfm_segment", pa.string()),
        ("cluster_name", pa.string()),
        ("preferred_category", pa.string()),
        ("r_score", pa.int32()),
        ("f_score", pa.int32()),
        ("m_score", pa.int32()),
        ("lifetime_orders", pa.int32()),
        ("lifetime_revenue", pa.decimal128(18, 2)),
        ("currency", pa.string()),
        ("days_since_last_order", pa.int32()),
        ("is_vip", pa.bool_()),
        ("as_of_date", pa.date32()),
        ("last_order_at", pa.timestamp("us")),
        ("consent_status", pa.string()),
        ("cart_product_id", pa.string()),
        ("cart_product_name", pa.string()),
        ("cart_product_url", pa.string()),
        ("cart_product_image_url", pa.string()),
    ]
)
SEGMENTS = ("champions", "loyal_customers", "at_risk", "new_customers", None)


def person(index: int) -> dict[str, Any]:
    cart = index % 9 == 0
    return {
        "customer_id": f"c-{index:05d}",
        # c-02500 shares c-00007's address: refused as a duplicate, chunks apart
        "email": "p7@example.com" if index == 2_500 else f"p{index}@example.com",
        "first_name": HOSTILE[index % 7] if index % 7 < len(HOSTILE) else "Zoë",
        "last_name": "Silva",
        "rfm_segment": SEGMENTS[index % len(SEGMENTS)],
        "cluster_name": "runners",
        "preferred_category": "running",
        "r_score": index % 5 + 1,
        "f_score": index % 4 + 1,
        "m_score": index % 3 + 1,
        "lifetime_orders": index % 6,
        "lifetime_revenue": Decimal(index % 2_500),
        "currency": "EUR",
        "days_since_last_order": index % 300,
        "is_vip": index % 11 == 0,
        "as_of_date": AS_OF,
        "last_order_at": dt.datetime(2026, 10, 1, 12, 30),
        "consent_status": "opted_out" if index % 13 == 0 else "opted_in",
        "cart_product_id": f"p-{index % 40}" if cart else None,
        "cart_product_name": f"Shell <b>{index % 40}</b>" if cart else None,
        "cart_product_url": f"https://shop.test/p/{index % 40}" if cart else None,
        "cart_product_image_url": "javascript:alert(1)" if cart else None,
    }


def pick(index: int, rank: int) -> dict[str, Any]:
    product = (index + rank) % 60
    return {
        "customer_id": f"c-{index:05d}",
        "pick_rank": rank,
        "product_id": f"p-{product}",
        "product_name": f"Trail Runner {product}",
        "category": "running",
        "price": Decimal("49.95") + rank,
        "currency": "EUR",
        "product_url": f"https://shop.example.com/p/{product}?ref=a,b",
        "image_url": None if product % 5 == 0 else f"https://cdn.example.com/{product}",
        "pick_reason": "popular",
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parallel") / "warehouse.duckdb"
    people = pa.Table.from_pylist([person(i) for i in range(RECIPIENTS)], SCHEMA)
    picks = pa.Table.from_pylist(
        [pick(i, rank) for i in range(RECIPIENTS) for rank in range(1, i % 4 + 1)]
    )
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.register("people", people)
        con.register("picks", picks)
        con.execute("create table marts.personalization as select * from people")
        con.execute(
            "create table marts.personalization_product_picks as select * from picks"
        )
    return path


def run(
    warehouse: Path, home: Path, processes: int, compression: str = "zstd"
) -> dict[str, Any]:
    home.mkdir()
    (home / "suppression.txt").write_text("p3@example.com\n", encoding="utf-8")
    outbox = home / "outbox"
    with duckdb.connect(str(warehouse)) as con:
        report = render_to_outbox(
            con,
            outbox,
            home,
            AS_OF,
            "run-1",
            SendConfig(render_processes=processes, outbox_compression=compression),
            metadata={"created_at": "2026-11-01T06:00:00+00:00"},
        )
        audit = con.execute(
            "select * exclude (run_id) from emails.decision_audit "
            "order by customer_id, slot nulls first, block_id"
        ).fetchall()
        audit_rows = con.execute(
            f"select {', '.join(AUDIT_COLUMNS)} from emails.decision_audit"
        ).fetchall()
    return {
        "report": report,
        "audit": audit,
        "audit_rows": audit_rows,
        "folder": outbox / "run-1",
    }


def test_two_processes_write_the_same_run_as_one(
    warehouse: Path, tmp_path: Path
) -> None:
    one = run(warehouse, tmp_path / "one", processes=1)
    two = run(warehouse, tmp_path / "two", processes=2)
    for name in (PAYLOADS_FILES["zstd"], CSV_FILE, "manifest.json"):
        assert (one["folder"] / name).read_bytes() == (
            two["folder"] / name
        ).read_bytes(), name
    assert one["audit"] == two["audit"]
    first, second = one["report"], two["report"]
    assert (first.recipients, first.holdout, first.audit_rows) == (
        second.recipients,
        second.holdout,
        second.audit_rows,
    )
    assert (first.refused, first.variants) == (second.refused, second.variants)
    assert first.recipients == RECIPIENTS
    assert first.refused["duplicate"] == 1
    assert first.refused["suppressed"] == 1
    assert first.refused["no_opt_in"] == len(range(0, RECIPIENTS, 13))

    manifest, rows = read_outbox(tmp_path / "two" / "outbox")
    rows = list(rows)
    assert manifest.payload_count == len(rows) == sum(first.variants.values())
    ids = [row["recipient_id"] for row in rows]
    assert ids == sorted(ids)  # input order, whatever worker rendered the chunk
    assert "c-02500" not in ids and "c-00003" not in ids
    for row in rows:
        assert "<script>" not in row["html"] and "49" not in row["subject"]
        assert "\r" not in row["subject"] and "\n" not in row["subject"]
        assert "javascript:" not in row["html"]
    audit_ids = {row[0] for row in one["audit"]}
    assert len(audit_ids) == RECIPIENTS


def test_chunked_run_matches_the_classic_writer(
    warehouse: Path, tmp_path: Path
) -> None:
    chunked = run(warehouse, tmp_path / "chunked", processes=2, compression="none")
    (tmp_path / "classic").mkdir()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        known = [r[0] for r in con.execute("describe marts.personalization").fetchall()]
        guard = SendGuard(
            ["p3@example.com"],
            3,
            [],
            dt.datetime.combine(AS_OF, dt.time(), tzinfo=dt.UTC),
        )
        rendered = list(
            render_campaign(
                iter_recipient_batches(con),
                campaign_for(AS_OF),
                guard,
                SendConfig().arms,
                "none",
                renderer=Renderer(catalog=load_catalog(known_columns=known)),
            )
        )
        classic = write_outbox(
            payloads(rendered),
            tmp_path / "classic",
            "run-1",
            metadata={},
            compression="none",
        )
    folder = tmp_path / "classic" / "run-1"
    for name in (PAYLOADS_FILE, CSV_FILE):
        assert (folder / name).read_bytes() == (chunked["folder"] / name).read_bytes()
    manifest = json.loads((chunked["folder"] / "manifest.json").read_text())
    assert manifest["payloads_sha256"] == classic.payloads_sha256
    assert manifest["csv_sha256"] == classic.csv_sha256
    assert manifest["segment_counts"] == classic.segment_counts
    # the audit built in the warehouse is the one Python builds, row for row
    python_audit = sorted(row for item in rendered for row in item.audit_rows)
    assert sorted(chunked["audit_rows"]) == python_audit
    assert len(python_audit) == chunked["report"].audit_rows


def test_large_audiences_use_every_cpu_unless_configured() -> None:
    assert render_processes(SendConfig(), 500) == 1
    assert render_processes(SendConfig(), 100_000) >= 1
    assert render_processes(SendConfig(render_processes=3), 10) == 3
    with pytest.raises(ValueError, match="render_processes"):
        SendConfig(render_processes=0)


def test_html_rendered_to_bytes_is_the_html_rendered_to_text() -> None:
    renderer = Renderer(catalog=load_catalog(known_columns=[*SCHEMA.names]))
    campaign = Campaign(campaign_id="bytes-26", name="Bytes")
    for index in range(40):
        row = person(index)
        picks = [pick(index, rank) for rank in range(1, index % 4 + 1)]
        payload, decisions = renderer.render_with_decisions(row, picks, campaign, "B")
        encoded, encoded_decisions, html = renderer.render_encoded(
            row, picks, campaign, "B"
        )
        assert html.json == orjson.dumps(payload["html"])[1:-1]
        assert encoded == {**payload, "html": ""}
        assert encoded_decisions == decisions
        assert payload_line_with_html(encoded, html.json) == payload_line(payload)


@given(
    html=st.text(),
    segment=st.one_of(
        st.none(), st.text(), st.just('"html":""'), st.floats(allow_nan=False)
    ),
    email=st.text(),
)
def test_spliced_line_equals_the_whole_line(
    html: str, segment: object, email: str
) -> None:
    payload = {
        "blocks": ['"html":""', email],
        "email": email,
        "html": html,
        "segment": segment,
        "text": '"html":"',
        "recommendations": [{"name": email, "price": Decimal("1.50")}],
    }
    try:
        expected = payload_line(payload)
    except (TypeError, ValueError):  # e.g. a lone surrogate: not encodable
        return
    body = orjson.dumps(html)[1:-1]
    assert payload_line_with_html({**payload, "html": ""}, body) == expected


def test_a_worker_error_reaches_the_caller_with_its_message(tmp_path: Path) -> None:
    spec = RenderSpec(campaign_for(AS_OF), {"A": 1}, "test")
    rows = [person(index) for index in range(30)]
    del rows[17]["rfm_segment"]
    guard = SendGuard([], 3, [], dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    with pytest.raises(MissingFieldError, match=r"rfm_segment.*c-00017"):
        list(render_chunks([(rows, {})], guard, spec, processes=2, chunk_size=10))
    (tmp_path / "catalog.yaml").write_text("slots: [body]\nlayout: nope.mjml\n")
    broken = RenderSpec(campaign_for(AS_OF), {"A": 1}, "test", catalog_path=tmp_path)
    with pytest.raises(CatalogError, match=r"nope\.mjml"):
        list(render_chunks([(rows, {})], guard, broken, processes=2))


def test_audit_values_keep_their_own_form_whatever_was_seen_before() -> None:
    # equal values: a cache keyed on them alone wrote the first one seen
    seen = [
        {"lifetime_revenue": 300},
        {"lifetime_revenue": Decimal("300.00")},
        {"lifetime_revenue": 300.0},
        {"is_vip": 1},
        {"is_vip": True},
    ]
    texts = [_values_text(tuple(values), tuple(values.values())) for values in seen]
    assert texts == [
        '{"lifetime_revenue":300}',
        '{"lifetime_revenue":"300.00"}',
        '{"lifetime_revenue":300.0}',
        '{"is_vip":1}',
        '{"is_vip":true}',
    ]


def test_unknown_outbox_compression_is_refused_by_the_send_config() -> None:
    with pytest.raises(ValueError, match="outbox_compression must be one of"):
        SendConfig(outbox_compression="gzip")


def test_a_worker_refuses_a_renderer_other_than_its_parents() -> None:
    spec = pickle.dumps(RenderSpec(campaign_for(AS_OF), {"A": 1}, "test"))
    with pytest.raises(RuntimeError, match=r"does not take the parent's sys\.path"):
        worker.start(spec, "/elsewhere/renderer/__init__.py")


def test_a_chunk_gets_the_picks_of_its_customers_even_across_chunks() -> None:
    ids = ["a", "b", "b", "c", "d"]  # "b" ends one chunk and starts the next
    recipients = pa.table(
        {
            "customer_id": ids,
            "email": [f"p{n}@example.com" for n in range(len(ids))],
            "consent_status": ["opted_in"] * len(ids),
        }
    )
    picks = pa.table({"customer_id": ["a", "b", "b", "c", "e"], "pick_rank": range(5)})
    guard = SendGuard([], 3, [], dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    chunks = list(_guarded_chunks([(recipients, picks)], guard, 2))
    assert [chunk[2].column("customer_id").to_pylist() for chunk in chunks] == [
        ["a", "b", "b"],
        ["b", "b", "c"],
        [],
    ]


# Run in a fresh interpreter: spawned processes import the parent's main module
# again, and one a test left behind (a Streamlit app's) loads numpy itself.
_BLAS_THREADS = """
import json, multiprocessing, pickle
from concurrent.futures import ProcessPoolExecutor
from mailroom.campaign import campaign_for
from renderer import worker
from renderer.parallel import RenderSpec
from tests.test_render_parallel import AS_OF, blas_threads

spec = pickle.dumps(RenderSpec(campaign_for(AS_OF), {"A": 1}, "test"))
found = []
for context, initializer, initargs in (
    (multiprocessing.get_context("spawn"), None, ()),
    # as renderer.parallel starts them
    (worker.context(), worker.start, (spec, worker.loaded_renderer())),
):
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=initializer, initargs=initargs
    ) as pool:
        found.append(pool.submit(blas_threads).result())
print(json.dumps(found))
"""


def blas_threads() -> list[int]:
    """In a process: the threads of each BLAS library loaded."""
    import numpy  # noqa: F401  (what pyarrow loads in a render worker)
    import threadpoolctl

    return [
        info["num_threads"]
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas"
    ]


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="BLAS has one thread on one CPU anyway"
)
@pytest.mark.parametrize(("preset", "expected"), [(None, 1), ("2", 2)])
def test_render_workers_load_blas_with_one_thread_unless_told_otherwise(
    preset: str | None, expected: int
) -> None:
    # Rendering does no linear algebra; a BLAS thread per core cost each worker
    # 0.12-0.2 s of CPU as numpy loaded. A value the user set stays.
    pytest.importorskip("threadpoolctl")
    environment = {
        key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"
    }
    if preset is not None:
        environment["OPENBLAS_NUM_THREADS"] = preset
    result = subprocess.run(
        [sys.executable, "-c", _BLAS_THREADS],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    plain, started = json.loads(result.stdout.splitlines()[-1])
    if preset is None:
        assert max(plain) > 1  # what a spawned process gets by itself
    assert plain and set(started) == {expected}


# eval, a builtin: a function of a module would load that module in the worker
_LOADED = """
import json, multiprocessing
from concurrent.futures import ProcessPoolExecutor
from renderer import worker

found = {}
for name, context in (
    ("spawn", multiprocessing.get_context("spawn")),
    ("workers", worker.context()),
):
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        found[name] = pool.submit(
            eval, "'renderer.parallel' in __import__('sys').modules"
        ).result()
print(json.dumps(found))
"""


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="no fork server here: workers are spawned",
)
def test_render_workers_start_with_the_renderer_loaded() -> None:
    # forked from a fork server that imported it once, which saves each worker
    # the ~0.3 s of CPU of importing it
    result = subprocess.run(
        [sys.executable, "-c", _LOADED],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert found == {"spawn": False, "workers": True}


def test_the_worker_module_loads_no_numpy() -> None:
    # renderer.worker must set BLAS's threads before numpy loads; importing it
    # runs renderer/__init__, which must therefore not load numpy.
    code = "import sys, renderer.worker; print('numpy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
