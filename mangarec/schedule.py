"""Cached stages run as soon as their inputs are ready, on forked workers, recorded in order.

A build's stages form a graph: a model's fit needs the fits it depends on, its neighbour lists
and its map need the fit, the evaluation needs the lists. The pipeline hands them to a
:class:`Scheduler` in a fixed order (:meth:`Scheduler.add`); each declares the stages it reads
(``needs``) and how to make its job from their values (``prepare``, run in the build's process:
the cache key, the computation). The scheduler then

* prepares a stage as soon as everything it needs is there (a cache hit is done there and then);
* computes a miss in a forked worker (:func:`mangarec.workers.die_with_parent`) that inherits
  the inputs from the build's process and sends back only the value, at most ``workers`` at a
  time, picking among the ready stages by ``(rank, order added)``; with ``workers = 1`` (or no
  ``fork``) every stage runs in this process, one after another, in the order added;
* **records** stages strictly in the order they were added, whatever order they finished in:
  the stage log's lines, the notes each stage printed (held back and printed before its line),
  the cache's hit and miss counts and :attr:`Stages.runs` are those of a serial build.

The values do not depend on ``workers`` (every computation is deterministic and is given its
own seed), so neither does anything built from them. An exception raised by a stage is raised
again in the build's process (an :class:`~mangarec.errors.InputError` keeps its one line); a
worker that dies without an answer (killed, out of memory) ends the build with a
:class:`WorkerDied` naming the stage, never a wait. Either way the other workers are stopped.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from .cache import Cache
from .progress import StageLog
from .report import StageRun
from .workers import die_with_parent


class WorkerDied(RuntimeError):
    """A stage's worker ended without sending its value (killed, out of memory)."""


@dataclass(frozen=True)
class Job:
    """What a stage computes: its cache ``key``, ``compute()`` (in a worker or here) and
    ``then(value)``, run in the build's process once the value is known (pointers, records for
    the next night) and before any stage that needs it is prepared. ``setup()``: work every
    worker of such a job would otherwise repeat (importing and compiling a library), run once
    in the build's process before the first of them is forked, so that they all inherit it.
    ``rank``: the stage's start rank, known once its inputs are (``None``: the one it was added with)."""

    key: str
    compute: Callable[[], Any]
    then: Callable[[Any], None] | None = None
    setup: Callable[[], None] | None = None
    rank: int | None = None


@dataclass
class Stages:
    """The build's cache and stage log, and the record of every stage (:attr:`runs`)."""

    cache: Cache
    log: StageLog

    def __post_init__(self) -> None:
        self.runs: list[StageRun] = []

    def record(self, name: str, key: str, cached: bool, seconds: float) -> None:
        """Count and log stage ``name`` (a hit, or computed in ``seconds``) and remember it."""
        if cached:
            self.cache.hits += 1
            self.log.record(name, 0.0, "cached")
            seconds = self.cache.seconds.get(key, 0.0)
        else:
            self.cache.misses += 1
            self.cache.seconds[key] = round(seconds, 3)
            self.log.record(name, seconds)
        self.runs.append(StageRun(name, cached, round(seconds, 3)))


@dataclass(eq=False)
class _Task:
    name: str
    needs: tuple[str, ...]
    prepare: Callable[[Mapping[str, Any]], Job]
    rank: int
    order: int
    label: str
    job: Job | None = None
    held: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    done: bool = False
    cached: bool = False
    seconds: float = 0.0


def _child(task: _Task, stages: Stages, conn: Connection, parent: int) -> None:
    """A worker: compute ``task``'s job, store it in the cache, send back what happened."""
    die_with_parent(parent)
    from . import topk

    topk.WORKERS = 1  # the build's cores are the scheduler's: no search splits itself again
    stages.log.hold([])
    assert task.job is not None
    try:
        t0 = time.perf_counter()
        value = task.job.compute()
        seconds = time.perf_counter() - t0
        notes = len(stages.cache.notes)
        stages.cache.put(task.job.key, value, seconds)
        reply: tuple = ("ok", value, seconds, stages.log.hold(None), stages.cache.notes[notes:])
    except BaseException as e:  # noqa: BLE001 - sent to the build's process, raised there
        reply = ("error", e, 0.0, stages.log.hold(None), [])
    try:
        conn.send(reply)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        conn.send(("error", RuntimeError(f"{task.label}: its result cannot be sent back: {e}"), 0.0, [], []))
    conn.close()


