"""How render worker processes (:mod:`renderer.parallel`) start.

Workers are forked from multiprocessing's fork server, a fresh process that
imports the renderer once (:mod:`renderer._preload`), so that a worker starts
with it loaded: ~0.09 s of CPU a worker, against ~0.4 s for a ``spawn``-started
one that imports it itself. Not ``fork`` from the parent: it may hold a DuckDB
connection, whose threads do not survive ``fork``. Where there is no fork server
(Windows) workers are ``spawn``-started.

The fork server is the process's own, for every later user of ``forkserver``
there: it keeps one BLAS thread and the renderer loaded, and it runs until the
process ends. Python 3.11's does not take the parent's ``sys.path`` (CPython
gh-117378), so it may find another copy of the renderer than the parent's:
:func:`start` then refuses to render with it.

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
# What the fork server imports before it forks the first worker. Not the
# parent's main module ("__main__"): Python up to 3.13 never preloads it
# (CPython gh-126631), and where it does, it would load before one BLAS thread
# is set, and an error in it would kill the server.
PRELOAD = ("renderer._preload",)


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


def loaded_renderer() -> str | None:
    """Where this process loaded the renderer from: ``renderer.__file__``."""
    import renderer

    return renderer.__file__


def start(spec: bytes, renderer_file: str | None = None) -> None:
    """Pool initializer: one thread for BLAS, then the worker's renderer for
    ``spec`` (a pickled :class:`renderer.parallel.RenderSpec`, pickled for
    unpickling its classes would load the renderer first).

    Raises
    ------
    RuntimeError
        If the renderer loaded here is not the parent's (``renderer_file``, its
        ``renderer.__file__``).
    """
    os.environ.setdefault(BLAS_THREADS, "1")
    import renderer
    from renderer import parallel

    if renderer_file is not None and renderer.__file__ != renderer_file:
        raise RuntimeError(
            f"a render worker loaded the renderer from {renderer.__file__}, its "
            f"parent from {renderer_file} (the fork server does not take the "
            "parent's sys.path): install Mailroom (make setup) or set PYTHONPATH "
            "so that both find the same copy"
        )
    parallel.init_worker(pickle.loads(spec))
