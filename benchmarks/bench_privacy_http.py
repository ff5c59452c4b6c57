"""Loopback benchmark of the networked collection: N contributors against one HTTP server.

The server is ``python -m mangarec.privacy serve`` in its own process on 127.0.0.1;
the contributors are threads (``http_client.Participant``, the code behind ``join``)
spread over ``--workers`` processes. Each contributor holds the ratings of one real
anime-recdb user (the first N by id, read in memory; ``--max-ratings`` caps each
one to keep the run short). The collected CSV must equal the inputs exactly: one
pseudonymous profile per contributor with exactly its ratings.

Printed: wall time to collect, the server's CPU time (and, per phase, how many replied, when,
how long the server took to make the frames and its CPU), the contributors' CPU time per user
(and per reply: wall against the thread's own CPU, which tells waiting for a core from
working), and the same collection simulated in-process (``simulate_collection``, one cohort of
N) as the baseline.

``--lobby`` (issue 19) runs the same contributors through ``serve --lobby`` instead:
each enrolls with a fresh key and a proof of work (``--pow-bits``), waits for the lobby to
fix the roster of all N (``--min-cohort N --max-cohort N``), sends the indices of its titles
in a titles index, and ends with a receipt (``lobby_client.LobbyJoin``, the code behind
``join --lobby``). ``--browsers N`` (default 4) of the N contributors are headless Chromium
tabs instead, in the same cohort: each runs the site's contributor worker (proof of work in the
worker, vendored libsodium) through the harness of ``tests/browser/contributors.py``. Printed
beside the roster run of the same process: contributors (browser/Python), exact result (the
collected multiset equals every contributor's ratings, the tabs' included), the server's CPU,
and the time a visitor waits in the lobby until its cohort is full (Python and browser apart).

Usage: python benchmarks/bench_privacy_http.py [--users 500] [--workers 2] [--max-ratings 40]
       [--lobby [--pow-bits 12] [--browsers 4]] [--skip-roster] [--skip-simulated]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec.privacy.primitives import SigningKey  # noqa: E402


def _seed(u: int) -> bytes:
    return u.to_bytes(4, "big") * 8


def _worker(base: str, uids: list[int], roster: dict, ratings: dict, q) -> None:
    from mangarec.privacy.http_client import Participant

    codes: dict[int, int] = {}
    c0 = time.process_time()
    ps = [Participant(base, u, _seed(u), roster, ratings[u], 600.0, log=lambda *a, **k: None) for u in uids]
    ts = [threading.Thread(target=lambda p=p: codes.__setitem__(p.uid, p.run())) for p in ps]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put((codes, time.process_time() - c0))


def _fan_out(workers: int, job) -> list:
    """Run ``job(w, queue) -> (target, args)`` in ``workers`` forked processes; their results."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=t, args=a) for t, a in (job(w, q) for w in range(workers))]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def _lobby_worker(base: str, catalog: str, uids: list[int], pairs: dict, n: int, q) -> None:
    from mangarec.privacy.lobby_client import LobbyJoin

    c0 = time.process_time()
    js = {u: LobbyJoin(base, catalog, pairs[u], n, timeout=900.0, log=lambda *a, **k: None) for u in uids}
    codes: dict[int, int] = {}
    ts = [threading.Thread(target=lambda u=u, j=j: codes.__setitem__(u, j.run())) for u, j in js.items()]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(
        (
            codes,
            time.process_time() - c0,
            {u: j.waited for u, j in js.items()},
            {u: j.receipt for u, j in js.items()},
            {u: j.replies for u, j in js.items()},
        )
    )


def _server_report(out: str) -> tuple[list[str], str]:
    """``serve``'s closing output: its per-phase lines and its summary line."""
    lines = [x for x in out.splitlines() if x.strip()]
    return [x for x in lines if " phase " in x or x.startswith("phase ")], (lines[-1] if lines else "")


def _print_phases(phases: list[str]) -> None:
    print("server, per phase (frames queued -> replies accepted; compute = the server making the frames):")
    for x in phases:
        print("  " + x.split("phase ", 1)[1])


def _median_max(xs: list[float], digits: int = 1) -> str:
    xs = sorted(xs)
    return f"median {xs[len(xs) // 2]:.{digits}f} s, max {xs[-1]:.{digits}f} s" if xs else "n/a"


