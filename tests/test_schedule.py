"""The stage scheduler (``mangarec.schedule``): order, dependencies, determinism, failures."""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from mangarec import schedule
from mangarec.cache import Cache
from mangarec.errors import InputError
from mangarec.progress import StageLog
from mangarec.schedule import Job, Scheduler, Stages, WorkerDied


def _stages(cache_dir: Path | None = None) -> tuple[Stages, io.StringIO]:
    out = io.StringIO()
    return Stages(Cache(cache_dir), StageLog(stream=out)), out


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(str(path))
        time.sleep(0.01)


def _toy(sched: Scheduler, tmp: Path, trace: list[str]) -> None:
    """a → (b, c) → d; ``c`` finishes before ``b`` (``b`` waits for ``c``'s file when they run
    side by side), and each stage notes something."""

    def stage(name: str, value, wait: Path | None = None, touch: Path | None = None):
        def compute():
            sched.stages.log.note(f"{name} computing")
            if wait is not None and sched.workers > 1:
                _wait_for(wait)
            if touch is not None:
                touch.write_text("")
            return value

        return compute

    def prep(name: str, fn):
        def prepare(values):
            trace.append(f"prepare {name} {sorted(values.items())}")
            return Job(f"key-{name}", fn(values))

        return prepare

    sched.add("a", [], prep("a", lambda v: stage("a", 1)))
    sched.add("b", ["a"], prep("b", lambda v: stage("b", v["a"] + 1, wait=tmp / "c-done")))
    sched.add("c", ["a"], prep("c", lambda v: stage("c", v["a"] + 2, touch=tmp / "c-done")))
    sched.add("d", ["b", "c"], prep("d", lambda v: stage("d", v["b"] * v["c"])))


def _lines(out: io.StringIO) -> list[str]:
    lines = out.getvalue().splitlines()
    return [line if line.startswith("note") else line.split("  ")[0].strip() for line in lines]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_toy_graph_runs_in_dependency_order_and_is_recorded_in_the_order_added(tmp_path, workers):
    stages, out = _stages()
    sched = Scheduler(stages, workers)
    trace: list[str] = []
    _toy(sched, tmp_path, trace)
    values = sched.finish()
    assert values == {"a": 1, "b": 2, "c": 3, "d": 6}
    # each stage is prepared after what it needs, with their values
    assert trace[0] == "prepare a []" and trace[-1] == "prepare d [('b', 2), ('c', 3)]"
    # recorded as added, each stage's notes just before its own line, whatever finished first
    assert _lines(out) == [
        "note: a computing",
        "a",
        "note: b computing",
        "b",
        "note: c computing",
        "c",
        "note: d computing",
        "d",
    ]
    assert [r.name for r in stages.runs] == ["a", "b", "c", "d"] and not any(r.cached for r in stages.runs)
    assert stages.cache.misses == 4 and not mp.active_children()


def test_workers_run_ready_stages_side_by_side_in_other_processes(tmp_path):
    """``b`` can only end once ``c`` ran: with two workers they run at the same time."""
    stages, _ = _stages()
    sched = Scheduler(stages, 2)
    pids: dict[str, int] = {}
    sched.add("b", [], lambda _: Job("kb", lambda: (_wait_for(tmp_path / "c"), os.getpid())[1]))
    sched.add("c", [], lambda _: Job("kc", lambda: ((tmp_path / "c").write_text(""), os.getpid())[1]))
    pids = sched.finish()
    assert pids["b"] != os.getpid() and pids["c"] != os.getpid() and pids["b"] != pids["c"]


def test_one_worker_runs_everything_here_in_the_order_added():
    stages, _ = _stages()
    sched = Scheduler(stages, 1)
    order: list[str] = []
    for name in "xyz":
        sched.add(name, [], lambda _, n=name: Job(n, lambda n=n: order.append(n) or os.getpid()), rank=-ord(name))
    assert set(sched.finish().values()) == {os.getpid()} and order == ["x", "y", "z"]


def test_a_cached_stage_is_not_computed_again_and_is_recorded_as_a_hit(tmp_path):
    for round_ in (1, 2):
        stages, out = _stages(tmp_path / "cache")
        sched = Scheduler(stages, 2)
        if round_ == 1:
            sched.add("a", [], lambda _: Job("k", lambda: {"figure": 0.25}))
        else:
            sched.add("a", [], lambda _: Job("k", lambda: pytest.fail("a hit is computed again")))
        assert sched.value("a") == {"figure": 0.25}
        sched.finish()
        assert stages.runs[0].cached is (round_ == 2)
        assert (stages.cache.hits, stages.cache.misses) == ((0, 1) if round_ == 1 else (1, 0))
    assert "cached" in out.getvalue()


