"""The renderer's compiled modules (setup.py): built, used, never stale, and
behaving as the plain Python does where compiling could change it."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import importlib
import json
import pickle
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from renderer import _compiled
from renderer.outbox import (
    MANIFEST_FILE,
    OutboxIntegrityError,
    OutboxManifest,
    read_outbox,
    read_outbox_emails,
    write_outbox,
)
from renderer.parallel import RenderSpec
from renderer.render import Campaign

SUFFIX = EXTENSION_SUFFIXES[0]
SETUP = Path(__file__).parents[1] / "setup.py"


def _setup_compiles() -> list[str]:
    """``COMPILED`` of setup.py: the modules it compiles."""
    for node in ast.parse(SETUP.read_text()).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "COMPILED":
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py names no COMPILED modules")


@pytest.mark.skipif(
    not _compiled.MANIFEST.exists(), reason="installed uncompiled (MAILROOM_COMPILE=0)"
)
def test_the_per_recipient_modules_run_compiled() -> None:
    compiled = _setup_compiles()
    assert "renderer/render.py" in compiled
    for source in compiled:
        module = importlib.import_module(source.removesuffix(".py").replace("/", "."))
        assert module.__file__ is not None
        assert module.__file__.endswith(SUFFIX), source


def _package(folder: Path, sources: dict[str, str], compiled: list[str]) -> None:
    """A package folder with these sources, extension modules for ``compiled``,
    and the record a build makes of them."""
    folder.mkdir()
    for name, text in sources.items():
        (folder / f"{name}.py").write_text(text)
    for name in compiled:
        (folder / f"{name}{SUFFIX}").write_bytes(b"")
    record = {
        f"{folder.name}/{name}.py": hashlib.sha256(text.encode()).hexdigest()
        for name, text in sources.items()
    }
    (folder / "_compiled.json").write_text(json.dumps(record))


def test_any_source_changed_after_compiling_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "renderer"
    _package(folder, {"render": "x = 1\n", "catalog": "y = 2\n"}, ["render"])
    assert _compiled.stale_modules(folder) == []
    # compiled code relies on what it imported, so an uncompiled module counts too
    (folder / "catalog.py").write_text("y = 3\n")
    assert _compiled.stale_modules(folder) == ["renderer/catalog.py"]
    (folder / "render.py").write_text("x = 2\n")
    assert _compiled.stale_modules(folder) == [
        "renderer/catalog.py",
        "renderer/render.py",
    ]


def test_uncompiled_sources_need_no_record(tmp_path: Path) -> None:
    folder = tmp_path / "renderer"
    _package(folder, {"render": "x = 1\n"}, [])
    (folder / "_compiled.json").unlink()
    (folder / "render.py").write_text("x = 2\n")
    assert _compiled.stale_modules(folder) == []


@pytest.mark.parametrize("record", [None, "", '{"renderer/render.py": "00'])
def test_compiled_modules_without_a_whole_record_are_stale(
    tmp_path: Path, record: str | None
) -> None:
    """No record: a build failed or was cut short after compiling."""
    folder = tmp_path / "renderer"
    _package(folder, {"render": "x = 1\n", "links": "y = 1\n"}, ["render", "links"])
    if record is None:
        (folder / "_compiled.json").unlink()
    else:
        (folder / "_compiled.json").write_text(record)
    assert _compiled.stale_modules(folder) == [
        "renderer/links.py",
        "renderer/render.py",
    ]


def test_a_compiled_module_without_its_source_is_stale(tmp_path: Path) -> None:
    folder = tmp_path / "renderer"
    _package(folder, {"render": "x = 1\n"}, ["render", "links"])
    assert _compiled.stale_modules(folder) == ["renderer/links.py"]
    (folder / "render.py").unlink()
    assert _compiled.stale_modules(folder) == [
        "renderer/links.py",
        "renderer/render.py",
    ]


def test_importing_the_renderer_refuses_a_stale_module(tmp_path: Path) -> None:
    """``import renderer`` in a fresh interpreter, from a copy of the package
    whose ``links.py`` changed after it was compiled."""
    package = Path(_compiled.__file__).parent
    copy = tmp_path / "renderer"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    if not _compiled.extension_modules(copy):  # installed uncompiled: pretend
        (copy / f"links{SUFFIX}").write_bytes(b"")
        record = {
            f"renderer/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
            for path in copy.glob("*.py")
        }
        (copy / "_compiled.json").write_text(json.dumps(record))
    with (copy / "links.py").open("a") as source:
        source.write("# edited\n")
    imported = subprocess.run(
        [sys.executable, "-c", "import renderer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert imported.returncode != 0
    assert "renderer/links.py changed after the renderer was compiled" in (
        imported.stderr
    )
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


def test_reading_an_outbox_stays_lazy(tmp_path: Path) -> None:
    """The readers decode a payload when asked for it (compiled, a generator
    expression would be built as a list of the whole run first); so a payload
    count that does not match shows only at the end."""
    payloads = [
        {"recipient_id": f"c-{i}", "email": f"p{i}@example.com", "html": "<p>hi</p>"}
        for i in range(3)
    ]
    write_outbox(payloads, tmp_path, "run-1")
    manifest_path = tmp_path / "run-1" / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["payload_count"] = 4
    manifest_path.write_text(json.dumps(manifest))
    for read, first in (
        (read_outbox, payloads[0]),
        (read_outbox_emails, "p0@example.com"),
    ):
        _, lines = read(tmp_path, "run-1")
        assert next(lines) == first
        with pytest.raises(OutboxIntegrityError):
            list(lines)


def test_compiled_code_has_no_generator_expression_mypyc_would_make_eager() -> None:
    """mypyc compiles a generator expression lazily only as a call's argument
    (``"".join(... for ...)``); anywhere else it builds the whole list first,
    with a build warning that nothing fails on (the outbox readers did so)."""
    eager = []
    for source in _setup_compiles():
        path = SETUP.parent / source
        tree = ast.parse(path.read_text())
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                if isinstance(child, ast.GeneratorExp) and not (
                    isinstance(parent, ast.Call) and child in parent.args
                ):
                    eager.append(f"{source}:{child.lineno}")
    assert eager == []


def test_checked_arguments_are_refused_with_the_documented_errors() -> None:
    """Compiled code checks annotated types itself (TypeError); the functions that
    validate their arguments take any value, so their own checks still run."""
    from renderer.campaigns import ArmAssigner, assign_arm
    from renderer.guard import SendGuard
    from renderer.outbox import validate_run_id

    with pytest.raises(ValueError, match="invalid run_id"):
        validate_run_id(None)
    with pytest.raises(TypeError, match="frequency_cap must be an int"):
        SendGuard([], True, [], dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="holdout must be a share"):
        assign_arm("c-1", "spring", {"A": 1}, holdout="0.1")
    with pytest.raises(ValueError, match=r"Campaign\.name must be a string"):
        Campaign("spring", 2024)  # type: ignore[arg-type]
    # ids are made text, as they always were
    assert assign_arm(42, "spring", {"A": 1}) == assign_arm("42", "spring", {"A": 1})
    assert ArmAssigner({"A": 1})(42, "spring") == "A"
