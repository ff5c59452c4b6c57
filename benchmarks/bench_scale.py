"""Where one machine stops: ALS and the evaluation on synthetic power-law ratings.

    python3 benchmarks/bench_scale.py [--sizes 1e6,1e7,1e8] [--factors F] [--iterations 2]
        [--stage-seconds S] [--stage-mb MB] [--stage-cpu-seconds C]

Each size runs in its own process (so its peak memory is its own) and prints: the ratings
generated, wall and CPU seconds per ALS iteration (the shipped defaults but --factors/--iterations), peak
resident memory after ALS, the evaluation's seconds (split, the EASE reference on the
``evaluation.ease_items`` most liked items, the ranking of 2000 users, null tests), the part of
them spent fitting EASE, and peak memory after it. Progress lines with the elapsed time, CPU time and peak
memory go to stderr, so a size that does not finish says which stage it stopped in.

Every stage has a budget (``--stage-seconds`` of wall time, ``--stage-mb`` of resident memory,
and optionally ``--stage-cpu-seconds`` of the process's CPU time, all printed first): a watchdog
ends the size as soon as its current stage exceeds any, with one line naming the stage. On a
shared, loaded machine the wall budget measures the neighbours' load as much as the stage (stop
26: 10⁸'s ALS got ~35 % of a core at load 15–22); a CPU budget with ``--stage-seconds`` set
high does not, so "where one machine stops" is a measured stage, not a guess. The
evaluation is the build's, with its shipped bounds: ``evaluation.max_users`` (2,000) held-out
users are ranked (only they are folded in against the item vectors), EASE covers the
``evaluation.ease_items`` most liked titles, and the cold-start co-like truth and the item-kNN
baseline's similarities count at most ``evaluation.colike_users`` users' likes; its stages
(split, fold-in, each ranked row, EASE, the truths, null tests, co-likes, visitor figures) are timed one by one.

The generator (documented here, seeded): ``n_users = N / 100``, ``n_items = 20,000``. A user's
activity is drawn from a Pareto (power-law) distribution with tail index 1.5 (minimum 1, mean 3)
scaled to mean 100 ratings and capped at 10,000; each rating picks its item with probability
∝ (rank + 10)^(-1) (Zipf-like popularity); duplicate (user, item) pairs are dropped (so slightly
fewer than N remain); values follow anime-recdb's 1-10 histogram (8: 26 %, 7: 22 %, 9: 20 %,
10: 15 %, 6: 10 %, ...). It is vectorised over blocks of :data:`GEN_USERS` users, each drawn
from its own generator (seed, block), and writes the csr arrays directly (a block's sorted
``user · n_items + item`` keys are already in csr order): its memory is the output's 8 bytes per
rating plus one block's temporaries, its time one ``searchsorted`` and one sort per rating.
Each title has a distinct one-word title (so the evaluation's series detection, which reads
titles, finds no series: with one shared title every pair of titles was "the same series").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_ITEMS = 20_000
#: anime-recdb's rating histogram for 1..10.
HIST = np.array([1278, 1702, 2889, 6847, 19077, 42433, 91136, 108782, 83242, 62557], dtype=np.float64)


#: Users per block of the generator (bounds its temporaries to ~GEN_USERS·100·40 bytes).
GEN_USERS = 1 << 15
#: Mean of ``Generator.pareto(1.5) + 1`` (a Pareto with minimum 1 and tail index 1.5).
PARETO_MEAN = 1.5 / 0.5


def generate(n: int, seed: int = 0) -> sp.csr_matrix:
    """``(n / 100 users, 20,000 items)`` csr float32 of about ``n`` ratings (see the module docstring)."""
    users = max(n // 100, 10)
    w = 1.0 / (np.arange(N_ITEMS) + 10.0)
    cdf = np.cumsum(w / w.sum())
    p = HIST / HIST.sum()
    counts = np.zeros(users, dtype=np.int64)
    cols, vals = [], []
    for a in range(0, users, GEN_USERS):
        b = min(a + GEN_USERS, users)
        g = np.random.default_rng([seed, a // GEN_USERS])
        act = np.round((g.pareto(1.5, b - a) + 1.0) / PARETO_MEAN * 100).astype(np.int64)
        act = np.clip(act, 1, N_ITEMS // 2)
        rows = np.repeat(np.arange(b - a, dtype=np.int64), act)
        item = np.minimum(np.searchsorted(cdf, g.random(len(rows))), N_ITEMS - 1)
        key = np.unique(rows * N_ITEMS + item)  # sorted: user-major, items ascending
        del rows, item
        counts[a:b] = np.bincount(key // N_ITEMS, minlength=b - a)
        cols.append((key % N_ITEMS).astype(np.int32))
        vals.append((g.choice(10, size=len(key), p=p) + 1).astype(np.float32))
    indptr = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return sp.csr_matrix((np.concatenate(vals), np.concatenate(cols), indptr), shape=(users, N_ITEMS))


def title_word(j: int) -> str:
    """A distinct word of letters for title ``j`` (titles are read by the series detection)."""
    out = ""
    j += 26 * 27  # three letters at least
    while j:
        j, r = divmod(j, 26)
        out += chr(ord("a") + r)
    return out.capitalize()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


#: The stage the watchdog is timing: name, start (wall and CPU), budgets (seconds, MB, CPU seconds).
_STAGE: dict = {
    "name": "start",
    "t": time.perf_counter(),
    "cpu": time.process_time(),
    "seconds": float("inf"),
    "mb": float("inf"),
    "cpu_seconds": float("inf"),
}


def rss_mb() -> float:
    """Current resident memory (``/proc/self/statm``), MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - not Linux
        return peak_mb()