def test_then_runs_here_before_a_dependent_is_prepared():
    stages, _ = _stages()
    sched = Scheduler(stages, 2)
    seen: list[object] = []
    sched.add("a", [], lambda _: Job("ka", lambda: 5, then=lambda v: seen.append(("then", v, os.getpid()))))
    sched.add("b", ["a"], lambda v: seen.append("prepare b") or Job("kb", lambda: v["a"] * 2))
    assert sched.finish()["b"] == 10
    assert seen == [("then", 5, os.getpid()), "prepare b"]


_INHERITED: list[int] = []


def test_a_setup_runs_once_here_and_every_worker_inherits_it():
    stages, _ = _stages()
    sched = Scheduler(stages, 2)

    def setup() -> None:
        _INHERITED.append(os.getpid())

    for name in "abc":
        sched.add(name, [], lambda _, n=name: Job(n, lambda: list(_INHERITED), setup=setup))
    try:
        values = sched.finish()
    finally:
        inherited, _INHERITED[:] = list(_INHERITED), []
    assert inherited == [os.getpid()] and all(v == [os.getpid()] for v in values.values())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_stage_raises_its_one_line_error_and_stops_the_others(tmp_path, workers):
    stages, _ = _stages()
    sched = Scheduler(stages, workers)

    def bad():
        raise InputError("a bad key", "site.toml")

    if workers > 1:  # a stage still running beside the failing one
        sched.add("slow", [], lambda _: Job("ks", lambda: _wait_for(tmp_path / "never", timeout=120)))
    sched.add("bad", [], lambda _: Job("kb", bad))
    t0 = time.monotonic()
    with pytest.raises(InputError) as err:
        sched.finish()
    assert str(err.value) == "site.toml: a bad key"
    assert time.monotonic() - t0 < 60 and not mp.active_children()


def test_a_killed_worker_ends_the_build_with_an_error_naming_its_stage():
    stages, _ = _stages()
    sched = Scheduler(stages, 2)
    sched.add("map:lsi", [], lambda _: Job("k", lambda: os.kill(os.getpid(), signal.SIGKILL)))
    with pytest.raises(WorkerDied, match=r"map:lsi: its worker process ended without a result \(exit code -9\)"):
        sched.finish()
    assert not mp.active_children()


def test_a_stage_must_be_added_after_what_it_needs():
    sched = Scheduler(_stages()[0], 2)
    with pytest.raises(ValueError, match="needs 'a'"):
        sched.add("b", ["a"], lambda _: Job("k", lambda: 1))
    sched.add("a", [], lambda _: Job("k", lambda: 1))
    with pytest.raises(ValueError, match="added twice"):
        sched.add("a", [], lambda _: Job("k", lambda: 1))


def test_workers_from_the_environment(monkeypatch):
    monkeypatch.setenv("MANGAREC_WORKERS", "1")
    assert schedule.default_workers() == 1
    monkeypatch.setenv("MANGAREC_WORKERS", "two")
    with pytest.raises(InputError, match="MANGAREC_WORKERS = 'two'"):
        schedule.default_workers()
    monkeypatch.delenv("MANGAREC_WORKERS")
    assert schedule.default_workers() == max(1, min(2, os.cpu_count() or 1))


def test_among_ready_stages_the_lower_rank_starts_first(tmp_path):
    """Three ready stages, two workers: the one left waiting is the later-added of the two of
    rank 0; a rank given by the job (known once its inputs are) counts like one given by add."""
    stages, _ = _stages()
    sched = Scheduler(stages, 2)

    def started_before(name: str) -> int:
        before = len(list(tmp_path.glob("*-started")))
        (tmp_path / f"{name}-started").write_text("")
        while len(list(tmp_path.glob("*-started"))) < 2:
            time.sleep(0.01)
        return before

    sched.add("a", [], lambda _: Job("ka", lambda: started_before("a")))
    sched.add("b", [], lambda _: Job("kb", lambda: started_before("b")))
    sched.add("c", [], lambda _: Job("kc", lambda: started_before("c"), rank=-1))
    values = sched.finish()
    assert values["b"] == 2 and values["a"] < 2 and values["c"] < 2
    assert [r.name for r in stages.runs] == ["a", "b", "c"]  # recorded as added all the same


def test_two_stages_may_be_recorded_under_one_label():
    stages, _ = _stages()
    sched = Scheduler(stages, 2)
    sched.add("map:lsi (placed)", [], lambda _: Job("k1", lambda: None), label="map:lsi")
    sched.add("map:lsi", ["map:lsi (placed)"], lambda v: Job("k2", lambda: "drawn"))
    assert sched.finish() == {"map:lsi (placed)": None, "map:lsi": "drawn"}
    assert [r.name for r in stages.runs] == ["map:lsi", "map:lsi"]
