"""Compiles the renderer's per-recipient modules with mypyc (the rest: pyproject.toml).

Rendering runs these modules once per recipient, and compiled they take about a
quarter less CPU (see README, Measured). They stay plain, typed Python: mypyc
compiles the same source, and ``MAILROOM_COMPILE=0`` installs them uncompiled.
The sources' hashes are written to ``renderer/_compiled.json``; ``renderer``
refuses to import a compiled module whose source changed since (rebuild with
``make setup``).
"""

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

# The renderer's modules that run per recipient, compiled in this order.
COMPILED = (
    "renderer/text.py",
    "renderer/links.py",
    "renderer/campaigns.py",
    "renderer/skeleton.py",
    "renderer/outbox.py",
    "renderer/render.py",
    "renderer/guard.py",
    "renderer/pipeline.py",
    "renderer/parallel.py",
)
MANIFEST = Path("renderer/_compiled.json")


def _compiled_modules() -> list:
    if os.environ.get("MAILROOM_COMPILE", "1") == "0":
        # uncompiled: no module of an earlier build may shadow its source
        for path in COMPILED:
            for built in Path(path).parent.glob(f"{Path(path).stem}.*.so"):
                built.unlink()
        MANIFEST.unlink(missing_ok=True)
        return []
    from mypyc.build import mypycify

    # Other packages' types are not read (Any), so that a first install, before
    # the dependencies, compiles the same code as a later one.
    options = ["--no-site-packages", "--ignore-missing-imports"]
    modules = mypycify([*options, *COMPILED], opt_level="3", group_name="renderer")
    hashes = {
        path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in COMPILED
    }
    MANIFEST.write_text(json.dumps(hashes, indent=2) + "\n")
    return modules


setup(ext_modules=_compiled_modules())
