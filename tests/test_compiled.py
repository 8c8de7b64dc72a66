"""The renderer's compiled modules (setup.py): built, used, and never stale."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from renderer import _compiled
from renderer.outbox import OutboxManifest
from renderer.parallel import RenderSpec
from renderer.render import Campaign

SUFFIX = EXTENSION_SUFFIXES[0]


@pytest.mark.skipif(
    os.environ.get("MAILROOM_COMPILE") == "0", reason="installed uncompiled"
)
def test_the_per_recipient_modules_run_compiled() -> None:
    recorded = json.loads(_compiled.MANIFEST.read_text(encoding="utf-8"))
    assert "renderer/render.py" in recorded
    for source in recorded:
        module = importlib.import_module(source.removesuffix(".py").replace("/", "."))
        assert module.__file__ is not None
        assert module.__file__.endswith(SUFFIX), source


def _built(folder: Path, name: str, text: str, recorded: dict[str, str]) -> None:
    """A source in ``folder``, an extension module beside it, and its record."""
    (folder / f"{name}.py").write_text(text)
    (folder / f"{name}{SUFFIX}").write_bytes(b"")
    recorded[f"{folder.name}/{name}.py"] = hashlib.sha256(text.encode()).hexdigest()


def test_a_source_changed_after_compiling_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "renderer"
    folder.mkdir()
    recorded: dict[str, str] = {}
    _built(folder, "render", "x = 1\n", recorded)
    _built(folder, "links", "y = 2\n", recorded)
    (folder / "catalog.py").write_text("z = 3\n")  # not compiled
    (folder / "_compiled.json").write_text(json.dumps(recorded))
    assert _compiled.stale_modules(folder) == []

    (folder / "render.py").write_text("x = 2\n")
    assert _compiled.stale_modules(folder) == ["renderer/render.py"]


def test_an_extension_module_without_a_record_is_stale(tmp_path: Path) -> None:
    folder = tmp_path / "renderer"
    folder.mkdir()
    recorded: dict[str, str] = {}
    _built(folder, "render", "x = 1\n", recorded)
    assert _compiled.stale_modules(folder) == ["renderer/render.py"]


def test_importing_the_renderer_refuses_a_stale_module(tmp_path: Path) -> None:
    """``import renderer`` in a fresh interpreter, from a copy of the package
    whose ``links.py`` changed after it was compiled."""
    package = Path(_compiled.__file__).parent
    copy = tmp_path / "renderer"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    recorded = {}
    if (copy / "_compiled.json").exists():
        recorded = json.loads((copy / "_compiled.json").read_text(encoding="utf-8"))
    _built(copy, "links", (copy / "links.py").read_text(), recorded)
    (copy / "_compiled.json").write_text(json.dumps(recorded))
    with (copy / "links.py").open("a") as source:
        source.write("# edited\n")
    imported = subprocess.run(
        [sys.executable, "-c", "import renderer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert imported.returncode != 0
    assert "renderer/links.py changed after it was compiled" in imported.stderr
    assert "make setup" in imported.stderr


def test_classes_that_travel_to_workers_pickle() -> None:
    campaign = Campaign("spring", "Spring", shop_url="https://shop.example.org/")
    spec = RenderSpec(campaign, {"A": 1.0}, "v1", holdout=0.1)
    manifest = OutboxManifest(
        run_id="r1",
        created_at="2026-01-01T00:00:00",
        payload_count=0,
        segment_counts={},
        payloads_sha256="0" * 64,
        payloads_bytes=0,
    )
    for value in (campaign, spec, manifest):
        assert pickle.loads(pickle.dumps(value)) == value
