"""The export step of the pipeline: with an ESP set, it sends the latest outbox
run's changed payloads over real HTTP (a local test server), each recipient once;
with none set, it is skipped and materializes nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from mailroom.settings import Settings
from orchestration.assets.export import ESP_SYNC_KEY
from orchestration.pipeline import STAGES, run_stages
from renderer.export.state import SyncState
from renderer.export.sync import STATE_FILE
from renderer.outbox import read_outbox
from tests.fake_esp import FakeESP

pytestmark = pytest.mark.e2e

EXPORT = tuple(stage for stage in STAGES if stage.name == "export")


@pytest.fixture
def copied_run(demo_run: Settings, tmp_path: Path) -> Iterator[Settings]:
    shutil.copytree(
        demo_run.home, tmp_path / "home", ignore=shutil.ignore_patterns("dagster")
    )
    settings = Settings.load(home=tmp_path / "home", as_of=demo_run.as_of)
    try:
        yield settings
    finally:
        demo_run.export()


def _export(settings: Settings) -> dict | None:
    """Run the export stage; the metadata of its materialization, or None."""
    (result,) = run_stages(settings, stages=EXPORT)
    with DagsterInstance.get() as instance:
        records = instance.all_logs(
            result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        )
    for record in records:
        materialization = record.dagster_event.event_specific_data.materialization
        if materialization.asset_key == AssetKey(ESP_SYNC_KEY):
            return {key: value.value for key, value in materialization.metadata.items()}
    return None


def test_export_sends_each_changed_recipient_once(
    copied_run: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _ = read_outbox(copied_run.outbox)
    payloads = manifest.payload_count
    assert payloads > 0
    with FakeESP() as esp:
        monkeypatch.setenv("MAILROOM_ESP_DESTINATION", "braze")
        monkeypatch.setenv("MAILROOM_ESP_BASE_URL", esp.base_url)
        first = _export(copied_run)
        assert first is not None
        assert first["destination"] == "braze"
        assert first["sent"] == first["accepted"] == payloads
        assert first["rejected"] == 0
        delivered = dict(esp.deliveries)
        assert len(delivered) == payloads
        assert set(delivered.values()) == {1}

        # Nothing changed: nothing is sent again.
        second = _export(copied_run)
        assert second["sent"] == 0 and second["unchanged"] == payloads
        assert dict(esp.deliveries) == delivered


def test_export_without_a_destination_is_skipped(
    copied_run: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILROOM_ESP_DESTINATION", raising=False)
    with SyncState(copied_run.outbox / STATE_FILE) as state:
        logged = state.export_log()
    assert _export(copied_run) is None
    # The state file holds the outbox's own export log; no ESP row is added.
    with SyncState(copied_run.outbox / STATE_FILE) as state:
        assert state.export_log() == logged
        assert {row["destination"] for row in logged} == {"outbox"}
        assert state.connection.execute(
            "select count(*) from acknowledged"
        ).fetchone() == (0,)
