"""Co-like agreement of the content models on anime-recdb's cold-start titles, in one run.

Usage: ``python3 benchmarks/bench_colike.py [--data PATH] [--no-tune] [--write]``

Prints, measured in this one process (``mangarec.evaluation.colikes``):

1. **Cold start**: half of the liked titles (fixed seed) lose every rating; each is placed from
   content alone. Its truth: its 20 most co-liked titles in all the likes (cosine-normalised, at
   least two users), **its own series left out**. For every list: co-like agreement@20 on the
   test half of those titles, lift over random lists and over popularity-matched lists, each
   with a bootstrap 95 % interval, beside tag-set Jaccard, raw tf-idf (sklearn defaults over
   title + description), popularity (the most-liked titles) and random. "Tags learned from
   co-likes" is fitted on the other titles' likes only.
2. **Similar titles (hybrid)**: its weights searched on the *validation* half of the cold titles
   (co-like agreement is the objective), the chosen values printed beside the defaults.
3. ``--write``: fits the co-like weights on **every** anime-recdb like and writes them to
   ``mangarec/models/_colike_weights.py`` (the weights a catalog without ratings, MangaDex, uses).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec import neighbours as nbm  # noqa: E402
from mangarec.config import Config  # noqa: E402
from mangarec.evaluation import colikes as cl  # noqa: E402
from mangarec.evaluation.content import item_halves  # noqa: E402
from mangarec.models import colike, fit_model  # noqa: E402
from mangarec.models.series import members  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.similarity import SparseCosine, TagJaccard, Weighted  # noqa: E402
from mangarec.topk import exact_topk  # noqa: E402

K = 20
SEED = 42
print = functools.partial(print, flush=True)  # noqa: A001 - progress shows while it runs


class ColdStart:
    """anime-recdb's cold-start protocol: the cold titles, their truth, the halves."""

    def __init__(self, cat, config: Config):
        self.cat, self.config = cat, config
        self.n = len(cat)
        self.likes = colike.own_likes(cat, config.models.colike.like_fraction)
        self.series = members(cat, config.models.series)
        self.cold = cl.cold_titles(self.likes, SEED)
        self.truth = cl.cold_truth(self.likes, self.cold, self.series, K)
        has = np.diff(self.truth.indptr) > 0
        val = item_halves(self.n, SEED)
        self.rows = {"validation": np.flatnonzero(has & val), "test": np.flatnonzero(has & ~val)}
        self.hidden = cl.hide_titles(cat, self.cold)
        self.table: list[tuple[str, cl.CoLikeAgreement]] = []

    def score(self, lists: np.ndarray, name: str, half: str = "test", resamples: int = 1000):
        return cl.agreement(lists, self.truth, name, "cold start", SEED, rows=self.rows[half], resamples=resamples)

    def add(self, name: str, lists: np.ndarray) -> cl.CoLikeAgreement:
        a = self.score(lists, name)
        self.table.append((name, a))
        return a


def tfidf(cat):
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    return sp.csr_matrix(
        TfidfVectorizer().fit_transform([f"{i.title}\n{i.description}" for i in cat.items]), dtype=np.float32
    )


def popularity_lists(b: ColdStart) -> np.ndarray:
    """Every title's list: the most-liked titles (training likes: the cold titles have none)."""
    pop = np.asarray(colike.own_likes(b.hidden, b.config.models.colike.like_fraction).sum(axis=0)).ravel()
    order = np.lexsort((b.cat.tie_order, -pop))[: K + 1]
    return np.array([[j for j in order if j != i][:K] for i in range(b.n)], dtype=np.int64)


