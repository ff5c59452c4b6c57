"""The build's neighbour stages, one at a time, by this checkout's search and a git ref's.

``python3 benchmarks/bench_neighbours.py --stages [--before main] [--after REF] [--limit N] [--models a,b]``

The models are fitted once here (this checkout's fits, the default configuration) on MangaDex v3
SFW (or its first ``--limit`` titles) and handed over in the stage cache's format. Each stage
(:func:`mangarec.neighbours.exact`, what ``neighbours:<model>`` runs) is then timed in a fresh
process per side, one worker as in a build (``topk.WORKERS = 1``): this checkout (or ``--after``'s
``mangarec/``, so that edits during a long run change nothing) and the ref's ``mangarec/`` (each a
``git archive`` in a temporary directory), alternated so that a change of the
shared machine's load hits both alike. Prints wall and CPU seconds of each side, the ratio, and
whether the two lists (indices and scores) are byte-identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: The stages whose search runs under a model's own similarity (the long ones on MangaDex).
MODELS = ("hybrid", "series", "text", "colike", "deconvolution", "silencing", "jaccard")

#: What each side's process runs: ``argv``: code root, cache directory, model, k, tie file, output.
CHILD = """
import json, sys, time
from pathlib import Path
root, cache, name, k, tie, out = sys.argv[1:7]
sys.path.insert(0, root)
import numpy as np
from mangarec import neighbours, topk
from mangarec.cache import Cache, make_key
topk.WORKERS = 1  # a build's stage: the scheduler owns the cores
emb = Cache(Path(cache)).get(make_key("bench stage", name))
t, c = time.perf_counter(), time.process_time()
nb = neighbours.exact(emb, int(k), np.load(tie))
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c}))
np.savez(out, indices=nb.indices, scores=nb.scores)
"""


def checkout(ref: str, dest: Path) -> Path:
    """``ref``'s ``mangarec/`` extracted under ``dest``; returns the code root."""
    raw = subprocess.run(["git", "archive", ref, "mangarec"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(raw)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def fit_all(limit: int | None, names: list[str], cache_dir: Path) -> tuple[int, np.ndarray]:
    """Fit ``names`` (and their dependencies) and store them; returns ``(n, tie order)``."""
    from dataclasses import replace

    from mangarec.cache import Cache, make_key
    from mangarec.config import Config
    from mangarec.loaders import load_catalog
    from mangarec.models import fit_model, fit_order
    from mangarec.paths import shared_data_dir

    cat = load_catalog([str(shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz")])
    if limit:
        cat = replace(cat, items=cat.items[:limit])
    config = Config()
    cache, fitted = Cache(cache_dir), {}
    for name in fit_order(names):
        t = time.perf_counter()
        fitted[name] = fit_model(name, cat, config, config.seed, fitted)
        cache.put(make_key("bench stage", name), fitted[name])
        print(f"  fit {name:<14} {time.perf_counter() - t:6.1f} s", flush=True)
    return len(cat), cat.tie_order


def side(root: Path, cache_dir: Path, name: str, k: int, tie: Path, out: Path) -> dict:
    got = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(cache_dir), name, str(k), str(tie), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(got.stdout.strip().splitlines()[-1])


def main(before: str, limit: int | None, models: str | None, k: int, after: str | None = None) -> None:
    names = [m for m in (models.split(",") if models else MODELS) if m]
    with tempfile.TemporaryDirectory(prefix="mangarec-stages-") as tmp:
        work = Path(tmp)
        n, tie_order = fit_all(limit, names, work / "cache")
        np.save(work / "tie.npy", tie_order)
        old = checkout(before, work / "before")
        new = ROOT if after is None else checkout(after, work / "after")
        print(f"{n} titles, k = {k}; each stage in its own process, one worker; {before} vs {after or 'this checkout'}")
        total = {"before": 0.0, "after": 0.0}
        for i, name in enumerate(names):
            times, lists = {}, {}
            order = [("before", old), ("after", new)][:: 1 - 2 * (i % 2)]
            for label, root in order:
                out = work / f"{label}-{name}.npz"
                times[label] = side(root, work / "cache", name, min(k, n - 1), work / "tie.npy", out)
                with np.load(out) as z:
                    lists[label] = (z["indices"], z["scores"])
                total[label] += times[label]["wall"]
            b, a = times["before"], times["after"]
            same = all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(lists["before"], lists["after"]))
            print(
                f"  neighbours:{name:<14} before {b['wall']:6.1f} s ({b['cpu']:6.1f} CPU s)   after "
                f"{a['wall']:6.1f} s ({a['cpu']:6.1f} CPU s)   {b['cpu'] / max(a['cpu'], 1e-9):5.2f}x CPU   "
                f"lists byte-identical: {same}",
                flush=True,
            )
        print(
            f"  all stages: before {total['before']:.1f} s, after {total['after']:.1f} s "
            f"({total['before'] / max(total['after'], 1e-9):.2f}x wall)"
        )
