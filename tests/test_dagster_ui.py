"""The Dagster UI, in a real headless Chromium: the asset graph shows every group,
"Materialize all" runs the whole pipeline to success, and the asset checks pass.

Screenshots are written to $MAILROOM_ARTIFACTS/screenshots (default:
artifacts/screenshots) for CI to keep.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailroom.settings import Settings
from tests.conftest import DEMO_AS_OF, REPOSITORY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("MAILROOM_ARTIFACTS", REPOSITORY / "artifacts"))
SCREENSHOTS = SCREENSHOTS / "screenshots"
GROUPS = ("ingestion", "staging", "identity", "marts", "ml", "emails", "export")

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Chromium not installed (apt-get install chromium; .ci/run does it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`mailroom ui` (dagster dev) over 800 generated customers."""
    from mailroom.simulator import generate
    from orchestration.pipeline import prepare_dagster_home

    home = tmp_path_factory.mktemp("ui")
    generate(home, customers=800, seed=11, as_of=DEMO_AS_OF)
    settings = Settings.load(home=home, as_of=DEMO_AS_OF)
    env = {**os.environ, "MAILROOM_AS_OF": settings.as_of.isoformat()}
    env["DAGSTER_HOME"] = os.environ["DAGSTER_HOME"] = str(home / "dagster")
    prepare_dagster_home(settings)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (home / "dagster-dev.log").open("w")
    # The documented command, as a user runs it.
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mailroom"),
            "ui",
            "--home",
            str(home),
            "--port",
            str(port),
        ],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=5)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"dagster dev did not start; see {log.name}"
                    ) from None
                time.sleep(1)
        _graphql(url, "mutation { setNuxSeen }")
        yield url, home
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _latest_run(url: str) -> tuple[str, str] | None:
    data = _graphql(
        url,
        "{ runsOrError(limit: 1) { ... on Runs { results { runId status } } } }",
    )
    results = data["runsOrError"]["results"]
    return (results[0]["runId"], results[0]["status"]) if results else None


def test_materialize_all_from_the_asset_graph(dagster_ui: tuple[str, Path]) -> None:
    from dagster import DagsterEventType, DagsterInstance
    from playwright.sync_api import sync_playwright

    url, home = dagster_ui
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{url}/asset-groups", wait_until="networkidle")
        for group in GROUPS:
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=SCREENSHOTS / "dagster-asset-graph.png")

        page.get_by_role("button", name="Materialize all").click()
        deadline = time.monotonic() + 300
        while (run := _latest_run(url)) is None or run[1] not in (
            "SUCCESS",
            "FAILURE",
            "CANCELED",
        ):
            assert time.monotonic() < deadline, f"run did not finish: {run}"
            time.sleep(2)
        run_id, status = run
        page.goto(f"{url}/runs/{run_id}", wait_until="networkidle")
        page.get_by_text("Success").first.wait_for(timeout=30_000)
        page.screenshot(path=SCREENSHOTS / "dagster-run-success.png")

        # Materializations carry their figures: the RFM grid as a heatmap.
        page.goto(
            f"{url}/assets/marts/fct_rfm_grid?view=events", wait_until="networkidle"
        )
        page.locator("tr", has_text="rfm_heatmap").get_by_text(
            "[Show Markdown]"
        ).click()
        heatmap = page.locator("img[src^='data:image/png']").first
        heatmap.wait_for(timeout=30_000)
        width = heatmap.evaluate("image => image.naturalWidth")
        page.screenshot(path=SCREENSHOTS / "dagster-rfm-heatmap.png")
        browser.close()

    assert width > 100, "the RFM heatmap did not load as an image"

    assert status == "SUCCESS", f"run {run_id}: see {home / 'dagster-dev.log'}"
    with DagsterInstance.get() as instance:
        evaluations = [
            record.dagster_event.event_specific_data
            for record in instance.all_logs(
                run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    assert len(evaluations) > 50
    assert all(evaluation.passed for evaluation in evaluations)
    assert any(
        evaluation.check_name == "outbox_has_consent_for_every_recipient"
        for evaluation in evaluations
    )
    assert list((home / "outbox").glob("*/payloads.jsonl.zst"))