def run_lobby(a, ratings: dict[int, list], tmp: Path) -> None:
    """The lobby: fresh keys, proof of work, one roster of all N, indices of a titles index;
    contributors ``0 .. --browsers - 1`` are Chromium tabs, the others Python."""
    import json

    from mangarec.privacy.site_collect import to_indices

    n, nb = len(ratings), min(a.browsers, len(ratings))
    ids = sorted({str(i) for r in ratings.values() for i, _ in r}, key=lambda x: (len(x), x))
    catalog = "b" * 64
    (tmp / "titles.json").write_text(
        json.dumps({"schema": "mangarec-titles", "version": 1, "catalog_hash": catalog, "ids": ids})
    )
    pairs = {u: to_indices({str(i): v for i, v in r}, ids) for u, r in ratings.items()}
    out = tmp / "lobby.csv"
    print(
        f"== lobby: {n} contributors ({nb} in Chromium, {n - nb} Python) enroll (fresh keys, proof of work "
        f"2^{a.pow_bits}), one roster of {n} =="
    )
    driver = harness = None
    origin: list[str] = []
    if nb:
        sys.path.insert(0, str(ROOT / "tests" / "browser"))
        from contributors import contributor_chromium, lobby_waits, open_tabs, serve_harness, wait_all

        (tmp / "static").mkdir()
        (tmp / "profile").mkdir()
        url, harness = serve_harness(tmp / "static")
        origin = ["--allow-origin", url.rsplit("/", 1)[0]]
    t0 = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "mangarec.privacy", "serve", "--lobby", "--index", str(tmp / "titles.json")]
        + ["--min-cohort", str(n), "--max-cohort", str(n), "--gather", "1", "--pow-bits", str(a.pow_bits)]
        + ["--enroll-rate", "100000", "--per-address", "0", "--stop-after", "1"]
        + ["--phase-timeout", str(a.phase_timeout), "--out", str(out)]
        + origin,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        text=True,
    )
    base = "http://" + server.stdout.readline().split()[1]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_lobby_worker, args=(base, catalog, list(range(nb + w, n, a.workers)), pairs, n, q))
        for w in range(a.workers)
    ]
    for p in procs:
        p.start()
    tabs: dict[int, dict] = {}
    tab_waits: dict[int, float] = {}
    try:
        if nb:
            driver = contributor_chromium(tmp / "profile")
            jobs = {
                u: {"collectUrl": base, "catalog": catalog, "minCohort": n, "timeout": 900}
                | {"ratings": [list(x) for x in pairs[u]]}
                for u in range(nb)
            }
            handles = open_tabs(driver, url, jobs)
            tabs = wait_all(driver, handles, timeout=1800)
            tab_waits = lobby_waits(driver, handles)
        results = [q.get() for _ in procs]
    finally:
        if driver is not None:
            driver.quit()
        if harness is not None:
            harness.shutdown()
            harness.server_close()
    for p in procs:
        p.join()
    phases, final = _server_report(server.stdout.read())
    server.wait(timeout=60)
    wall = time.monotonic() - t0
    codes = {u: c for r in results for u, c in r[0].items()}
    cpu = sum(r[1] for r in results)
    replies = [x for r in results for rs in r[4].values() for x in rs]
    waited = [w for r in results for w in r[2].values()]
    receipts = [x for r in results for x in r[3].values() if x]
    whole = sum(x["collected"] == x["ratings"] for x in receipts)
    whole += sum(bool(x.get("ok")) and x.get("collected") == len(pairs[u]) for u, x in tabs.items())
    with open(out) as fh:
        by: dict[str, list] = {}
        for row in csv.DictReader(fh):
            by.setdefault(row["pseudonym"], []).append((row["item_id"], int(row["rating"])))
    got = Counter(tuple(sorted(v)) for v in by.values())
    want = Counter(tuple(sorted((str(i), v) for i, v in r)) for r in ratings.values() if r)
    srv_cpu = next((p for p in final.split("; ") if p.endswith("s CPU")), "?")
    print(f"contributors: {n} ({nb} browser tabs / {n - nb} Python)")
    print(f"server: {final.split(';')[0].strip()} | {srv_cpu} (enrollment, lobby and the session)")
    _print_phases(phases)
    print(
        f"Python clients, one reply (frame in -> reply accepted): wall {_median_max([w for w, _ in replies])}; "
        f"its thread's CPU {_median_max([c for _, c in replies], 3)}"
    )
    print(
        f"lobby collection: {wall:.1f} s wall end to end | Python clients {cpu:.1f} s CPU in all, "
        f"{cpu / max(1, n - nb):.3f} s per user (proof of work included) | exit codes {Counter(codes.values())} | "
        f"tabs ok {sum(bool(x.get('ok')) for x in tabs.values())} of {nb} | exact: {'yes' if got == want else 'no'} "
        f"({sum(got.values())} profiles)"
    )
    print(
        f"waiting in the lobby until the roster of {n} is fixed: Python {_median_max(waited)} | "
        f"browser tabs {_median_max(list(tab_waits.values()))} | receipts: "
        f"{whole} of {n} 'all my ratings collected', among "
        f"{receipts[0]['profiles'] if receipts else '?'} profiles"
    )
    assert got == want, "the lobby's collected profiles differ from the inputs"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-ratings", type=int, default=40)
    ap.add_argument(
        "--phase-timeout",
        type=float,
        default=300.0,
        help="seconds of silence that close a phase (its deadline: this + 0.5 s per member); the "
        "contributors here share two cores, so a reply can take minutes",
    )
    ap.add_argument("--lobby", action="store_true", help="also run the lobby (enrollment with fresh keys)")
    ap.add_argument("--pow-bits", type=int, default=12)
    ap.add_argument("--browsers", type=int, default=4, help="with --lobby: contributors in headless Chromium")
    ap.add_argument("--skip-roster", action="store_true", help="the lobby only")
    ap.add_argument("--skip-simulated", action="store_true", help="no in-process baseline")
    a = ap.parse_args()
    from mangarec.privacy.dataset import read_ratings
    from mangarec.privacy.simulate import simulate_collection

    src = ROOT.parent / "shared" / "data" / "anime-recdb" / "ratings.csv.gz"
    users = read_ratings(src)
    keys = sorted(users, key=lambda k: (len(k), k))[: a.users]
    ratings = {u: sorted(users[k])[: a.max_ratings] for u, k in enumerate(keys)}
    n = len(ratings)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    if a.lobby:
        with tempfile.TemporaryDirectory() as tmp:
            run_lobby(a, ratings, Path(tmp))
    if not a.skip_roster:
        run_roster(a, ratings)
    if a.skip_simulated:
        return
    t1, c1 = time.monotonic(), time.process_time()
    res = simulate_collection({str(u): r for u, r in ratings.items()}, cohort=n, seed=1)
    print(
        f"baseline, same cohort simulated in one process: {time.monotonic() - t1:.1f} s wall, "
        f"{time.process_time() - c1:.1f} s CPU, {res.lost_ratings} ratings lost, "
        f"{res.bytes_per_user / 1024:.0f} KiB per user"
    )


