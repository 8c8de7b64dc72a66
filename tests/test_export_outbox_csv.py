"""The outbox's CSV twin: same rows as the JSONL, flat, formula-safe, verified."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from renderer.catalog import load_catalog
from renderer.guard import SendGuard
from renderer.outbox import (
    CSV_COLUMNS,
    CSV_FILE,
    OutboxIntegrityError,
    read_outbox,
    write_outbox,
)
from renderer.pipeline import payloads, render_campaign
from renderer.render import Campaign, Renderer


def rows() -> list[dict[str, object]]:
    return [
        {
            "customer_id": f"c-{i}",
            "email": f"p{i}@example.com",
            "first_name": name,
            "last_name": "Doe",
            "rfm_segment": "champions",
            "lifetime_orders": 3,
            "lifetime_revenue": Decimal("10"),
            "days_since_last_order": 3,
            "is_vip": False,
            "consent_status": "opted_in",
        }
        for i, name in enumerate(["Ana", '=HYPERLINK("http://x")', 'Zoë, "Z"\nÅ'])
    ]


def pick(customer: str) -> dict[str, object]:
    return {
        "customer_id": customer,
        "pick_rank": 1,
        "product_id": "p-1",
        "product_name": 'Trail, "Runner"',
        "price": Decimal("44.9"),
        "currency": "EUR",
        "product_url": "https://shop.example.com/p/1",
        "image_url": None,
    }


def test_csv_has_the_same_rows_flat_and_formula_safe(tmp_path: Path) -> None:
    guard = SendGuard([], 3, [], dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    rendered = render_campaign(
        [(rows(), {"c-0": [pick("c-0")]})],
        Campaign("autumn-26", "Autumn"),
        guard,
        {"A": 1},
        "m1",
        renderer=Renderer(catalog=load_catalog()),
    )
    manifest = write_outbox(payloads(rendered), tmp_path, "run-1")
    raw = (tmp_path / "run-1" / CSV_FILE).read_bytes()
    text = raw.decode("utf-8")
    table = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(table[0]) == CSV_COLUMNS
    assert "html" not in CSV_COLUMNS and "text" not in CSV_COLUMNS
    _, stored = read_outbox(tmp_path)
    jsonl = list(stored)
    assert [r["recipient_id"] for r in table] == [p["recipient_id"] for p in jsonl]
    assert [r["content_hash"] for r in table] == [p["content_hash"] for p in jsonl]
    first = table[0]
    assert (
        first["pick_1_name"] == 'Trail, "Runner"' and first["pick_1_price"] == "44.90"
    )
    assert first["blocks"] == "|".join(jsonl[0]["blocks"])
    assert first["pick_2_name"] == ""
    assert table[1]["subject"].startswith("'=HYPERLINK")  # never a live formula
    assert table[2]["subject"].startswith('Zoë, "Z" Å')
    assert manifest.csv_bytes == len(raw) and raw.endswith(b"\r\n")


def test_csv_tampering_is_detected(tmp_path: Path) -> None:
    write_outbox([{"recipient_id": "c-1", "subject": "x"}], tmp_path, "run-1")
    path = tmp_path / "run-1" / CSV_FILE
    path.write_text(path.read_text().replace("c-1", "c-2"))
    with pytest.raises(OutboxIntegrityError, match=r"payloads\.csv does not match"):
        read_outbox(tmp_path)


def test_csv_can_be_turned_off(tmp_path: Path) -> None:
    manifest = write_outbox(
        [{"recipient_id": "c-1"}], tmp_path, "run-1", write_csv=False
    )
    assert manifest.csv_sha256 is None
    assert not (tmp_path / "run-1" / CSV_FILE).exists()
    assert "csv_file" not in manifest.to_dict()
