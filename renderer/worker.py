"""How render worker processes (:mod:`renderer.parallel`) start.

Workers are forked from multiprocessing's fork server, a fresh process that
imports the renderer once (:mod:`renderer._preload`), and the parent's main
module, so that a worker starts with them loaded: ~0.09 s of CPU a worker, against
~0.4 s for a ``spawn``-started one that imports them itself. Not ``fork`` from
the parent: it may hold a DuckDB connection, whose threads do not survive
``fork``. Where there is no fork server (Windows) workers are ``spawn``-started.

A worker renders with pyarrow, which imports numpy, whose OpenBLAS starts a thread
per core as it loads, and they spin a while: 0.12-0.2 s of CPU per process, for
linear algebra that rendering never does. So OpenBLAS is set to one thread before
the renderer loads, in the fork server (and so in the workers forked from it) or in
a spawned worker; a value the user set is kept. Importing this module runs
``renderer/__init__``, which must not load numpy (tested); nor should the parent's
main module, which a worker imports first.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from multiprocessing.context import BaseContext

# Read by OpenBLAS as it loads; a value the user set is kept.
BLAS_THREADS = "OPENBLAS_NUM_THREADS"
# What the fork server imports before it forks the first worker: the parent's
# main module (a script's; a worker imports it first, and ``mailroom``'s cost a
# worker 0.45 s) and the renderer.
PRELOAD = ("__main__", "renderer._preload")


def context() -> BaseContext:
    """The multiprocessing context render workers are started with.

    The fork server is one per process and so is its preload list: this sets it
    to :data:`PRELOAD`, which takes effect if the server is not running yet (a
    server started before, by Mailroom or not, forks workers that import what
    they lack themselves).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload(list(PRELOAD))
    return forkserver


def start_fork_server() -> None:
    """Start the fork server now, if workers fork from one: it loads the renderer
    while the caller goes on preparing (it would start with the first worker)."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver  # not on Windows

        forkserver.ensure_running()


def start(spec: bytes) -> None:
    """Pool initializer: one thread for BLAS, then the worker's renderer for
    ``spec`` (a pickled :class:`renderer.parallel.RenderSpec`, pickled for
    unpickling its classes would load the renderer first)."""
    os.environ.setdefault(BLAS_THREADS, "1")
    from renderer import parallel

    parallel.init_worker(pickle.loads(spec))
