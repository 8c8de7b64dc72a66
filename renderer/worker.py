"""The first steps of a render worker process (:mod:`renderer.parallel`).

A worker renders with pyarrow, which imports numpy, whose OpenBLAS starts a
thread per core as it loads, and they spin a while: 0.12-0.2 s of CPU per
worker, for linear algebra that rendering never does. So a worker starts here,
sets OpenBLAS to one thread, and only then loads the renderer; the spec comes
pickled, for unpickling its classes would load the renderer first. Importing
this module runs ``renderer/__init__``, which must not load numpy (tested); nor
should the parent's main module, which a spawned process imports first.
"""

from __future__ import annotations

import os
import pickle

# Read by OpenBLAS as it loads; a value the user set is kept.
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def start(spec: bytes) -> None:
    """Pool initializer: one thread for BLAS, then the worker's renderer for
    ``spec`` (a pickled :class:`renderer.parallel.RenderSpec`)."""
    os.environ.setdefault(BLAS_THREADS, "1")
    from renderer import parallel

    parallel.init_worker(pickle.loads(spec))
