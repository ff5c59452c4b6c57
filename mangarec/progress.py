"""Stage timing and progress output.

On a terminal, long loops show a tqdm progress bar; otherwise (CI, a pipe) each stage prints
one line with its time. ``quiet`` silences both. Timings are kept for the build's report.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class StageLog:
    """Times named stages and prints them.

    Parameters
    ----------
    quiet:
        Print nothing.
    stream:
        Where to print (default ``sys.stderr``).
    """

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []

    @property
    def tty(self) -> bool:
        return not self.quiet and hasattr(self.stream, "isatty") and self.stream.isatty()

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        """Time the enclosed block as stage ``name``; print ``name  1.23 s`` when it ends."""
        t0 = time.perf_counter()
        if self.tty:
            print(f"… {name}{' ' + detail if detail else ''}", file=self.stream, flush=True)
        yield
        dt = time.perf_counter() - t0
        self.timings[name] = self.timings.get(name, 0.0) + dt
        if not self.quiet:
            print(f"{name:<28} {dt:8.2f} s{'  ' + detail if detail else ''}", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        """Record (and print) a remark, e.g. a model left out."""
        self.notes.append(message)
        if not self.quiet:
            print(f"note: {message}", file=self.stream, flush=True)

    def progress(self, iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
        """``iterable`` wrapped in a progress bar on a terminal, unchanged otherwise."""
        if not self.tty:
            return iterable
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, file=self.stream, leave=False)
