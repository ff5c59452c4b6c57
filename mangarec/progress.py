"""Stage timing and progress output.

On a terminal the build shows a tqdm progress bar over its stages (the stage running is its
label) with each finished stage's time printed above it; otherwise (CI, a pipe) each stage
prints one plain line with its time. ``quiet`` silences both.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


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
        self._bar = None
        self._held: list[tuple[str, str]] | None = None

    def hold(self, into: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        """Hold notes and warnings back in ``into`` (``(kind, message)`` pairs) instead of
        printing them (``None``: print again); returns the list held until now. A stage computed
        out of order (:mod:`mangarec.schedule`) prints its notes when it is recorded."""
        held, self._held = self._held, into
        return held

    def begin(self, total: int) -> None:
        """Announce ``total`` stages: on a terminal, start the progress bar."""
        if self.tty and self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=self.stream, unit="stage", leave=False, dynamic_ncols=True)

    def end(self) -> None:
        """Close the progress bar (if any)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _print(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    @property
    def tty(self) -> bool:
        return not self.quiet and hasattr(self.stream, "isatty") and self.stream.isatty()

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        """Time the enclosed block as stage ``name``; print ``name  1.23 s`` when it ends."""
        t0 = time.perf_counter()
        if self._bar is not None:
            self._bar.set_description(name)
        yield
        dt = time.perf_counter() - t0
        self.timings[name] = self.timings.get(name, 0.0) + dt
        if not self.quiet:
            self._print(f"{name:<28} {dt:8.2f} s{'  ' + detail if detail else ''}")
        if self._bar is not None:
            self._bar.update(1)

    def record(self, name: str, seconds: float, detail: str = "") -> None:
        """Report a stage that ran elsewhere (another process, or the cache) and took ``seconds``."""
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        if not self.quiet:
            self._print(f"{name:<28} {seconds:8.2f} s{'  ' + detail if detail else ''}")
        if self._bar is not None:
            self._bar.update(1)

    def note(self, message: str) -> None:
        """Record (and print) a remark, e.g. a model left out."""
        if self._held is not None:
            self._held.append(("note", message))
            return
        self.notes.append(message)
        if not self.quiet:
            self._print(f"note: {message}")

    def warn(self, message: str) -> None:
        """Print a one-line warning (``warning: <message>``), quiet or not."""
        if self._held is not None:
            self._held.append(("warn", message))
            return
        self.notes.append(message)
        self._print(f"warning: {message}")
