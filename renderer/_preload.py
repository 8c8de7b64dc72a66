"""Imported once by the fork server that render workers are forked from
(:func:`renderer.worker.context`): one BLAS thread, then the renderer's modules, so
that every worker starts with them loaded."""

import contextlib
import os

from renderer.worker import BLAS_THREADS

os.environ.setdefault(BLAS_THREADS, "1")

# Only a warm-up: the fork server dies of any error but ImportError here, and a
# worker imports what it lacks itself (renderer.worker.start), failing there.
with contextlib.suppress(Exception):
    import renderer.parallel  # noqa: F401  (after the line above: loads numpy)
