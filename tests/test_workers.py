"""Forked workers: a stage computed in the background (``workers.Background``, ``_Stages.start``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mangarec import workers
from mangarec.cache import Cache
from mangarec.errors import InputError
from mangarec.pipeline import _Stages
from mangarec.progress import StageLog


def test_background_computes_in_another_process_from_inherited_inputs():
    big = np.arange(1_000_000)  # inherited at the fork, never pickled
    job = workers.Background(lambda: (os.getpid(), int(big.sum())))
    (pid, total), seconds = job.result()
    assert pid != os.getpid() and total == int(big.sum()) and seconds >= 0
    assert not workers._CALLS  # nothing left behind for later forks


def test_background_raises_the_computation_s_error():
    def bad():
        raise InputError("a bad key", "site.toml")

    job = workers.Background(bad)
    with pytest.raises(InputError, match="site.toml: a bad key"):
        job.result()


def test_background_without_fork_computes_in_result(monkeypatch):
    monkeypatch.setattr(workers.mp, "get_all_start_methods", lambda: ["spawn"])
    calls = []
    job = workers.Background(lambda: calls.append(os.getpid()) or 7)
    assert calls == []  # not computed before it is asked for
    assert job.result()[0] == 7 and calls == [os.getpid()]


def test_stage_started_in_the_background_is_cached_recorded_and_then_a_hit(tmp_path):
    log = StageLog(quiet=True)
    stages = _Stages(Cache(tmp_path), log)
    order = []
    finish = stages.start("evaluate", "k1", lambda: {"figure": 0.25})
    order.append("next stage")  # runs while the worker computes
    assert finish() == {"figure": 0.25}
    assert order == ["next stage"]
    assert stages.cache.misses == 1 and [r.name for r in stages.runs] == ["evaluate"]
    again = _Stages(Cache(tmp_path), log)
    assert again.start("evaluate", "k1", lambda: pytest.fail("a hit is not recomputed"))() == {"figure": 0.25}
    assert again.cache.hits == 1 and again.runs[0].cached
