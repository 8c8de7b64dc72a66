"""Load-time verdicts reach dbt staging: invalid emails are nulled or quarantined with
their reason, misspelt domains flagged, phones given in E.164, dates before the
business, outlying amounts and orphan lines caught; raw still reconciles with staged
plus quarantined."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mailroom.dbt_cli import run_dbt
from mailroom.ingest import ingest_landing

pytestmark = pytest.mark.e2e

LANDING = {
    "customers/a.csv": [
        "customer_id,email,phone,country,created_at",
        "c1, Ana@Gmial.com ,06 12 34 56 78,FR,2024-01-01",
        "c2,bob@,0151 23456789,DE,2024-01-01",
        "c3,carla@example.com,12,FR,2024-01-01",
        "c4,dan@example.com,,PT,1999-12-31",
    ],
    "consents/a.csv": [
        "email,channel,status,captured_at",
        "ana@gmial.com,email,opted_in,2024-02-01",
        "bob@,email,opted_in,2024-02-01",
    ],
    "orders/a.csv": [
        "order_id,customer_id,email,ordered_at,total_amount",
        *(f"o{n},c1,,2024-03-{n:02d},{40 + n}.50" for n in range(1, 21)),
        "o90,c3,,2024-04-01,48000",
        "o91,c3,,1998-04-01,45",
    ],
    "order_items/a.csv": [
        "order_id,product_id,quantity,unit_price",
        "o1,p1,1,41.50",
        "o404,p1,1,10",
    ],
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("validation")
    for name, lines in LANDING.items():
        path = home / "landing" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    warehouse = home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ingest_landing(con, home / "landing")
    run_dbt(
        "build",
        "--select",
        "+source_reconciliation +amount_outliers +orphan_rows",
        warehouse=warehouse,
        as_of="2026-11-01",
        target_path=home / "target",
    )
    return warehouse


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_accounts_keep_typo_emails_flagged_and_lose_invalid_ones(
    warehouse: Path,
) -> None:
    rows = _rows(
        warehouse,
        "select shop_customer_id, email, is_email_valid, has_email_domain_typo, "
        "email_problem, suggested_email, phone_e164, phone_problem "
        "from staging.stg_shop__customers order by 1",
    )
    assert rows == [
        ("c1", "ana@gmial.com", True, True, "email_domain_typo", "ana@gmail.com",
         "+33612345678", None),
        ("c2", None, False, False, "invalid_email", None, "+4915123456789", None),
        ("c3", "carla@example.com", True, False, None, None, None, "invalid_phone"),
    ]  # fmt: skip


def test_rows_are_quarantined_with_their_reason(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        "select source_name, record_key, quarantine_reason "
        "from quality.quarantined_rows where source_name <> 'consents' "
        "union all select 'consents', email, quarantine_reason "
        "from staging.base_crm__consents where quarantine_reason is not null "
        "order by 1, 2",
    )
    assert rows == [
        ("consents", "bob@", "invalid_email"),
        ("customers", "c4", "pre_business_created_at"),
        ("orders", "o91", "pre_business_ordered_at"),
    ]


def test_an_outlying_order_total_is_flagged_not_quarantined(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        "select source_name, record_key, outlier_reason from quality.amount_outliers",
    )
    assert rows == [("orders", "o90", "high_total_amount")]
    staged = "select order_id from staging.stg_shop__orders where order_id = 'o90'"
    assert _rows(warehouse, staged) == [("o90",)]


def test_raw_reconciles_with_staged_and_quarantined(warehouse: Path) -> None:
    for source, raw, staged, quarantined in _rows(
        warehouse,
        "select source_name, raw_rows, staged_rows, quarantined_rows "
        "from quality.source_reconciliation",
    ):
        assert raw == staged + quarantined, source


def test_items_of_unknown_orders_are_flagged_not_quarantined(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        "select source_name, foreign_key, orphan_reason from quality.orphan_rows",
    )
    # No products were delivered: unknown products are not checked at all.
    assert rows == [("order_items", "o404", "unknown_order_id")]