def run_roster(a, ratings: dict[int, list]) -> None:
    """A fixed roster handed out of band (``serve --roster``)."""
    n = len(ratings)
    print(
        f"== loopback: {n} contributors ({a.workers} processes of threads) against one HTTP "
        f"server on 127.0.0.1 (fixed roster); {sum(map(len, ratings.values())):,} ratings =="
    )
    roster = {u: SigningKey(_seed(u)).verify_key for u in range(n)}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "roster.txt").write_text("".join(f"{u} {k.hex()}\n" for u, k in roster.items()))
        out = Path(tmp) / "collected.csv"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.monotonic()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mangarec.privacy",
                "serve",
                "--users",
                str(n),
                "--roster",
                str(Path(tmp) / "roster.txt"),
                "--phase-timeout",
                str(a.phase_timeout),
                "--per-address",
                "0",
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = server.stdout.readline()
        base = "http://" + line.split()[1]
        results = _fan_out(a.workers, lambda w, q: (_worker, (base, list(range(w, n, a.workers)), roster, ratings, q)))
        phases, final = _server_report(server.stdout.read())
        server.wait(timeout=60)
        wall = time.monotonic() - t0
        codes = {u: c for r in results for u, c in r[0].items()}
        client_cpu = sum(r[1] for r in results)
        with open(out) as fh:
            by: dict[str, list] = {}
            for row in csv.DictReader(fh):
                by.setdefault(row["pseudonym"], []).append((int(row["item_id"]), int(row["rating"])))
    got = Counter(tuple(sorted(v)) for v in by.values())
    want = Counter(tuple(v) for v in ratings.values() if v)
    srv = final.split("; ")[2] if final.count("; ") >= 2 else final.strip()
    print(f"server: {final.split(';')[0]} | {srv} (includes waiting for the contributors)")
    _print_phases(phases)
    print(
        f"HTTP collection: {wall:.1f} s wall end to end | clients {client_cpu:.1f} s CPU in all, "
        f"{client_cpu / n:.3f} s per user | exit codes {Counter(codes.values())} | "
        f"exact: {got == want} ({sum(got.values())} profiles)"
    )
    assert got == want, "the collected profiles differ from the inputs"


if __name__ == "__main__":
    main()
