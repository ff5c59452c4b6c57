"""Forked workers that die with the build (``mangarec.workers``); the stages that run on them
are tested in ``tests/test_schedule.py``."""

from __future__ import annotations

import os

from mangarec import workers


def _pid(_: int) -> int:
    return os.getpid()


def test_fork_pool_computes_in_other_processes():
    with workers.fork_pool(2) as pool:
        pids = set(pool.map(_pid, range(8)))
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_fork_pool_without_fork_uses_threads(monkeypatch):
    monkeypatch.setattr(workers.mp, "get_all_start_methods", lambda: ["spawn"])
    with workers.fork_pool(2) as pool:
        assert set(pool.map(_pid, range(4))) == {os.getpid()}
