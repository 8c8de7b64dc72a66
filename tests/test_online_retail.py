"""Golden test: the UCI Online Retail export through the landing contract reproduces
the published RFM segment counts (shared/data/README.md) within 1 %."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mailroom.datasets.online_retail import write_landing
from mailroom.settings import Settings
from tests.conftest import SHARED_DATA

EXPORT = SHARED_DATA / "online_retail" / "online_retail_2010_2011.parquet"

PUBLISHED_SEGMENTS = {
    "hibernating": 1071,
    "loyal_customers": 819,
    "champions": 633,
    "at_risk": 593,
    "potential_loyalists": 484,
    "about_to_sleep": 352,
    "need_attention": 187,
    "promising": 94,
    "cant_lose": 63,
    "new_customers": 42,
}

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        not EXPORT.exists(),
        reason=f"Online Retail export not found at {EXPORT} (../shared/data absent)",
    ),
]


@pytest.fixture(scope="module")
def retail_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orchestration.pipeline import STAGES, run_stages

    home = tmp_path_factory.mktemp("online_retail")
    write_landing(EXPORT, home / "landing")
    settings = Settings.load(home=home, as_of="2011-12-11")
    # Ingestion and the dbt marts are what the published table covers.
    list(run_stages(settings, stages=STAGES[:2], log_path=home / "pipeline.log"))
    return settings.warehouse


def test_rfm_segment_counts_match_the_published_table(retail_run: Path) -> None:
    with duckdb.connect(str(retail_run), read_only=True) as con:
        counts = dict(
            con.execute(
                "select rfm_segment, count(*) from marts.fct_customer_rfm "
                "where rfm_segment != 'no_orders' group by 1"
            ).fetchall()
        )
    assert set(counts) == set(PUBLISHED_SEGMENTS)
    for segment, published in PUBLISHED_SEGMENTS.items():
        assert abs(counts[segment] - published) <= 0.01 * published, segment
    assert sum(counts.values()) == 4338


def test_guest_lines_are_quarantined_not_dropped(retail_run: Path) -> None:
    with duckdb.connect(str(retail_run), read_only=True) as con:
        raw, staged, quarantined, guests = con.execute(
            """
            select raw_rows, staged_rows, quarantined_rows,
                (select count(*) from quality.quarantined_rows
                 where quarantine_reason = 'missing_customer_key')
            from quality.source_reconciliation where source_name = 'orders'
            """
        ).fetchone()
    assert raw == staged + quarantined == 25900
    assert guests == 3710
