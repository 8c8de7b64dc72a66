"""The first steps of a render worker process (:mod:`renderer.parallel`).

A worker renders with pyarrow, which imports numpy, whose OpenBLAS starts a
thread per core as it loads: about 0.25 s of CPU per worker, for linear algebra
that rendering never does. So a worker starts here, in a module that imports
nothing heavy, sets the libraries' thread counts, and only then loads the
renderer; the spec comes pickled, for unpickling its classes would load it first.
"""

from __future__ import annotations

import os
import pickle

# Read by the BLAS and OpenMP libraries as they load; a value already set is kept.
SINGLE_THREADED = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def start(spec: bytes) -> None:
    """Pool initializer: one thread for BLAS, then the worker's renderer for
    ``spec`` (a pickled :class:`renderer.parallel.RenderSpec`)."""
    for name, value in SINGLE_THREADED.items():
        os.environ.setdefault(name, value)
    from renderer import parallel

    parallel.init_worker(pickle.loads(spec))