def where(t0: float) -> str:
    """``[wall s, cpu s, peak MB]`` since ``t0``: the CPU seconds (this process's, all threads) are
    what a loaded machine does not inflate."""
    return f"[{time.perf_counter() - t0:8.1f} s, cpu {time.process_time():8.1f} s, peak {peak_mb():,.0f} MB]"


def stage(name: str, t0: float) -> None:
    """A progress line on stderr (so a size that never finishes still says where it stopped);
    the watchdog's budget restarts for the stage ``name`` begins."""
    _STAGE.update(name=name, t=time.perf_counter(), cpu=time.process_time())
    print(f"{where(t0)} {name}", file=sys.stderr, flush=True)


def note(line: str, t0: float) -> None:
    """A progress line on stderr inside the current stage (its budget keeps running)."""
    print(f"{where(t0)}   {line}", file=sys.stderr, flush=True)


def watchdog(t0: float, seconds: float, mb: float, cpu_seconds: float = float("inf")) -> None:
    """End the process (exit 3, one line) when the current stage runs over ``seconds`` of wall
    time or ``cpu_seconds`` of CPU time (all threads), or the process holds more than ``mb``
    resident."""
    _STAGE.update(seconds=seconds, mb=mb, cpu_seconds=cpu_seconds)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            took, mem = time.perf_counter() - _STAGE["t"], rss_mb()
            cpu = time.process_time() - _STAGE["cpu"]
            if took > seconds or mem > mb or cpu > cpu_seconds:
                if took > seconds:
                    why = f"{took:,.0f} s > {seconds:,.0f} s"
                elif cpu > cpu_seconds:
                    why = f"{cpu:,.1f} CPU s > {cpu_seconds:,.1f} CPU s ({took:,.0f} s wall)"
                else:
                    why = f"{mem:,.0f} MB > {mb:,.0f} MB"
                print(
                    f"{where(t0)} STOPPED in stage '{_STAGE['name']}': over its budget ({why})",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def budget(seconds: float, mb: float, cpu_seconds: float) -> str:
    """The budgets of each stage, as the first line prints them."""
    cpu = f", {cpu_seconds:,.0f} CPU s" if cpu_seconds != float("inf") else ""
    return f"{seconds:,.0f} s{cpu}, {mb:,.0f} MB resident"


def timed(module: object, name: str, t0: float, label: str | None = None) -> None:
    """Wrap ``module.name`` so each call prints its start and its seconds (a stage of its own)."""
    real = getattr(module, name)
    label = label or name

    def wrapper(*a, **kw):
        t = time.perf_counter()
        stage(f"evaluation: {label} ...", t0)
        out = real(*a, **kw)
        stage(f"evaluation: {label} done in {time.perf_counter() - t:.1f} s", t0)
        return out

    setattr(module, name, wrapper)


def one(n: int, factors: int | None, iterations: int, seconds: float, mb: float, cpu_seconds: float) -> dict:
    from mangarec.catalog import Catalog, Item, Ratings, make_tags
    from mangarec.config import EvaluationSection
    from mangarec.embedding import Neighbours
    from mangarec.evaluation import baselines, run_evaluation, runner
    from mangarec.models import als

    start = time.perf_counter()
    print(f"budget per stage: {budget(seconds, mb, cpu_seconds)}", file=sys.stderr, flush=True)
    watchdog(start, seconds, mb, cpu_seconds)
    stage(f"generating {n:,} ratings", start)
    t = time.perf_counter()
    m = generate(n)
    t_gen = time.perf_counter() - t
    stage("generated; fitting ALS", start)
    items = tuple(
        Item(
            id=f"i{j}",
            title=title_word(j),
            kind="manga",
            tags=make_tags({"genre": [f"G{j % 40}"]}),
            popularity=float(N_ITEMS - j),
        )
        for j in range(N_ITEMS)
    )
    cat = Catalog(items=items, ratings=Ratings(m, tuple(f"u{u}" for u in range(m.shape[0]))))
    # each half-sweep's seconds as it ends (ALS is one stage: its budget covers every sweep)
    real_cg, sweeps = als.cg_rows, [0]

    def cg_progress(*a, **kw):
        t = time.perf_counter()
        out = real_cg(*a, **kw)
        sweeps[0] += 1
        side = "users" if sweeps[0] % 2 else "items"
        note(f"ALS half-sweep {sweeps[0]} ({side}) in {time.perf_counter() - t:.1f} s", start)
        return out

    als.cg_rows = cg_progress
    p = als.Params()
    p = replace(p, iterations=iterations, **({"factors": factors} if factors else {}))
    t = time.perf_counter()
    emb = als.fit(cat, p, 0)
    t_als = time.perf_counter() - t
    sec = emb.info["seconds_per_iteration"]
    mem_als = peak_mb()
    stage("ALS fitted; evaluating", start)
    # the EASE reference's fits (one per candidate λ and the final one), timed apart
    ease_s = [0.0]
    real_ease = baselines.ease_scorer

    def timed_ease(*a, **kw):
        t = time.perf_counter()
        out = real_ease(*a, **kw)
        ease_s[0] += time.perf_counter() - t
        stage(f"EASE fit ({ease_s[0]:.1f} s of EASE so far)", start)
        return out

    baselines.ease_scorer = timed_ease
    for name in ("make_split", "foldin_scorer", "evaluate_scorer", "choose_ease", "truths_of", "model_tests"):
        timed(runner, name, start)
    for name, label in (("_colikes", "co-likes"), ("evaluate_visitor", "visitor figures"), ("agreement", None)):
        timed(runner, name, start, label)
    timed(baselines, "knn_scorer", start, "item-kNN baseline fit")
    k = 10
    idx = (np.arange(N_ITEMS)[:, None] + np.arange(1, k + 1)[None, :]) % N_ITEMS
    nb = Neighbours("als", cat.ids, idx.astype(np.int32), np.ones((N_ITEMS, k), dtype=np.float32), "exact")
    t = time.perf_counter()
    ev = run_evaluation(cat, {"als": nb}, EvaluationSection(), 1, heldout_embeddings={"als": emb})
    t_eval = time.perf_counter() - t
    stage("evaluated", start)
    return {
        "ratings": int(m.nnz),
        "users": int(m.shape[0]),
        "items": N_ITEMS,
        "generate_s": round(t_gen, 1),
        "als_s": round(t_als, 1),
        "ease_fits_s": round(ease_s[0], 1),
        "factors": p.factors,
        "als_s_per_iteration": sec,
        "als_cpu_s_per_iteration": emb.info["cpu_seconds_per_iteration"],
        "peak_mb_after_als": round(mem_als),
        "evaluation_s": round(t_eval, 1),
        "peak_mb_after_evaluation": round(peak_mb()),
        "notes": list(ev.notes),
        "evaluated_users": ev.protocol.users if ev.protocol else 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7,1e8")
    ap.add_argument("--factors", type=int, default=None)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--stage-seconds", type=float, default=4 * 3600.0, help="wall-time budget of each stage")
    ap.add_argument("--stage-mb", type=float, default=16_000.0, help="resident-memory budget (MB)")
    ap.add_argument(
        "--stage-cpu-seconds",
        type=float,
        default=float("inf"),
        help="CPU-time budget of each stage (all threads; what a loaded machine does not inflate)",
    )
    ap.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        one_run = one(
            int(args.one), args.factors, args.iterations, args.stage_seconds, args.stage_mb, args.stage_cpu_seconds
        )
        print(json.dumps(one_run))
        return 0
    print(f"budget per stage: {budget(args.stage_seconds, args.stage_mb, args.stage_cpu_seconds)}")
    print(
        f"{'ratings':>12} {'users':>9} {'s/iter (ALS)':>14} {'cpu s/iter':>11} {'peak MB (ALS)':>14} "
        f"{'eval s':>8} {'EASE s':>7} {'peak MB (eval)':>15}"
    )
    for s in args.sizes.split(","):
        cmd = [sys.executable, __file__, "--one", s, "--iterations", str(args.iterations)]
        cmd += ["--stage-seconds", str(args.stage_seconds), "--stage-mb", str(args.stage_mb)]
        cmd += ["--stage-cpu-seconds", str(args.stage_cpu_seconds)]
        if args.factors:
            cmd += ["--factors", str(args.factors)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        last = ""
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:  # the progress lines, passed on as they come
            sys.stderr.write(line)
            sys.stderr.flush()
            last = line.strip() or last
        stdout = proc.stdout.read()
        if proc.wait() != 0:
            print(f"{s:>12}: stopped (exit {proc.returncode}): {last}", flush=True)
            continue
        r = json.loads(stdout.strip().splitlines()[-1])
        print(
            f"{r['ratings']:>12,} {r['users']:>9,} {np.median(r['als_s_per_iteration']):>14.1f} "
            f"{np.median(r['als_cpu_s_per_iteration']):>11.1f} "
            f"{r['peak_mb_after_als']:>14,} {r['evaluation_s']:>8.1f} {r['ease_fits_s']:>7.1f} "
            f"{r['peak_mb_after_evaluation']:>15,}"
            f"   (factors {r['factors']}; {r['evaluated_users']:,} users evaluated; {'; '.join(r['notes'])})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
