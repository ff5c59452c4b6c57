"""Recommendation quality on real ratings, every figure beside its baselines, in one run.

    python3 benchmarks/bench_quality.py [--datasets anime,movielens] [--users 2000] [--seed 42]
                                        [--schedule]

The protocol is the build's (mangarec.evaluation): a like is a rating at least 70 % up the
detected scale (8 on anime-recdb's 1-10, 4 stars on MovieLens's 0.5-5); 20 % of each evaluated
user's likes (users with >= 5 likes) are the test set, 20 % of the rest the validation set
(EASE's λ is chosen there); models are fitted on the training side only; every list is a
top 10 excluding the user's training ratings; intervals are bootstrap 95 % over users.

Rows per dataset:
  ALS (shipped defaults)        mangarec.models.als.Params(), training users folded in
  ALS (before issue 10)         raw 1-10 ratings as implicit confidence, 32 factors, λ 0.1
  ALS neighbours                item-kNN over ALS's top-k neighbour lists
  EASE                          Steck 2019 closed form (the strong reference)
  item-kNN, popularity, random  baselines
  visitor, N likes              the published int8 JSON read by mangarec.client, N of the
                                user's training likes given as "like" (the shipped fold-in:
                                visitor α and λ up to 12 likes, training's from 48, a
                                geometric schedule between)
  visitor, no count schedule    the visitor α and λ at every count
  visitor, previous fold-in     training α with λ 200 (what the site served before)
  visitor, item-item            the same profiles scored by EASE's top-50 weights per liked title
                                (what per-title shards would serve)
  onboarding                    a dozen picks answered from the user's true ratings: spread
                                (farthest-point), the site's (like-weighted D-optimal),
                                random popular
With --schedule, validation visitors (fit / validation split, test likes unread) with 5, 12,
40 and all likes under single fold-in settings and under the shipped count schedule.
Then the null-model tests of ALS's neighbour lists (co-liked truth), and of the same lists
shuffled across titles, and the targets of issue 10 with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import csv
import functools
import gzip
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mangarec import neighbours as nbm  # noqa: E402
from mangarec.catalog import Catalog, Item, Ratings, make_tags  # noqa: E402
from mangarec.config import Config, EvaluationSection  # noqa: E402
from mangarec.evaluation import make_split  # noqa: E402
from mangarec.evaluation.nulltests import model_tests  # noqa: E402
from mangarec.evaluation.protocol import canonical  # noqa: E402
from mangarec.evaluation.ranking import evaluate_scorer  # noqa: E402
from mangarec.evaluation.runner import (
    foldin_scorer,
    run_evaluation,
    training_values,
)  # noqa: E402
from mangarec.evaluation.truths import truths_of  # noqa: E402
from mangarec.evaluation.visitor import evaluate_visitor, spread_picks  # noqa: E402
from mangarec.loaders import load_catalog  # noqa: E402
from mangarec.models import als  # noqa: E402
from mangarec.models.ease import fit_ease, item_item  # noqa: E402
from mangarec.onboarding import picks_for  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.seeds import derive_seed  # noqa: E402

OLD_ALS = als.Params(factors=32, regularization=0.1, alpha=10.0, feedback="raw")
ITEM_ITEM_K = 50
#: The visitor fold-in λ shipped before the visitor α and the count schedule (with training's α).
PREVIOUS_VISITOR_REG = 200.0


def movielens() -> Catalog:
    """MovieLens small in memory: movies with their genres as tags, ratings 0.5-5 stars."""
    root = shared_data_dir() / "movielens-small"
    items = []
    with open(root / "movies.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            genres = [g for g in row["genres"].split("|") if g and g != "(no genres listed)"] or ["None"]
            items.append(
                Item(id=f"m{row['movieId']}", title=row["title"], kind="anime", tags=make_tags({"genre": genres}))
            )
    index = {it.id: k for k, it in enumerate(items)}
    users: dict[str, int] = {}
    r, c, v = [], [], []
    with gzip.open(root / "ratings.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            r.append(users.setdefault(row["userId"], len(users)))
            c.append(index[f"m{row['movieId']}"])
            v.append(float(row["rating"]))
    m = sp.csr_matrix((np.array(v, dtype=np.float32), (r, c)), shape=(len(users), len(items)))
    counts = np.bincount(c, minlength=len(items))
    items = [replace(it, popularity=float(counts[k])) for k, it in enumerate(items)]
    return Catalog(
        items=tuple(items), ratings=Ratings(m, tuple(users), source="movielens-small"), sources=("movielens-small",)
    )


def fmt(m) -> str:
    return (
        f"P@10 {m.precision.mean:.3f} [{m.precision.lo:.3f}, {m.precision.hi:.3f}]  "
        f"R@10 {m.recall.mean:.3f}  nDCG@10 {m.ndcg.mean:.3f} [{m.ndcg.lo:.3f}, {m.ndcg.hi:.3f}]  "
        f"cov {m.coverage:.3f}"
    )


def run(name: str, cat: Catalog, args) -> dict:
    print(f"\n=== {name}: {len(cat)} titles, {cat.ratings.nnz} ratings, {cat.ratings.n_users} users")
    cfg = EvaluationSection(max_users=args.users)
    seed = derive_seed(args.seed, "evaluate")
    split = make_split(cat.ratings, cfg, seed)
    print(" ", " ".join(split.describe()))
    train_cat = replace(cat, ratings=split.train)
    params = Config().models.als
    t = time.perf_counter()
    emb = als.fit(train_cat, params, derive_seed(args.seed, "model", "als"))
    t_fit = time.perf_counter() - t
    old = als.fit(train_cat, OLD_ALS, derive_seed(args.seed, "model", "als"))
    nb = nbm.compute(emb, Config().neighbours, cat.tie_order, derive_seed(args.seed, "neighbours", "als"))
    t = time.perf_counter()
    ev = run_evaluation(cat, {"als": nb}, cfg, seed, heldout_embeddings={"als": emb}, heldout_neighbours={"als": nb})
    t_eval = time.perf_counter() - t
    exclude = canonical(split.train.matrix)
    old_m = evaluate_scorer(
        foldin_scorer(old, training_values(old, split.train.matrix)),
        exclude,
        split.test,
        split.users,
        cat.tie_order,
        derive_seed(seed, "evaluation", "bootstrap"),
    )
    rows = {r.method: r.metrics for r in ev.ranking}
    lam = float(ev.choices["ease_lambda"])
    W = item_item(fit_ease(split.likes("train"), lam), ITEM_ITEM_K)
    fold = emb.foldin
    visitor = functools.partial(
        evaluate_visitor,
        cat,
        split,
        emb,
        reg=fold.reg,
        mode=fold.mode,
        alpha=fold.alpha,
        schedule=fold.schedule,
        seed=derive_seed(seed, "visitor", "als"),
    )
    vis = visitor(like_counts=[5, 12, 24, 48], picks=spread_picks(emb.vectors, cat.tie_order), item_item=W)
    flat = visitor(like_counts=[24, 48], schedule=None)  # the visitor α and λ at every count
    before = visitor(like_counts=[12], schedule=None, alpha=params.alpha, reg=PREVIOUS_VISITOR_REG)
    vis2 = visitor(like_counts=[12], picks=picks_for(cat, emb.vectors, split.likes("train")))
    print(
        f"  ALS: {params.feedback}, {params.factors} factors, λ {params.regularization:g} (visitor fold-in λ "
        f"{fold.reg:g}), α {params.alpha:g} (visitor α {fold.alpha:g}), "
        f"{params.iterations} iterations: fit {t_fit:.1f} s; evaluation {t_eval:.1f} s; EASE λ {lam:g} (validation)"
    )
    table = [
        ("ALS (shipped defaults), fold-in", rows["als"]),
        ("ALS (before issue 10), fold-in", old_m),
        ("ALS neighbour lists, item-kNN", rows["als neighbours"]),
        ("EASE (reference)", rows["ease"]),
        ("co-like item-kNN (baseline)", rows["item-knn"]),
        ("popularity (baseline)", rows["popularity"]),
        ("random (baseline)", rows["random"]),
    ]
    for label, m in vis.likes.items():
        table.append((f"visitor via published JSON, {label}", m))
    for label in ("24 likes", "48 likes", "all likes"):
        table.append((f"visitor, no count schedule, {label}", flat.likes[label]))
    for label in ("12 likes", "all likes"):
        prev = f"α {params.alpha:g}, λ {PREVIOUS_VISITOR_REG:g}"
        table.append((f"visitor, previous fold-in ({prev}), {label}", before.likes[label]))
    for label, m in vis.item_item.items():
        table.append((f"visitor, EASE item-item top-{ITEM_ITEM_K}, {label}", m))
    table.append(
        (
            f"onboarding: spread picks ({vis.answered['onboarding picks']:.1f} answered)",
            vis.onboarding["onboarding picks"],
        )
    )
    table.append(
        (
            f"onboarding: site's picks, like-weighted D-optimal ({vis2.answered['onboarding picks']:.1f} answered)",
            vis2.onboarding["onboarding picks"],
        )
    )
    table.append(
        (
            f"onboarding: random popular picks ({vis.answered['random popular picks']:.1f} answered)",
            vis.onboarding["random popular picks"],
        )
    )
    for label, m in table:
        print(f"  {label:58s} {fmt(m)}")
    truths = truths_of(cat, split)
    lists = nb.indices.astype(np.int64)
    shuffled = lists[np.random.default_rng(0).permutation(len(lists))]
    for label, ls in (("ALS lists", lists), ("ALS lists shuffled across titles", shuffled)):
        for t in model_tests(ls, truths):
            print(
                f"  null test, {label:34s} {t.truth} vs {t.null:10s}: found {t.observed:.3f} vs {t.expected:.3f} "
                f"(lift {t.lift:.2f}), p = {t.p_value:.3g}, recall {t.recall:.3f}, {t.items} titles"
            )
    if args.schedule:
        schedule_search(cat, split, params, args.seed, seed)
    return {"als": rows["als"], "ease": rows["ease"], "visitor12": vis.likes["12 likes"]}


#: Single fold-in settings compared with the shipped count schedule on validation.
SCHEDULE_RIVALS = ((10.0, 50.0), (100.0, 200.0), (300.0, 400.0), (1000.0, 800.0))


def schedule_search(cat: Catalog, split, params, base_seed: int, seed: int) -> None:
    """Validation only (ALS fitted on *fit*, scored on the validation likes): visitors with
    5 / 12 / 40 / all likes under single (α, λ) settings and under the shipped schedule."""
    from mangarec.models.als import visitor_schedule

    emb = als.fit(replace(cat, ratings=split.fit), params, derive_seed(base_seed, "model", "als"))
    as_test = replace(split, train=split.fit, test=split.validation)
    counts = [5, 12, 40]
    visitor = functools.partial(
        evaluate_visitor, cat, as_test, emb, mode="implicit", like_counts=counts, seed=derive_seed(seed, "tune")
    )
    print("  validation visitors (fit / validation split), P@10 with 5 / 12 / 40 / all likes:")
    rows = [(f"α {a:g}, λ {lam:g} at every count", visitor(alpha=a, reg=lam)) for a, lam in SCHEDULE_RIVALS]
    sched = visitor_schedule(params)
    rows.append(
        (
            f"shipped schedule (α {params.visitor_alpha:g}, λ {params.visitor_regularization:g} up to "
            f"{params.visitor_few_likes}, training's from {params.visitor_many_likes})",
            visitor(alpha=params.visitor_alpha, reg=params.visitor_regularization, schedule=sched),
        )
    )
    for label, v in rows:
        figs = " / ".join(f"{v.likes[k].precision.mean:.4f}" for k in [*(f"{c} likes" for c in counts), "all likes"])
        print(f"    {label:72s} {figs}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="anime,movielens")
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--schedule", action="store_true", help="also compare the visitor fold-in settings on validation")
    args = ap.parse_args()
    res = {}
    for ds in args.datasets.split(","):
        if ds == "anime":
            res[ds] = run("anime-recdb", load_catalog([str(shared_data_dir() / "anime-recdb")]), args)
        elif ds == "movielens":
            res[ds] = run("MovieLens small", movielens(), args)
    print("\n=== targets (issue 10)")
    for ds, r in res.items():
        for m in ("precision", "ndcg"):
            a, e = getattr(r["als"], m).mean, getattr(r["ease"], m).mean
            print(
                f"  {ds}: ALS {m} {a:.3f} / EASE {e:.3f} = {a / e:.3f}  (target >= 0.95): "
                f"{'PASS' if a >= 0.95 * e else 'FAIL'}"
            )
    if "anime" in res:
        v = res["anime"]["visitor12"].precision.mean
        print(
            f"  anime: visitor from the published JSON, 12 likes: P@10 {v:.3f} (target >= 0.22): "
            f"{'PASS' if v >= 0.22 else 'FAIL'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
