#!/usr/bin/env python3
"""Whole-build benchmark: a cold build, an unchanged rebuild, a forced (cached) rebuild, and a
rebuild after one model setting changed (``models.hybrid.text_weight``): only that model and
the stages that depend on it may recompute; the script prints which stages ran.

    python benchmarks/bench_build.py                       # full MangaDex v3 SFW catalog (~37.5k)
    python benchmarks/bench_build.py --data ../shared/data/anime-recdb/
    python benchmarks/bench_build.py --limit 5000          # quicker

Each build runs as a child process, so its peak memory (max RSS) is measured alone. Prints
the time of each stage (from the build's own per-stage lines) and the targets of issue 2:
cold < 180 s and < 4 GB; unchanged rebuild < 10 s. The numba JIT cache (NUMBA_CACHE_DIR) is
kept in --cache-dir like the build does; pass --cold-numba to start it empty as well.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec.paths import shared_data_dir  # noqa: E402


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run build.py; return (seconds, peak RSS in MB of this child, stderr)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(
            [sys.executable, str(ROOT / "build.py"), *args], stdout=subprocess.DEVNULL, stderr=err, text=True, env=env
        )
        _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage
        p.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t0
        err.seek(0)
        text = err.read()
    if p.returncode != 0:
        sys.exit(f"build failed ({p.returncode}):\n{text}")
    return dt, usage.ru_maxrss / 1024, text


def stage_lines(stderr: str, *, computed_only: bool = False) -> list[tuple[str, float]]:
    """``(stage, seconds)`` from the build's stage lines (``computed_only``: not from the cache)."""
    out = []
    for line in stderr.splitlines():
        m = re.match(r"^(\S+(?: \(held-out fit\))?)\s+([0-9.]+) s(\s+cached)?", line)
        if m and not (computed_only and m.group(3)):
            out.append((m.group(1), float(m.group(2))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cold-numba", action="store_true", help="empty numba cache too")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mangarec-bench-"))
    numba_dir = work / "numba" if args.cold_numba else ROOT / ".cache" / "numba"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_dir))
    common = ["--data", args.data, "--out", str(work / "out"), "--cache-dir", str(work / "cache")]
    if args.limit:
        common += ["--limit", str(args.limit)]
    try:
        cold, cold_mb, err = run(common, env)
        print(f"cold build              {cold:8.1f} s   peak RSS {cold_mb:7.0f} MB   (targets: < 180 s, < 4096 MB)")
        for name, sec in sorted(stage_lines(err), key=lambda x: -x[1])[:25]:
            print(f"    {name:<26} {sec:8.2f} s")
        for line in err.splitlines():
            if line.startswith(("note:", "built")):
                print("   ", line)
        warm, _, _ = run(common, env)
        print(f"unchanged rebuild       {warm:8.1f} s   (target: < 10 s)   ratio to cold {warm / cold:.3f}")
        forced, forced_mb, err = run(common + ["--force"], env)
        print(
            f"forced rebuild (cached) {forced:8.1f} s   peak RSS {forced_mb:7.0f} MB   "
            f"ratio to cold {forced / cold:.3f}"
        )
        for name, sec in sorted(stage_lines(err), key=lambda x: -x[1])[:8]:
            print(f"    {name:<26} {sec:8.2f} s")
        cfg = work / "hybrid.toml"
        cfg.write_text("[models.hybrid]\ntext_weight = 0.1\n")
        changed, _, err = run(common + ["--config", str(cfg)], env)
        ran = [
            name
            for name, _ in stage_lines(err, computed_only=True)
            if name.split(":")[0] in ("model", "neighbours", "map", "evaluate")
        ]
        print(f"rebuild after models.hybrid.text_weight = 0.1: {changed:6.1f} s   ratio to cold {changed / cold:.3f}")
        print(f"    stages computed: {', '.join(ran) or 'none'}")
        for name, sec in stage_lines(err, computed_only=True):
            print(f"    {name:<26} {sec:8.2f} s")
        only_hybrid = bool(ran) and all(r.endswith(":hybrid") or r == "evaluate" for r in ran)
        print("    only hybrid and what depends on it recomputed" if only_hybrid else "    OTHER STAGES RECOMPUTED")
        ok = cold < 180 and cold_mb < 4096 and warm < 10 and only_hybrid
        print("targets met" if ok else "TARGETS MISSED")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