def run(b: ColdStart, tune: bool) -> dict:
    cat, config, tie = b.cat, b.config, b.cat.tie_order
    B = cat.tag_matrix
    t0 = time.perf_counter()
    jac = exact_topk(TagJaccard(B, np.ones(B.shape[1])), K, tie)[0]
    b.add("tag-set Jaccard (baseline)", jac)
    b.add("raw tf-idf, title + description (baseline)", exact_topk(SparseCosine(tfidf(cat)), K, tie)[0])
    b.add("popularity (baseline)", popularity_lists(b))
    rnd = np.array([np.random.default_rng(i).choice(b.n - 1, K, replace=False) for i in range(b.n)])
    b.add("random (baseline, one draw)", rnd + (rnd >= np.arange(b.n)[:, None]))
    embs: dict = {}
    for name in ("series", "lsi", "colike", "hybrid"):
        e, t = timed(lambda name=name: fit_model(name, b.hidden, config, SEED, deps=embs))
        embs[name] = e
        if name == "series":
            continue
        lists = nbm.exact(e, K, tie).indices.astype(np.int64)
        b.add(f"{name} (fit {t:.0f} s{', cold titles unrated' if name in ('colike', 'hybrid') else ''})", lists)
    print(
        f"\ncold start on anime-recdb: {int(b.cold.sum())} cold titles of {b.n}; truth on "
        f"{len(b.rows['test'])} test-half titles ({len(b.rows['validation'])} validation); "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print(f"\n| list | co-like agreement@{K} | lift over random | lift over popularity-matched |")
    print("| --- | --- | --- | --- |")
    for name, a in b.table:
        print(f"| {name} | {iv(a.agreement)} | {iv(a.lift_random, 2)} | {iv(a.lift_popularity, 2)} |")
    base = b.table[0][1].agreement.mean
    learned = next(a for n, a in b.table if n.startswith("colike (")).agreement.mean
    print(f"\ncolike vs Jaccard: {learned / base - 1:+.1%} co-like agreement (target: at least +15 %)")
    if tune:
        tune_hybrid(b, embs)
    return embs


def tune_hybrid(b: ColdStart, embs: dict) -> None:
    """The hybrid's weights on the validation half of the cold titles (co-like agreement)."""
    from mangarec.models import hybrid as hm

    cat, tie = b.hidden, b.cat.tie_order
    p0 = b.config.models.hybrid
    exclude = embs["hybrid"].similarity.exclude

    def sim(p):
        g = hm.group_weights(cat, p)
        terms = [(1.0, TagJaccard(cat.tag_matrix, g, p.tag_norm))]
        if p.colike_weight:
            terms.append((p.colike_weight, embs["colike"].similarity))
        bias = p.prior_weight * hm.prior(cat.popularity, p.prior_quantile)
        return Weighted(tuple(terms), bias=bias, exclude=exclude)

    def score(p) -> float:
        rows = b.rows["validation"]
        idx = exact_topk_rows(sim(p), rows, tie)
        return b.score(idx, "hybrid", "validation", resamples=10).agreement.mean

    grid = {
        "colike_weight": [0.0, 0.5, 1.0, 2.0, 4.0],
        "prior_weight": [0.0, 0.2, 0.4, 0.8],
        "tag_norm": ["max", "jaccard"],
        "demographic_weight": [1.0, 2.0, 4.0],
        "content_weight": [1.0, 4.0, 8.0],
        "prior_quantile": [0.1, 0.2, 0.4],
    }
    best, best_v = p0, score(p0)
    print(f"\nhybrid on the validation half of the cold titles: defaults -> co-like agreement {best_v:.4f}")
    for key, values in grid.items():
        for v in values:
            if getattr(best, key) == v:
                continue
            p = replace(best, **{key: v})
            s = score(p)
            flag = ""
            if s > best_v + 0.001:
                best, best_v, flag = p, s, "  <- better"
            print(f"  {key} = {v!r:7}: {s:.4f}{flag}")
    print(f"  chosen: {best}\n  defaults are {'the chosen values' if best == p0 else 'NOT the chosen values'}")


def exact_topk_rows(sim, rows: np.ndarray, tie: np.ndarray) -> np.ndarray:
    from mangarec.topk import topk_rows

    idx, _ = topk_rows(sim, rows, K, tie)
    full = np.zeros((sim.n, K), dtype=np.int64)
    full[:] = np.arange(1, K + 1)[None, :]
    full[rows] = idx
    return full


def iv(x, d: int = 3) -> str:
    return f"{x.mean:.{d}f} [{x.lo:.{d}f}, {x.hi:.{d}f}]"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def write(cat, config: Config, path: Path) -> None:
    likes = colike.own_likes(cat, config.models.colike.like_fraction)
    p = config.models.colike
    f = colike.fit_weights(
        cat.tag_matrix,
        cat.tag_vocabulary,
        colike.standard_log_popularity(cat.popularity),
        likes,
        SEED,
        exclude=members(cat, config.models.series),
        titles=p.fit_titles,
        sweeps=p.sweeps,
        tie=cat.tie_order,
    )
    users = int((np.diff(likes.indptr) > 0).sum())
    colike.write_shipped(
        f,
        path,
        f"Fitted on anime-recdb (MyAnimeList ratings, Kaggle CooperUnion via Case Recommender): {users} users' "
        f"{likes.nnz} likes\n(rating >= {p.like_fraction:g} of the scale), {p.fit_titles} sampled titles, "
        f"{p.sweeps} sweeps, seed {SEED}; agreement@{K} on the sample {f.agreement:.4f}.\n"
        "Derived parameters (one weight per tag name and two coefficients), not rows of the data.",
    )
    print(f"wrote {path} ({len(f.tags)} tag weights, affinity {f.affinity}, prior {f.prior})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(shared_data_dir() / "anime-recdb"))
    ap.add_argument("--no-tune", action="store_true", help="skip the hybrid's weight search")
    ap.add_argument("--write", action="store_true", help="refit on every like and write the shipped weights")
    args = ap.parse_args(argv)
    from mangarec.loaders import load_catalog

    cat = load_catalog([args.data])
    config = Config()
    if args.write:
        write(cat, config, ROOT / "mangarec" / "models" / "_colike_weights.py")
        return 0
    run(ColdStart(cat, config), tune=not args.no_tune)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
