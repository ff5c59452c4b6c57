"""The whole loop on anime-recdb (issue 19): contributors drawn from its users enroll in a
lobby and contribute privately -> the collected file -> a build -> the published model ->
the held-out precision@10 of a visitor; beside the same build from the same contributors'
raw ratings (the baseline, in the same process) and the popularity ranking of each build.

* Visitors: ``--visitors`` users drawn at random (seed) who never contribute; each tells the
  published model half of its likes (ratings >= 8, chosen at random) and is scored on the
  other half: precision@10 of the client's fold-in (``mangarec.client``, what a visitor's
  browser computes), titles told excluded.
* Contributors: ``--contributors`` other users; each runs ``lobby_client.LobbyJoin`` (fresh
  key, proof of work, a roster of ``--cohort``, indices of the build's titles index) against
  one in-process ``LobbyService`` over loopback HTTP. The collected CSV (catalog ids) is the
  ``ratings:`` input of the "collected" build; the same users' raw rows, of the "raw" build.

Usage: python benchmarks/bench_privacy_loop.py [--contributors 1000] [--cohort 128]
       [--visitors 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec.paths import shared_data_dir  # noqa: E402


def _read(src: Path) -> dict[str, list[tuple[str, int]]]:
    users: dict[str, list[tuple[str, int]]] = {}
    with gzip.open(src, "rt") if src.suffix == ".gz" else open(src) as fh:
        for row in csv.DictReader(fh):
            r = int(float(row["rating"]))
            if r >= 1:
                users.setdefault(row["user_id"], []).append((row["anime_id"], r))
    return users


def _build(work: Path, name: str, ratings: Path, anime: Path) -> Path:
    import build

    out = work / f"out-{name}"
    cfg = work / "site.toml"
    cfg.write_text(
        '[site]\nshow_timings = false\nmodels = ["lsi", "als"]\n[privacy]\ncollect_url = "http://127.0.0.1:1"\n'
    )
    args = ["--data", f"mal:{anime}", "--data", f"ratings:{ratings}", "--out", str(out)]
    t0 = time.monotonic()
    rc = build.main(args + ["--cache-dir", str(work / f"cache-{name}"), "--config", str(cfg), "-q"])
    assert rc == 0, f"build {name} failed"
    print(f"build from the {name} ratings: {time.monotonic() - t0:.0f} s wall")
    return out


def _collect(users: dict, out_site: Path, work: Path, cohort: int, workers: int) -> Path:
    """Every contributor through the lobby; returns the collected CSV (catalog ids)."""
    from mangarec.privacy.http_base import Limits, start_http
    from mangarec.privacy.http_lobby import Index, LobbyService
    from mangarec.privacy.lobby_client import LobbyJoin, load_collect
    from mangarec.privacy.site_collect import to_indices

    doc, ids = load_collect(str(out_site / "data" / "collect.json"))
    out = work / "collected.csv"
    svc = LobbyService(
        [Index.load(str(out_site / "data" / "embeddings-titles.json"))],
        str(out),
        min_cohort=cohort,
        max_cohort=cohort,
        gather=3.0,
        pow_bits=10,
        enroll_rate=1e6,
        max_sessions=2,
        phase_timeout=300.0,
    )
    httpd = start_http(svc, Limits.for_cohort(len(users), per_address=0))
    stop = threading.Event()
    threading.Thread(target=svc.run, args=(stop,), daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    pairs = {u: to_indices(dict(r), ids) for u, r in users.items()}
    t0, c0 = time.monotonic(), time.process_time()
    keep = sorted(pairs)
    joins = [
        LobbyJoin(base, doc["catalog_hash"], pairs[u], cohort, timeout=1800, log=lambda *a, **k: None) for u in keep
    ]
    with ThreadPoolExecutor(len(joins)) as pool:
        codes = list(pool.map(lambda j: j.run(), joins))
    stop.set()
    httpd.shutdown()
    ok = sum(c == 0 for c in codes)
    with open(out) as fh:
        rows = sum(1 for _ in fh) - 1
    print(
        f"collection: {len(keep)} contributors in cohorts of {cohort} through the lobby, {ok} receipts complete; "
        f"{rows:,} of {sum(len(pairs[u]) for u in keep):,} ratings collected | "
        f"{time.monotonic() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU (server and "
        f"all contributors in this process)"
    )
    return out


def _precision(site: Path, visitors: dict, rng: np.random.Generator) -> tuple[float, float, int]:
    """Mean precision@10 of the visitors (fold-in of half their likes) and of popularity."""
    from mangarec.client import load

    model = load(str(site / "data" / "embeddings.json"))
    index = model.index
    p_model, p_pop, n = [], [], 0
    counts: dict[str, int] = {}
    for r in visitors.values():
        for i, v in r:
            if v >= 8:
                counts[i] = counts.get(i, 0) + 1
    popular = sorted(counts, key=lambda i: (-counts[i], i))
    for r in visitors.values():
        likes = sorted(i for i, v in r if v >= 8 and i in index)
        if len(likes) < 4:
            continue
        told = set(rng.choice(likes, len(likes) // 2, replace=False).tolist())
        hidden = set(likes) - told
        recs = [i for i, _ in model.recommend({i: "like" for i in told}, n=10)]  # told titles excluded
        p_model.append(len(set(recs) & hidden) / 10)
        top = [i for i in popular if i not in told][:10]
        p_pop.append(len(set(top) & hidden) / 10)
        n += 1
    return float(np.mean(p_model)), float(np.mean(p_pop)), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contributors", type=int, default=1000)
    ap.add_argument("--cohort", type=int, default=128)
    ap.add_argument("--visitors", type=int, default=300)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fixture", action="store_true", help="anime-recdb's 400-title fixture (a smoke run)")
    a = ap.parse_args()
    d = shared_data_dir() / "anime-recdb"
    anime = d / ("fixture_anime.csv" if a.fixture else "anime.csv.gz")
    users = _read(d / ("fixture_ratings.csv" if a.fixture else "ratings.csv.gz"))
    rng = np.random.default_rng(a.seed)
    order = rng.permutation(sorted(users, key=lambda k: (len(k), k))).tolist()
    visitors = {u: users[u] for u in order[: a.visitors]}
    contributors = {u: users[u] for u in order[a.visitors : a.visitors + a.contributors]}
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    print(
        f"== the loop on anime-recdb: {len(contributors)} contributors, {len(visitors)} held-out visitors "
        f"(never contributors), seed {a.seed} =="
    )
    # whole cohorts only: the contributors of a last partial cohort would wait for nobody
    keep = sorted(contributors)[: len(contributors) // a.cohort * a.cohort]
    contributors = {u: contributors[u] for u in keep}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = work / "raw.csv"
        with open(raw, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["user_id", "anime_id", "rating"])
            w.writerows((u, i, r) for u in keep for i, r in contributors[u])
        site_raw = _build(work, "raw", raw, anime)  # also the build whose index the contributors use
        collected = _collect(contributors, site_raw, work, a.cohort, a.workers)
        site_col = _build(work, "collected", collected, anime)
        for name, site in (("raw ratings", site_raw), ("collected privately", site_col)):
            rep = json.loads((site / "data" / "report.json").read_text())
            p, pop, n = _precision(site, visitors, np.random.default_rng(a.seed))
            print(
                f"{name:>20}: published {rep['published']['model']}; visitor precision@10 {p:.4f} "
                f"(popularity {pop:.4f}) over {n} visitors | {rep['published'].get('why', '')}"
            )


if __name__ == "__main__":
    main()
