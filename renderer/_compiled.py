"""Refuse compiled renderer modules whose source changed after they were compiled.

``setup.py`` compiles the per-recipient modules with mypyc into extension modules
beside their sources, and Python imports an extension module before a source of
the same name, so an edit to ``renderer/render.py`` would silently not run until
the next build. ``setup.py`` records each compiled source's SHA-256 in
``_compiled.json``; importing this module, which :mod:`renderer` does first,
checks them (about a millisecond).
"""

from __future__ import annotations

import hashlib
import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "_compiled.json"


def stale_modules(folder: Path = HERE) -> list[str]:
    """The sources in ``folder`` with an extension module built from another text
    (or not recorded in its ``_compiled.json``)."""
    try:
        recorded = json.loads((folder / MANIFEST.name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        recorded = {}
    stale = []
    for suffix in EXTENSION_SUFFIXES:
        for extension in sorted(folder.glob(f"*{suffix}")):
            source = folder / f"{extension.name.removesuffix(suffix)}.py"
            key = f"{folder.name}/{source.name}"
            if not source.exists():
                continue
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
            if recorded.get(key) != digest:
                stale.append(key)
    return stale


def check() -> None:
    """Raise ImportError, naming them, if compiled modules are out of date."""
    stale = stale_modules()
    if stale:
        raise ImportError(
            f"{', '.join(stale)} changed after it was compiled, so the compiled "
            "module would run the old code: run `make setup` to compile again, or "
            "delete renderer/*.so to run the renderer uncompiled."
        )


check()
