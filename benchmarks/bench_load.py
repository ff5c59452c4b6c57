#!/usr/bin/env python3
"""Loader benchmark: the cost of the robustness checks, against baselines in the same process.

    python benchmarks/bench_load.py                 # MangaDex v3 (49,943 records, xz) + MAL anime
    python benchmarks/bench_load.py --repeat 5

For each dataset it prints the best of ``--repeat`` runs of:

- ``load_catalog`` as shipped (text cleaning of every item, bounded line reading);
- the same with :func:`mangarec.loaders.clean.clean_item` replaced by the identity (baseline:
  what cleaning costs);
- reading the lines only, with the bounded block reader and with the unbounded
  ``readlines`` reader it replaced (baseline: what the line bound costs).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mangarec.loaders as loaders  # noqa: E402
from mangarec.loaders import io as io_mod  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402


def interleaved(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[float, float, object, object]:
    """Best times of ``a`` and ``b`` run alternately (so load from other processes hits both)."""
    ta, tb, out_a, out_b = [], [], None, None
    for _ in range(repeat):
        for fn, times in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
            if fn is a:
                out_a = out
            else:
                out_b = out
    return min(ta), min(tb), out_a, out_b


def readlines_chunks(path: Path, max_line: int | None = None) -> Iterator[list[bytes]]:
    """The reader before the line bound: ``readlines`` with a size hint (unbounded lines)."""
    with io_mod.open_binary(path) as f:
        while True:
            lines = f.readlines(io_mod._CHUNK)
            if not lines:
                return
            yield lines


def count(path: Path) -> int:  # noqa: D103
    return sum(1 for _ in io_mod.iter_lines(path))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = shared_data_dir()
    sets = [("mangadex-v3", data / "mangadex-v3" / "manga.jsonl.xz"), ("mal", data / "anime-recdb" / "anime.csv.gz")]
    shipped_clean = loaders.clean_item
    shipped_chunks = io_mod._read_chunks
    for name, path in sets:
        spec = [f"{name}:{path}"]

        def with_cleaning(spec=spec):
            return loaders.load_catalog(spec, include_adult=True, min_tags=0)

        def without_cleaning(spec=spec):
            loaders.clean_item = lambda it, src, line: it  # type: ignore[assignment]
            try:
                return loaders.load_catalog(spec, include_adult=True, min_tags=0)
            finally:
                loaders.clean_item = shipped_clean

        t_clean, t_raw, cat, raw = interleaved(with_cleaning, without_cleaning, args.repeat)
        changed = sum(x != y for x, y in zip(cat.items, raw.items))  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        for item in raw.items:  # type: ignore[attr-defined]
            shipped_clean(item, "x", 1)
        t_items = time.perf_counter() - t0

        def bounded(path=path):
            return count(path)

        def unbounded(path=path):
            io_mod._read_chunks = readlines_chunks  # type: ignore[assignment]
            try:
                return count(path)
            finally:
                io_mod._read_chunks = shipped_chunks

        t_lines, t_lines_old, n, n_old = interleaved(bounded, unbounded, args.repeat)
        assert n == n_old
        print(f"{name}: {len(cat)} items, {changed} changed by cleaning")  # type: ignore[arg-type]
        print(
            f"  load_catalog with cleaning  {t_clean:7.3f} s   without (baseline) {t_raw:7.3f} s   "
            f"cost {100 * (t_clean / t_raw - 1):+.1f} %; clean_item alone {t_items:.3f} s "
            f"({1e6 * t_items / max(len(cat), 1):.1f} µs per item)"
        )  # type: ignore[arg-type]
        print(
            f"  lines, bounded block reader {t_lines:7.3f} s   readlines (baseline) {t_lines_old:7.3f} s   "
            f"cost {100 * (t_lines / t_lines_old - 1):+.1f} %  ({n} lines)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
