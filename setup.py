"""Compiles the renderer's per-recipient modules with mypyc (the rest: pyproject.toml).

Rendering runs these modules once per recipient, and compiled they take 12-25 %
less CPU (see README, Measured). They stay plain, typed Python: mypyc
compiles the same source, and ``MAILROOM_COMPILE=0`` installs them uncompiled.
Once they compiled, the SHA-256 of every module of the package is written to
``renderer/_compiled.json``; ``renderer`` refuses to import compiled modules
built from other sources (rebuild with ``make setup``).
"""

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

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
PACKAGE = Path("renderer")
MANIFEST = PACKAGE / "_compiled.json"
# The compiled modules' shared library: renderer__mypyc, beside this file.
GROUP = "renderer"
# The sources compiled, with their SHA-256 (recorded once they compiled).
COMPILED_FROM: dict[str, str] = {}


def _sources() -> dict[str, str]:
    """The package's modules and their SHA-256, as compiled (compiled code also
    relies on the modules it imports)."""
    return {
        path.as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(PACKAGE.glob("*.py"))
    }


class RecordingBuildExt(build_ext):
    """Builds the extension modules, then records the sources they came from:
    a failed or interrupted build leaves no record, so the old modules refuse
    to load."""

    def run(self) -> None:
        MANIFEST.unlink(missing_ok=True)
        super().run()
        if not self.extensions:
            return
        record = json.dumps(COMPILED_FROM, indent=2) + "\n"
        if self.inplace or getattr(self, "editable_mode", False):
            MANIFEST.write_text(record)  # beside the sources, as the modules
        else:  # in the tree a wheel is made of
            built = Path(self.build_lib) / MANIFEST
            built.parent.mkdir(parents=True, exist_ok=True)
            built.write_text(record)


def _compiled_modules() -> list:
    if os.environ.get("MAILROOM_COMPILE", "1") == "0":
        # uncompiled: no module of an earlier build may shadow its source
        for built in [*PACKAGE.glob("*.so"), *Path().glob(f"{GROUP}__mypyc.*.so")]:
            built.unlink()
        MANIFEST.unlink(missing_ok=True)
        return []
    from mypyc.build import mypycify

    COMPILED_FROM.update(_sources())
    # Other packages' types are not read (Any), so that a first install, before
    # the dependencies, compiles the same code as a later one.
    options = ["--no-site-packages", "--ignore-missing-imports"]
    return mypycify([*options, *COMPILED], opt_level="3", group_name=GROUP)


setup(
    ext_modules=_compiled_modules(),
    cmdclass={"build_ext": RecordingBuildExt},
)
