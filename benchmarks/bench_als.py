"""ALS on anime-recdb: our numpy ALS vs the `implicit` library, baselines, JSON sizes, agreement.

    python3 benchmarks/bench_als.py [--factors 32] [--reg 0.1] [--iterations 15] [--alpha 10]
                                    [--seed 42] [--cg-steps 3] [--repeats 2]

Reads ../shared/data/anime-recdb (ratings.csv.gz: 419,943 ratings; anime.csv.gz for genres and
members) with a small local CSV reader. Adult titles (genre Hentai) are left out, as a public
site would. Held-out split fixed by seed: 20% of each user's ratings (users with >= 5); a
held-out "like" is a rating >= 8. Every model ranks the items a user did not rate in training;
we report recall@10 and nDCG@10 on held-out likes, and training seconds per iteration.

Times: wall and CPU seconds per iteration (CPU time is the fairer figure when other jobs share
the machine; both libraries use 2 threads, BLAS limited to 1 thread).

Models (same factors, λ, iterations: the shipped defaults of [models.als] unless given;
implicit ones on the same confidence matrix C = 1 + alpha on every training like, other
ratings left out: feedback = "likes", what the build ships):
  ours-cg           mangarec.models.als (feedback="likes", solver="cg", the default): a few
                    conjugate-gradient steps per row, vectorised over rows (numpy/scipy)
  ours-exact        the same with solver="exact": batched closed-form solves
  implicit-cg       implicit.cpu.als.AlternatingLeastSquares (use_cg=True, its default)
  implicit-exact    the same with use_cg=False (exact Cholesky)
  ours-explicit     mangarec.models.als (explicit, ratings centred per user, weighted λ;
                    solver="exact")
  ours-explicit-cg  the same with solver="cg" (the default)
  popularity        training rating count
  random            a seeded random order
The four implicit-feedback fits run in --repeats interleaved rounds (rotated order, same
process); times are the median over rounds, quality is from the first round. Users are folded
in exactly against each model's item factors for ours (the library's user factors are its own).

Then: the published JSON (mangarec.publish) for the full catalog and its top-N variant,
sizes raw/gzip for both encodings, the largest N that fits 100 KB gzipped, and the top-10
overlap between fold-in on quantised and on full-precision vectors (test users' profiles).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import html
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mangarec import publish  # noqa: E402
from mangarec.catalog import Catalog, Item, Ratings, make_tags  # noqa: E402
from mangarec.client import parse  # noqa: E402
from mangarec.foldin import to_values  # noqa: E402
from mangarec.models import als  # noqa: E402
from mangarec.models.als import Params as ALSParams  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.seeds import rng  # noqa: E402

LIKE = 8.0
K = 10
BUDGET = 100_000
#: "Quality at least equal" allows this much of held-out noise (ratio to the `implicit` model).
QUALITY_TOLERANCE = 0.99


def read_catalog(root: Path) -> tuple[Catalog, dict]:
    """Items from anime.csv.gz (adult left out) and all ratings on them."""
    items = []
    with gzip.open(root / "anime.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            genres = [g.strip() for g in row["genre"].split(",") if g.strip()]
            if "Hentai" in genres:
                continue
            items.append(
                Item(
                    id=row["anime_id"],
                    title=html.unescape(row["name"]),
                    kind="anime",
                    tags=make_tags({"genre": genres}),
                    type=row["type"] or None,
                    popularity=float(row["members"] or 0),
                )
            )
    index = {it.id: k for k, it in enumerate(items)}
    users, cols, vals = [], [], []
    with gzip.open(root / "ratings.csv.gz", "rt", encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        for u, a, v in r:
            if a in index:
                users.append(int(u))
                cols.append(index[a])
                vals.append(float(v))
    uid, rows = np.unique(np.asarray(users), return_inverse=True)
    M = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, np.asarray(cols))), shape=(len(uid), len(items)))
    ratings = Ratings(matrix=M, user_ids=tuple(str(u) for u in uid), source="anime-recdb")
    return Catalog(items=tuple(items), ratings=ratings, sources=("anime-recdb",)), {"users": len(uid)}


def split(M: sp.csr_matrix, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Hold out 20% of each user's ratings (users with >= 5 ratings), fixed by seed."""
    g = rng(seed, "bench-als", "split")
    test = np.zeros(M.nnz, dtype=bool)
    for u in range(M.shape[0]):
        a, b = M.indptr[u], M.indptr[u + 1]
        n = b - a
        if n >= 5:
            test[a + g.choice(n, max(1, n // 5), replace=False)] = True
    coo = M.tocoo()
    tr = sp.csr_matrix((coo.data[~test], (coo.row[~test], coo.col[~test])), shape=M.shape)
    te = sp.csr_matrix((coo.data[test], (coo.row[test], coo.col[test])), shape=M.shape)
    return tr, te


def evaluate(score_fn, train: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray) -> tuple[float, float]:
    """Mean recall@K and nDCG@K on held-out likes; ``score_fn(rows) -> (len(rows), n_items)``."""
    disc = 1.0 / np.log2(np.arange(2, K + 2))
    rec, ndcg = [], []
    for start in range(0, len(users), 512):
        rows = users[start : start + 512]
        S = np.array(score_fn(rows), dtype=np.float64)
        for j, u in enumerate(rows):
            S[j, train.indices[train.indptr[u] : train.indptr[u + 1]]] = -np.inf
            a, b = test.indptr[u], test.indptr[u + 1]
            liked = set(test.indices[a:b][test.data[a:b] >= LIKE].tolist())
            top = np.argpartition(-S[j], K)[:K]
            top = top[np.lexsort((top, -S[j, top]))]
            hits = np.array([t in liked for t in top], dtype=float)
            rec.append(hits.sum() / min(K, len(liked)))
            ndcg.append((hits * disc).sum() / disc[: min(K, len(liked))].sum())
    return float(np.mean(rec)), float(np.mean(ndcg))


def kb(n: int) -> str:
    return f"{n / 1000:.1f} KB"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped = ALSParams()  # the shipped (tuned) settings are the defaults
    ap.add_argument("--factors", type=int, default=shipped.factors)
    ap.add_argument("--reg", type=float, default=shipped.regularization)
    ap.add_argument("--iterations", type=int, default=shipped.iterations)
    ap.add_argument("--alpha", type=float, default=shipped.alpha)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cg-steps", type=int, default=3, help="CG steps of ours-cg")
    ap.add_argument(
        "--cg-only",
        action="store_true",
        help="only ours-cg vs implicit-cg (the exact solvers need d² memory per row: slow at 256 factors)",
    )
    ap.add_argument(
        "--repeats", type=int, default=2, help="interleaved rounds of the four implicit-feedback fits (times: median)"
    )
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    catalog, _ = read_catalog(shared_data_dir() / "anime-recdb")
    M = catalog.ratings.matrix
    print(
        f"anime-recdb: {len(catalog)} titles (adult left out), {M.shape[0]} users, {M.nnz} ratings "
        f"[read in {time.perf_counter() - t0:.1f} s]"
    )
    train, test = split(M, args.seed)
    liked_rows = np.flatnonzero(np.diff((test >= LIKE).astype(np.int8).tocsr().indptr) > 0)
    users = liked_rows
    print(
        f"split (seed {args.seed}): {train.nnz} train, {test.nnz} held out; {len(users)} users with a held-out like "
        f"(rating >= {LIKE:g})"
    )
    tr_cat = Catalog(items=catalog.items, ratings=replace(catalog.ratings, matrix=train), sources=catalog.sources)
    params = ALSParams(
        factors=args.factors, regularization=args.reg, iterations=args.iterations, alpha=args.alpha, feedback="explicit"
    )
    results = []

    # ---- implicit feedback: ours (CG and exact) and the `implicit` library (CG and exact), the
    # four fits interleaved in each of --repeats rounds (rotated order) so that load from other
    # jobs hits all of them alike; times are the median over rounds, quality from round 1.
    # What the build ships (feedback = "likes"): a like (rating >= 8) is a positive, other
    # ratings are left out. Ours gets the raw ratings and maps them itself; the library gets
    # the same likes matrix.
    binary = (train >= LIKE).astype(np.float32).tocsr()
    binary.eliminate_zeros()
    bin64 = sp.csr_matrix(binary, dtype=np.float64)
    conf = binary.astype(np.float32)
    conf.data[:] = 1.0 + args.alpha  # C = 1 + alpha passed directly; the library's alpha=1 keeps it
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits
    except ImportError as exc:  # pragma: no cover - reported, not hidden
        print(f"implicit library not available: {exc}")
        AlternatingLeastSquares = None

    def fit_ours(solver: str):
        emb = als.fit(
            tr_cat,
            replace(params, feedback="likes", scale="1-10", like_threshold=LIKE),
            args.seed,
            solver=solver,
            cg_steps=args.cg_steps,
        )
        Y = emb.vectors.astype(np.float64)
        X = als.solve_rows(bin64, Y, args.reg, implicit=True, alpha=args.alpha)  # users folded in exactly
        return (
            float(np.median(emb.info["seconds_per_iteration"])),
            float(np.median(emb.info["cpu_seconds_per_iteration"])),
            X,
            Y,
            emb,
        )

    def fit_lib(cg: bool):
        with threadpool_limits(1, "blas"):
            m = AlternatingLeastSquares(
                factors=args.factors,
                regularization=args.reg,
                alpha=1.0,
                iterations=args.iterations,
                use_cg=cg,
                random_state=args.seed,
            )
            t, c = time.perf_counter(), time.process_time()
            m.fit(conf, show_progress=False)
            per = (time.perf_counter() - t) / args.iterations
            per_cpu = (time.process_time() - c) / args.iterations
        U, V = np.asarray(m.user_factors, dtype=np.float64), np.asarray(m.item_factors, dtype=np.float64)
        return per, per_cpu, U, V, None

    runs = {"ours-cg": lambda: fit_ours("cg"), "ours-exact": lambda: fit_ours("exact")}
    if AlternatingLeastSquares is not None:
        runs.update({"implicit-cg": lambda: fit_lib(True), "implicit-exact": lambda: fit_lib(False)})
    if args.cg_only:
        runs = {k: v for k, v in runs.items() if k.endswith("-cg")}
    names = list(runs)
    times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    first: dict[str, tuple] = {}
    for k in range(args.repeats):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            per, per_cpu, U, V, emb = runs[name]()
            times[name].append((per, per_cpu))
            if name not in first:
                first[name] = (U, V, emb)
    for name in names:
        U, V, _ = first[name]
        wall = float(np.median([t[0] for t in times[name]]))
        cpu = float(np.median([t[1] for t in times[name]]))
        results.append((name, wall, cpu, *evaluate(lambda r, U=U, V=V: U[r] @ V.T, train, test, users)))
    if args.cg_only:
        print(
            f"\nfactors={args.factors} λ={args.reg} iterations={args.iterations} alpha={args.alpha}; "
            f"{len(users)} test users, K={K}; median over {args.repeats} interleaved rounds"
        )
        print(f"{'model':<16}{'wall s/it':>10}{'CPU s/it':>10}{'recall@10':>11}{'nDCG@10':>10}")
        for name, per, cpu, r, n in results:
            print(f"{name:<16}{per:>10.3f}{cpu:>10.3f}{r:>11.4f}{n:>10.4f}")
        if len(results) == 2:
            o, b = results[0], results[1]
            print(
                f"ours-cg vs implicit-cg: wall ×{o[1] / b[1]:.2f}, CPU ×{o[2] / b[2]:.2f} (target <= 1.5), "
                f"recall ×{o[3] / b[3]:.3f}, nDCG ×{o[4] / b[4]:.3f}"
            )
        return
    emb_i = first["ours-cg"][2]
    loss_cg = emb_i.info["loss"][-1]
    loss_exact = first["ours-exact"][2].info["loss"][-1]
    Yc, Ye_ = first["ours-cg"][1], first["ours-exact"][1]

    # ---- ours, explicit (centred, weighted λ): the exact solver and CG (the default)
    trc = sp.csr_matrix(train, dtype=np.float64)
    cnt = np.diff(trc.indptr)
    umean = np.add.reduceat(trc.data, trc.indptr[:-1]) / np.maximum(cnt, 1)
    umean[cnt == 0] = trc.data.mean()
    tc = test.tocoo()
    base = float(np.sqrt(np.mean((umean[tc.row] - tc.data) ** 2)))
    rating_rmse, explicit_loss = {}, {}
    for name, solver in (("ours-explicit", "exact"), ("ours-explicit-cg", "cg")):
        e = als.fit(tr_cat, params, args.seed, solver=solver, cg_steps=args.cg_steps)
        Ye = e.vectors.astype(np.float64)
        Xe = als.solve_rows(als.centred(trc), Ye, args.reg, implicit=False, alpha=0)
        quality = evaluate(lambda r, Xe=Xe, Ye=Ye: Xe[r] @ Ye.T, train, test, users)
        results.append(
            (name, np.median(e.info["seconds_per_iteration"]), np.median(e.info["cpu_seconds_per_iteration"]), *quality)
        )
        pred = umean[tc.row] + np.einsum("ij,ij->i", Xe[tc.row], Ye[tc.col])
        rating_rmse[name] = float(np.sqrt(np.mean((np.clip(pred, 1, 10) - tc.data) ** 2)))
        explicit_loss[name] = e.info["loss"][-1]

    pop = np.diff(sp.csc_matrix(train).indptr).astype(np.float64)
    results.append(("popularity", 0.0, 0.0, *evaluate(lambda r: np.tile(pop, (len(r), 1)), train, test, users)))
    g = rng(args.seed, "bench-als", "random")
    results.append(("random", 0.0, 0.0, *evaluate(lambda r: g.random((len(r), M.shape[1])), train, test, users)))

    print(
        f"\nfactors={args.factors} λ={args.reg} iterations={args.iterations} alpha={args.alpha}; "
        f"{len(users)} test users, K={K}"
    )
    print(f"{'model':<16}{'wall s/it':>10}{'CPU s/it':>10}{'recall@10':>11}{'nDCG@10':>10}")
    for name, per, cpu, r, n in results:
        print(f"{name:<16}{per:>10.3f}{cpu:>10.3f}{r:>11.4f}{n:>10.4f}")
    print(
        "held-out rating RMSE: "
        + ", ".join(f"{k} {v:.4f}" for k, v in rating_rmse.items())
        + f" (user-mean baseline {base:.4f})"
    )
    print(
        f"ours-cg vs ours-exact: final training loss {loss_cg:.1f} vs {loss_exact:.1f} "
        f"(relative difference {abs(loss_cg - loss_exact) / loss_exact:.2e}); item factors relative "
        f"difference {np.linalg.norm(Yc - Ye_) / np.linalg.norm(Ye_):.2e}"
    )
    le, lc = explicit_loss["ours-explicit"], explicit_loss["ours-explicit-cg"]
    print(
        f"ours-explicit-cg vs ours-explicit: final training loss {lc:.1f} vs {le:.1f} "
        f"(relative difference {abs(lc - le) / le:.2e})"
    )
    by = {name: (per, cpu, r, n) for name, per, cpu, r, n in results}
    print(f"times: median over {args.repeats} interleaved rounds of {args.iterations} iterations")
    if "implicit-cg" in by:
        for ours_name, ref in (
            ("ours-cg", "implicit-cg"),
            ("ours-cg", "implicit-exact"),
            ("ours-exact", "implicit-exact"),
            ("ours-exact", "implicit-cg"),
        ):
            o, b = by[ours_name], by[ref]
            print(
                f"{ours_name} vs {ref}: wall time ×{o[0] / b[0]:.2f}, CPU time ×{o[1] / b[1]:.2f}, "
                f"recall ×{o[2] / b[2]:.3f}, nDCG ×{o[3] / b[3]:.3f}"
            )
        o, b = by["ours-cg"], by["implicit-cg"]
        best = max(by["implicit-cg"][2], by["implicit-exact"][2]), max(by["implicit-cg"][3], by["implicit-exact"][3])
        quality = o[2] >= QUALITY_TOLERANCE * best[0] and o[3] >= QUALITY_TOLERANCE * best[1]
        speed = o[1] <= 1.5 * b[1]
        print(
            f"goal (ours-cg quality >= {QUALITY_TOLERANCE:g} × the better `implicit` model's, CPU time <= 1.5 × "
            f"implicit-cg's): quality {'met' if quality else 'NOT met'}, time {'met' if speed else 'NOT met'} "
            f"(×{o[1] / b[1]:.2f} CPU, ×{o[0] / b[0]:.2f} wall)"
        )

    # ---- published JSON: sizes and quantisation agreement (ALS explicit on all ratings)
    print("\npublished JSON (explicit ALS on all ratings):")
    emb = als.fit(catalog, params, args.seed)
    for enc in publish.ENCODINGS:
        p = publish.dumps(
            publish.build_payload(catalog, emb, reg=args.reg, mode="explicit", build_date="bench", encoding=enc)
        )
        print(f"  full catalog ({len(catalog)} titles, {enc}): {kb(len(p))} raw, {kb(len(publish.gzip_bytes(p)))} gzip")

    def gz_size(n: int) -> int:
        return len(
            publish.gzip_bytes(
                publish.dumps(
                    publish.build_payload(catalog, emb, reg=args.reg, mode="explicit", build_date="bench", top_n=n)
                )
            )
        )

    lo, hi = 1, len(catalog)
    while lo < hi:  # largest N whose top-N file fits the budget
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if gz_size(mid) <= BUDGET else (lo, mid - 1)
    for n in (400, 2000, lo):
        print(f"  top-{n}: {kb(gz_size(n))} gzip")
    print(f"  largest top-N within {kb(BUDGET)} gzip: N = {lo}")

    order = np.argsort(catalog.tie_order, kind="stable")
    Rord = sp.csr_matrix(M)[:, order].tocsr()
    g = rng(args.seed, "bench-als", "agreement")
    for n in (len(catalog), lo, 400):
        for mode, e, alpha in (("explicit", emb, 1.0), ("implicit", emb_i, args.alpha)):
            model = parse(
                publish.build_payload(catalog, e, reg=args.reg, mode=mode, alpha=alpha, build_date="bench", top_n=n)
            )
            full = e.vectors.astype(np.float64)[order[:n]]
            profiles = []
            for u in g.choice(M.shape[0], 300, replace=False):
                cols = Rord.indices[Rord.indptr[u] : Rord.indptr[u + 1]]
                vals = Rord.data[Rord.indptr[u] : Rord.indptr[u + 1]]
                keep = cols < n
                if keep.sum() < 2:
                    continue
                pick = g.permutation(np.flatnonzero(keep))[:15]
                ratings = {model.ids[c]: float(v) for c, v in zip(cols[pick], vals[pick])}
                profiles.append(to_values(ratings, model.index))
            agree = publish.top_overlap(full, model.vectors, profiles, reg=args.reg, mode=mode, alpha=alpha)
            print(f"  top-10 overlap quantised vs full, {mode:<8} {n:>5} titles, {len(profiles)} profiles: {agree:.3f}")


if __name__ == "__main__":
    main()
