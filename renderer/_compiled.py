"""Refuse compiled renderer modules built from other sources than the ones here.

``setup.py`` compiles the per-recipient modules with mypyc into extension modules
beside their sources, and Python imports an extension module before a source of
the same name, so an edit to ``renderer/render.py`` would silently not run until
the next build. Compiled code also relies on what it read of the other modules
here (the fields of a catalog's ``Decision``, say). So once a build succeeds,
``setup.py`` records the SHA-256 of every module of this package in
``_compiled.json``; importing this module, which :mod:`renderer` does first,
checks them (about a millisecond).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "_compiled.json"
# The compiled modules' shared library (setup.py's group name), a top-level module.
SHARED_LIBRARY = "renderer__mypyc"


def extension_modules(folder: Path = HERE) -> list[Path]:
    """The compiled modules in ``folder``."""
    found = {
        path for suffix in EXTENSION_SUFFIXES for path in folder.glob(f"*{suffix}")
    }
    return sorted(found)


def stale_modules(folder: Path = HERE) -> list[str]:
    """What makes the compiled modules in ``folder`` out of date: sources changed
    or deleted since the build recorded them, compiled modules it did not record
    (``folder/name.py`` each); none when nothing here is compiled."""
    compiled = extension_modules(folder)
    if not compiled:
        return []
    try:
        recorded = json.loads((folder / MANIFEST.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or cut short
        recorded = {}
    stale = {
        path
        for path, digest in recorded.items()
        if _digest(folder / Path(path).name) != digest
    }
    for extension in compiled:
        name = extension.name.split(".", 1)[0]
        path = f"{folder.name}/{name}.py"
        if path not in recorded or not (folder / f"{name}.py").exists():
            stale.add(path)
    return sorted(stale)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def check(folder: Path = HERE) -> None:
    """Raise ImportError, saying what to do, if compiled modules are out of date
    or their shared library is missing."""
    stale = stale_modules(folder)
    if stale:
        raise ImportError(
            f"{', '.join(stale)} changed after the renderer was compiled (or was "
            "never compiled with it), so the compiled modules would run other code: "
            "run `make setup` to compile again, or delete renderer/*.so to run the "
            "renderer uncompiled."
        )
    if extension_modules(folder) and importlib.util.find_spec(SHARED_LIBRARY) is None:
        raise ImportError(
            f"the renderer's compiled modules need {SHARED_LIBRARY} (their shared "
            "library, built beside the repository's setup.py): run `make setup`."
        )


check()
