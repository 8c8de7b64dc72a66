"""When intake carts become due: the state the elapsed_cart_windows sensor keeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailroom.intake import land_events
from mailroom.realtime import CartWindows
from mailroom.settings import Settings

WINDOW = timedelta(minutes=30)


def _cart(event_id: str, at: str, event_type: str = "add_to_cart") -> dict[str, str]:
    return {
        "event_id": event_id,
        "occurred_at": at,
        "event_type": event_type,
        "customer_id": "c-1",
    }


def test_only_new_intake_carts_open_windows_and_they_close_on_time(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    land_events(
        landing,
        "web_events",
        [
            _cart("w-1", "2026-11-25T10:00:00+01:00"),  # 09:00 UTC
            _cart("w-2", "2026-11-25T09:10:00Z", event_type="page_view"),
        ],
    )
    # A file dropped by hand is not the intake's: the daily run handles it.
    (landing / "web_events" / "export.jsonl").write_text("{}\n")

    windows = CartWindows.from_cursor(None)
    assert windows.read_new_intake_files(landing, WINDOW) == 1
    assert windows.window_ends == [datetime(2026, 11, 25, 9, 30)]

    windows = CartWindows.from_cursor(windows.to_cursor())  # survives the cursor
    assert windows.read_new_intake_files(landing, WINDOW) == 0  # read once only
    assert windows.pop_elapsed(datetime(2026, 11, 25, 9, 29, 59)) == []
    assert windows.pop_elapsed(datetime(2026, 11, 25, 9, 30)) == [
        datetime(2026, 11, 25, 9, 30)
    ]
    assert windows.window_ends == []


def test_an_as_of_instant_sets_the_as_of_date_and_reaches_dbt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(home=tmp_path, as_of_at="2026-11-25T10:03:12.5+01:00")
    assert settings.as_of_at == datetime(2026, 11, 25, 9, 3, 12)
    assert settings.as_of.isoformat() == "2026-11-25"
    assert settings.as_env()["MAILROOM_AS_OF_AT"] == "2026-11-25T09:03:12"
    monkeypatch.setenv("MAILROOM_AS_OF_AT", "2026-11-25T09:03:12")
    assert Settings.load(home=tmp_path).as_of_at == datetime(2026, 11, 25, 9, 3, 12)
    assert Settings.load(home=tmp_path, as_of="2026-11-01").as_of_at is None
