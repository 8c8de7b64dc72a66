"""Tuning settings that reach dbt through the environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mailroom.dbt_cli import DBT, REPOSITORY
from mailroom.settings import (
    DEFAULT_DBT_THREADS,
    ENV_DBT_THREADS,
    Settings,
    SettingsError,
)


def test_dbt_threads_default_to_two_and_refuse_what_is_no_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_DBT_THREADS, raising=False)
    assert Settings.load(home=tmp_path).dbt_threads == DEFAULT_DBT_THREADS == 2
    monkeypatch.setenv(ENV_DBT_THREADS, " 4 ")
    settings = Settings.load(home=tmp_path)
    assert settings.dbt_threads == 4
    assert settings.as_env()[ENV_DBT_THREADS] == "4"
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv(ENV_DBT_THREADS, bad)
        with pytest.raises(SettingsError, match=f"{ENV_DBT_THREADS}='{bad}'"):
            Settings.load(home=tmp_path)


def test_dbt_runs_as_many_threads_as_the_setting_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DBT_THREADS, "1")
    settings = Settings.load(home=tmp_path, as_of="2026-11-01")
    environment = {**os.environ, **settings.as_env()}
    seeded = subprocess.run(
        [
            *(str(DBT), "seed", "--select", "identity_blocklist"),
            *("--profiles-dir", str(REPOSITORY), "--project-dir", str(REPOSITORY)),
            *("--target-path", str(tmp_path / "target")),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Concurrency: 1 threads" in seeded.stdout
