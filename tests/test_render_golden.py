"""Golden payloads: a fixed set of recipients must render exactly as stored.

The expectations live in ``tests/golden/render/``: one JSON per case (the payload
with ``html`` replaced by its SHA-256, and the decisions), plus the full HTML for a
few representative cases. After a deliberate change, regenerate and review them::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_render_golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from renderer.catalog import MART_COLUMNS, load_catalog
from renderer.outbox import dumps
from renderer.render import Campaign, Renderer
from renderer.segment_copy import SEGMENT_COPY

GOLDEN_DIR = Path(__file__).parent / "golden" / "render"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CAMPAIGN = Campaign(campaign_id="golden-26", name="Golden")
FULL_HTML_CASES = {"segment_champions", "no_name_no_picks", "cart_reminder"}
EXTRA_COLUMNS = (
    "cart_product_id",
    "cart_product_name",
    "cart_product_url",
    "cart_product_image_url",
)


def recipient(case: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": f"g-{case}",
        "email": f"{case}@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "rfm_segment": "loyal_customers",
        "cluster_name": "runners",
        "preferred_category": "running",
        "r_score": 3,
        "f_score": 3,
        "m_score": 3,
        "lifetime_orders": 3,
        "lifetime_revenue": Decimal("420.00"),
        "currency": "EUR",
        "days_since_last_order": 40,
        "is_vip": False,
        "as_of_date": None,
        "last_order_at": None,
        **dict.fromkeys(EXTRA_COLUMNS),
    }
    row.update(overrides)
    return row


def picks(case: str, count: int = 3, **overrides: Any) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": f"g-{case}",
            "pick_rank": rank,
            "product_id": f"p-{rank}",
            "product_name": f"Trail Runner {rank}",
            "category": "running",
            "price": Decimal("44.95") + rank,
            "currency": "EUR",
            "product_url": f"https://shop.example.com/p/{rank}",
            "image_url": f"https://shop.example.com/img/p-{rank}.jpg",
            "pick_reason": "popular",
            **overrides,
        }
        for rank in range(1, count + 1)
    ]


SEGMENT_ROWS = {
    "champions": {"lifetime_orders": 9, "days_since_last_order": 5},
    "at_risk": {"days_since_last_order": 150},
    "no_orders": {"lifetime_orders": 0, "lifetime_revenue": Decimal("0")},
    "new_customers": {"lifetime_orders": 1},
}


def cases() -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    built = {
        f"segment_{segment}": (
            recipient(
                f"segment_{segment}",
                rfm_segment=segment,
                **SEGMENT_ROWS.get(segment, {}),
            ),
            picks(f"segment_{segment}"),
        )
        for segment in SEGMENT_COPY
    }
    built["no_name_no_picks"] = (recipient("no_name_no_picks", first_name=None), [])
    built["non_ascii_name"] = (
        recipient("non_ascii_name", first_name="Zoë-Åsa Wiśniewska", last_name="Łódź"),
        picks("non_ascii_name", 1),
    )
    built["missing_image"] = (
        recipient("missing_image"),
        picks("missing_image", 2, image_url=None),
    )
    built["vip"] = (
        recipient(
            "vip",
            is_vip=True,
            lifetime_revenue=Decimal("2400"),
            rfm_segment="champions",
        ),
        picks("vip", 3),
    )
    built["cart_reminder"] = (
        recipient(
            "cart_reminder",
            cart_product_id="p-77",
            cart_product_name="Summit Shell Jacket",
            cart_product_url="https://shop.example.com/p/77",
            cart_product_image_url="https://shop.example.com/img/p-77.jpg",
        ),
        picks("cart_reminder", 2),
    )
    return built


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    catalog = load_catalog(known_columns=(*MART_COLUMNS, *EXTRA_COLUMNS))
    return Renderer(catalog=catalog)


@pytest.mark.parametrize("case", sorted(cases()))
def test_payload_matches_golden(renderer: Renderer, case: str) -> None:
    row, pick_rows = cases()[case]
    payload, decisions = renderer.render_with_decisions(
        row, pick_rows, CAMPAIGN, variant="A"
    )
    html = payload.pop("html")
    payload["html_sha256"] = hashlib.sha256(html.encode()).hexdigest()
    payload["decisions"] = [
        {"block_id": d.block_id, "fired": d.fired, "values": d.values}
        for d in decisions
    ]
    actual = json.loads(dumps(payload))
    path = GOLDEN_DIR / f"{case}.json"
    html_path = GOLDEN_DIR / f"{case}.html"
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
        if case in FULL_HTML_CASES:
            html_path.write_text(html, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected
    if case in FULL_HTML_CASES:
        assert html == html_path.read_text(encoding="utf-8")