class Scheduler:
    """Stages of one build (see the module docstring); ``workers``: at most this many computed
    at a time in forked workers (1: all here, in order)."""

    def __init__(self, stages: Stages, workers: int):
        self.stages = stages
        self.workers = max(1, workers) if "fork" in mp.get_all_start_methods() else 1
        self._tasks: dict[str, _Task] = {}
        self._order: list[_Task] = []
        self._recorded = 0
        self._running: dict[Connection, tuple[_Task, Any]] = {}
        self._setups: set[Callable[[], None]] = set()

    def add(
        self,
        name: str,
        needs: Sequence[str],
        prepare: Callable[[Mapping[str, Any]], Job],
        rank: int = 0,
        label: str | None = None,
    ) -> None:
        """Stage ``name``, after every stage of ``needs`` (added before it): ``prepare(values)``
        gets their values by name and returns the :class:`Job`. Among ready stages, a lower
        ``rank`` starts first (then the order added). ``label``: the name it is recorded under
        (default ``name``; two stages may share one, e.g. a map tried one way, then another)."""
        if name in self._tasks:
            raise ValueError(f"stage {name!r} added twice")
        missing = [n for n in needs if n not in self._tasks]
        if missing:
            raise ValueError(f"stage {name!r} needs {missing[0]!r}, which was not added before it")
        task = _Task(name, tuple(needs), prepare, rank, len(self._order), label or name)
        self._tasks[name] = task
        self._order.append(task)

    def key(self, name: str) -> str:
        """Stage ``name``'s cache key (known once it is prepared: e.g. in the ``prepare`` of a
        stage that needs it)."""
        job = self._tasks[name].job
        if job is None:
            raise RuntimeError(f"stage {name!r} is not prepared yet")
        return job.key

    def value(self, name: str) -> Any:
        """Stage ``name``'s value, running the stages until it is known."""
        task = self._tasks[name]
        while not task.done:
            self._step()
        return task.value

    def finish(self) -> dict[str, Any]:
        """Run every stage added and record them all; their values by name."""
        while self._recorded < len(self._order):
            self._step()
        return {t.name: t.value for t in self._order}

    # ------------------------------------------------------------------------------------------

    def _step(self) -> None:
        """Prepare what is ready, start what fits, then wait for one worker (or compute here)."""
        try:
            self._prepare_ready()
            waiting = sorted(
                (t for t in self._order if t.job is not None and not t.done and not self._is_running(t)),
                key=lambda t: (t.rank, t.order) if self.workers > 1 else (0, t.order),
            )
            if self.workers == 1:
                if waiting:
                    self._compute_here(waiting[0])
            else:
                for task in waiting[: self.workers - len(self._running)]:
                    self._start(task)
                if self._running:
                    self._collect()
            self._record_in_order()
        except BaseException:
            self._stop_all()
            raise

    def _is_running(self, task: _Task) -> bool:
        return any(t is task for t, _ in self._running.values())

    def _prepare_ready(self) -> None:
        progress = True
        while progress:
            progress = False
            for task in self._order:
                if task.job is None and not task.done and all(self._tasks[n].done for n in task.needs):
                    self._prepare(task)
                    progress = True

    def _prepare(self, task: _Task) -> None:
        log, cache = self.stages.log, self.stages.cache
        log.hold(task.held)
        try:
            task.job = task.prepare({n: self._tasks[n].value for n in task.needs})
            task.rank = task.rank if task.job.rank is None else task.job.rank
            value = cache.get(task.job.key)
        finally:
            log.hold(None)
        if value is not None:
            self._finish(task, value, cached=True)
        elif (setup := task.job.setup) is not None and self.workers > 1 and setup not in self._setups:
            self._setups.add(setup)
            setup()  # while the running workers compute

    def _finish(self, task: _Task, value: Any, cached: bool = False, seconds: float = 0.0) -> None:
        task.value, task.cached, task.seconds, task.done = value, cached, seconds, True
        assert task.job is not None
        if task.job.then is not None:
            log = self.stages.log
            log.hold(task.held)
            try:
                task.job.then(value)
            finally:
                log.hold(None)

    def _compute_here(self, task: _Task) -> None:
        assert task.job is not None
        log = self.stages.log
        log.hold(task.held)
        try:
            t0 = time.perf_counter()
            value = task.job.compute()
            seconds = time.perf_counter() - t0
        finally:
            log.hold(None)
        self.stages.cache.put(task.job.key, value, seconds)
        self._finish(task, value, seconds=seconds)

    def _start(self, task: _Task) -> None:
        ctx = mp.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_child, args=(task, self.stages, send, os.getpid()), name=task.label)
        process.start()
        send.close()
        self._running[receive] = (task, process)

    def _collect(self) -> None:
        for conn in wait(list(self._running)):
            assert isinstance(conn, Connection)
            task, process = self._running.pop(conn)
            try:
                status, value, seconds, held, cache_notes = conn.recv()
            except (EOFError, OSError):
                process.join()
                raise WorkerDied(
                    f"{task.label}: its worker process ended without a result (exit code {process.exitcode})"
                ) from None
            finally:
                conn.close()
            process.join()
            task.held.extend(held)
            self.stages.cache.notes.extend(cache_notes)
            if status == "error":
                raise value
            self._finish(task, value, seconds=seconds)

    def _record_in_order(self) -> None:
        while self._recorded < len(self._order) and (task := self._order[self._recorded]).done:
            log = self.stages.log
            for kind, message in task.held:
                (log.warn if kind == "warn" else log.note)(message)
            task.held.clear()
            assert task.job is not None
            self.stages.record(task.label, task.job.key, task.cached, task.seconds)
            self._recorded += 1

    def _stop_all(self) -> None:
        for conn, (_, process) in list(self._running.items()):
            process.kill()
            process.join()
            conn.close()
        self._running.clear()


def default_workers() -> int:
    """Workers of a build: ``MANGAREC_WORKERS`` if set (1: one stage at a time, in this
    process), else the machine's cores, at most 2 (the stages' inputs are shared copy-on-write,
    but each worker's own arrays add to the build's peak memory)."""
    raw = os.environ.get("MANGAREC_WORKERS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            from .errors import InputError

            raise InputError(f"MANGAREC_WORKERS = {raw!r}: expected a whole number of workers") from None
    return max(1, min(2, os.cpu_count() or 1))


__all__ = ["Job", "Scheduler", "Stages", "WorkerDied", "default_workers"]
