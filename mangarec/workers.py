"""Worker processes that never outlive the build.

Forked workers (the build's stages: :mod:`mangarec.schedule`; title pages) would keep running
if the build were killed; on Linux each worker asks the kernel to send it ``SIGKILL`` when its
parent dies (``prctl(PR_SET_PDEATHSIG)``), and checks that the parent did not die before that
took effect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

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
