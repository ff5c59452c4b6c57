"""Worker processes that never outlive the build.

Forked workers (UMAP maps, title pages) would keep running if the build were killed; on Linux
each worker asks the kernel to send it ``SIGKILL`` when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), and checks that the parent did not die before that took effect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Worker initializer: be killed when the process ``parent`` exits (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name:
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: go now
        os._exit(1)


def fork_pool(workers: int) -> Executor:
    """A pool of ``workers`` forked processes that die with this one (threads where fork is missing)."""
    if "fork" not in mp.get_all_start_methods():
        return ThreadPoolExecutor(max_workers=workers)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("fork"), initializer=die_with_parent, initargs=(os.getpid(),)
    )


#: The calls :class:`Background` workers run, by number: set before the fork, so a worker
#: inherits its call (the inputs are never pickled; only the result comes back).
_CALLS: dict[int, Callable[[], Any]] = {}


def _timed_call(compute: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = compute()
    return value, time.perf_counter() - t0


def _run_inherited(number: int) -> tuple[Any, float]:
    return _timed_call(_CALLS[number])


class Background:
    """``compute()`` in a forked worker that dies with the build, started now; :meth:`result`
    waits for it. Where fork is missing (or fails), ``compute`` runs in :meth:`result` instead.

    The worker inherits ``compute`` and its inputs from this process at the fork (nothing is
    pickled but the value coming back), so a stage can run beside the next ones: e.g. the
    evaluation beside the maps on a 2-core machine. An exception in ``compute`` is raised again
    by :meth:`result`.
    """

    def __init__(self, compute: Callable[[], Any]):
        self._compute = compute
        self._pool: Executor | None = None
        self._number = id(self)
        if "fork" not in mp.get_all_start_methods():
            return
        _CALLS[self._number] = compute
        try:
            pool = fork_pool(1)
            self._future = pool.submit(_run_inherited, self._number)  # forks the worker now
            self._pool = pool
        except (OSError, RuntimeError):  # no way to fork here: compute in result()
            pass
        finally:
            _CALLS.pop(self._number, None)  # the worker has its copy

    def result(self) -> tuple[Any, float]:
        """``(value, seconds the computation took)``."""
        if self._pool is None:
            return _timed_call(self._compute)
        try:
            return self._future.result()
        finally:
            self._pool.shutdown(cancel_futures=True)
