"""The dashboard in a real headless Chromium: `mailroom dashboard` (the documented
command) serves the demo warehouse, the page loads, and the numbers it shows are the
warehouse's.

Screenshots are written to $MAILROOM_ARTIFACTS/screenshots (default:
artifacts/screenshots) for CI to keep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from mailroom.settings import Settings
from tests.test_dagster_ui import CHROMIUM, SCREENSHOTS, _free_port

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Chromium not installed (apt-get install chromium; .ci/run does it)",
    ),
]

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def dashboard(
    demo_run: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mailroom dashboard --home HOME --port N` over the demo run's warehouse."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mailroom"),
            "dashboard",
            "--home",
            str(demo_run.home),
            "--port",
            str(port),
        ],
        cwd=demo_run.home,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as ok:
                    if ok.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start; see {log_path}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _rows(page, heading: str) -> list[list[str]]:
    """The cell texts of the tables in the section under one header."""
    return page.evaluate(
        """(heading) => {
            const blocks = [...document.querySelectorAll(
                '[data-testid="stHeading"], [data-testid="stTable"]')];
            let inside = false;
            const rows = [];
            for (const block of blocks) {
                if (block.matches('[data-testid="stHeading"]')) {
                    const h2 = block.querySelector('h2');
                    if (h2) inside = h2.innerText.trim() === heading;
                } else if (inside) {
                    for (const tr of block.querySelectorAll('tbody tr')) {
                        rows.push([...tr.querySelectorAll('th, td')]
                            .map((cell) => cell.innerText.trim()));
                    }
                }
            }
            return rows;
        }""",
        heading,
    )


def test_dashboard_shows_the_warehouse_numbers(
    dashboard: str, demo_run: Settings
) -> None:
    from playwright.sync_api import sync_playwright

    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        people, sendable = con.execute(
            "select count(*), count(case when is_email_sendable then 1 end) "
            "from marts.dim_customers"
        ).fetchone()
        champions = con.execute(
            "select count(*) from marts.fct_customer_segments "
            "where segment_type = 'rfm' and segment = 'champions'"
        ).fetchone()[0]
        # The latest campaign is listed first, variant by variant.
        campaign, variant, sends = con.execute(
            "select name, variant, sends from ("
            "select coalesce(campaign_name, campaign_id) as name, campaign_id, "
            "variant, sends, min(first_sent_at) over (partition by campaign_id) "
            "as sent_at from marts.fct_campaign_variants) "
            "order by sent_at desc, campaign_id, variant limit 1"
        ).fetchone()
        (total_sends,) = con.execute(
            "select sum(sends) from marts.fct_campaign_variants"
        ).fetchone()
    assert champions > 0

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=BROWSER_ARGS
        )
        # Streamlit scrolls inside its own container, so a full-page screenshot
        # holds only the window: make the window as tall as the page.
        page = browser.new_page(viewport={"width": 1400, "height": 4800})
        page.goto(dashboard)
        # Real text, not the loading skeleton: the last section has drawn its table.
        page.get_by_text("Campaign / variant").first.wait_for(timeout=60_000)
        page.get_by_role("heading", name="Segments", exact=True).wait_for()
        # Every table has drawn its rows (Streamlit fills them in as data comes):
        # read nothing before that.
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stTable\"]')]"
            ".every((table) => table.querySelector('tbody tr'))"
            " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
        )
        metrics = dict(
            zip(
                page.locator('[data-testid="stMetricLabel"]').all_inner_texts(),
                page.locator('[data-testid="stMetricValue"]').all_inner_texts(),
                strict=True,
            )
        )
        segment_rows = _rows(page, "Segments")
        campaign_rows = _rows(page, "Campaigns")
        # Let the last elements paint before the screenshot.
        page.wait_for_timeout(3_000)
        page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
        text = page.locator("body").inner_text()
        browser.close()

    assert metrics["People"].strip() == f"{people:,}"
    assert metrics["Sendable"].strip() == f"{sendable:,}"
    assert metrics["Campaign sends"].strip() == f"{total_sends:,}"
    assert ["champions", f"{champions:,}"] in [row[:2] for row in segment_rows]
    assert campaign_rows[0][:2] == [f"{campaign} / {variant}", f"{sends:,}"]
    assert "Traceback" not in text
    assert "@" not in text
