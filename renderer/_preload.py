"""Imported once by the fork server that render workers are forked from
(:func:`renderer.worker.context`): one BLAS thread, then the renderer's modules, so
that every worker starts with them loaded."""

import os

from renderer.worker import BLAS_THREADS

os.environ.setdefault(BLAS_THREADS, "1")

import renderer.parallel  # noqa: F401  (after the line above: loads numpy)
