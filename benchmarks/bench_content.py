"""Content models against the simple baselines, on the full MangaDex v3 SFW catalog, in one run.

Usage: ``python3 benchmarks/bench_content.py [--data PATH] [--sample N] [--no-tune] [--no-sweep]``

Prints, measured in this one process:

1. **The table**: every list's franchise recall@20 and ``matches`` recall@20 (test half, and over
   all items) beside the baselines: tag-set Jaccard (exact), title + description tf-idf cosine
   (sparse, sklearn defaults), 0.6 · Jaccard + 0.4 · tf-idf, random; and the first release's
   compressed models (16-d tf-idf LSI, 64-d text SVD, 8-d word2vec, 16-d network). "Same
   series" is measured with the evaluated half of the links removed from its input (what it
   predicts) and with every link (what the title page shows). "Similar titles" must hold no
   same-series title.
2. **Validation**: the hybrid's and the series list's weights, LSI's and word2vec's dimensions,
   searched on the validation half (a sample of its items), the chosen values printed beside
   the defaults.
3. **The visitor path**: a visitor who likes one title, ranked by fold-in on the published
   vectors (``mangarec.client``, the browser's maths), against that model's own neighbour list
   and the first release's published LSI vectors.
4. **Co-likes** (``benchmarks/bench_colike.py``, in the same run): on anime-recdb's cold-start
   titles, each list's agreement with what readers like together beyond the series, with lifts
   over random and popularity-matched lists, beside Jaccard, raw tf-idf, popularity and random;
   the hybrid's weights searched on co-likes. "Tags learned from co-likes" here uses the shipped
   anime-recdb weights (MangaDex has no ratings).
5. **Speed**: sparse text neighbours against a blocked full sort of the same scores; network
   deconvolution and silencing against the dense eigendecomposition of ``B Bᵀ`` on a sample,
   extrapolated as n³.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mangarec import neighbours as nbm  # noqa: E402
from mangarec.config import Config  # noqa: E402
from mangarec.embedding import Embedding  # noqa: E402
from mangarec.evaluation import content  # noqa: E402
from mangarec.models import REGISTRY, fit_model  # noqa: E402
from mangarec.models import hybrid as hybrid_mod  # noqa: E402
from mangarec.models import series as series_mod  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.similarity import Bilinear, DenseCosine, SparseCosine, TagJaccard, Weighted  # noqa: E402
from mangarec.topk import exact_topk, topk_rows  # noqa: E402

K = 20
SEED = 42
print = functools.partial(print, flush=True)  # noqa: A001 - progress shows while it runs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Bench:
    """The catalog, its evaluation halves and the measured lists."""

    def __init__(self, catalog, sample: int):
        self.cat = catalog
        self.n = len(catalog)
        self.tie = catalog.tie_order
        self.src, self.dst = content.franchise_links(catalog)
        self.val_link = content.link_halves(self.src, self.dst, content.HALVES_SEED)
        self.lists = content.reference_lists(catalog, K)
        self.val_item = content.item_halves(self.n, content.HALVES_SEED)
        self.rows = {
            h: np.array([i for i in self.lists if self.val_item[i] == (h == "validation")])
            for h in ("validation", "test")
        }
        g = np.random.default_rng(7)
        self.sample = {h: np.sort(g.choice(r, size=min(sample, len(r)), replace=False)) for h, r in self.rows.items()}
        self.table: list[tuple[str, str, float | None, float | None, float | None, float | None, str]] = []

    def links(self, half: str | None):
        if half is None:
            return self.src, self.dst
        m = self.val_link if half == "validation" else ~self.val_link
        return self.src[m], self.dst[m]

    def scores(self, idx: np.ndarray, half: str | None = "test") -> tuple[float | None, float | None]:
        s, d = self.links(half)
        rows = None if half is None else self.rows[half]
        return content.franchise_recall(idx, s, d), content.matches_recall(idx, self.lists, rows)

    def add(self, group: str, name: str, idx: np.ndarray, note: str = "") -> None:
        ft, mt = self.scores(idx, "test")
        fa, ma = self.scores(idx, None)
        self.table.append((group, name, ft, mt, fa, ma, note))

    def sample_scores(self, sim, half: str, franchise_rows: bool = True, hidden=None):
        """Franchise / matches recall of ``sim``'s lists on the half's sampled items only."""
        s, d = self.links(half) if hidden is None else hidden
        rows = self.sample[half]
        if franchise_rows:
            fr_rows = np.unique(s)
            fr_rows = np.random.default_rng(11).choice(fr_rows, size=min(len(rows), len(fr_rows)), replace=False)
            rows = np.union1d(rows, fr_rows)
        idx, _ = topk_rows(sim, rows, K, self.tie)
        full = np.full((self.n, K), -1, dtype=np.int64)
        full[rows] = idx
        keep = np.isin(s, rows)
        fr = content.franchise_recall(full, s[keep], d[keep])
        mr = content.matches_recall(full, self.lists, self.sample[half])
        return fr, mr


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def tfidf_default(cat) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return sp.csr_matrix(
        TfidfVectorizer().fit_transform([f"{i.title}\n{i.description}" for i in cat.items]), dtype=np.float32
    )


def baselines(b: Bench) -> dict:
    cat = b.cat
    B = cat.tag_matrix
    jac = TagJaccard(B, np.ones(B.shape[1]))
    x = tfidf_default(cat)
    tf = SparseCosine(x)
    (ij, _), t_j = timed(lambda: exact_topk(jac, K, b.tie))
    (it, _), t_t = timed(lambda: exact_topk(tf, K, b.tie))
    (im, _), t_m = timed(lambda: exact_topk(Weighted(((0.6, jac), (0.4, tf))), K, b.tie))
    b.add("baseline", "tag-set Jaccard, exact", ij, f"{t_j:.1f} s")
    b.add("baseline", "title + description tf-idf, sparse, sklearn defaults", it, f"{t_t:.1f} s")
    b.add("baseline", "0.6 · Jaccard + 0.4 · tf-idf", im, f"{t_m:.1f} s")
    rnd = np.array([np.random.default_rng(i).choice(b.n - 1, K, replace=False) for i in range(b.n)])
    rnd = rnd + (rnd >= np.arange(b.n)[:, None])
    b.add("baseline", "random (one draw)", rnd, f"expected {K / (b.n - 1):.4f}")
    return {"jaccard": jac, "tfidf": tf, "tfidf_seconds": t_t, "tfidf_matrix": x}


def first_release(b: Bench, config: Config) -> None:
    """The compressed models as first released, fitted by today's code with the old settings."""
    m = config.models
    old = replace(
        config,
        models=replace(
            m,
            lsi=replace(m.lsi, dim=16, weighting="tfidf"),
            word2vec=replace(m.word2vec, dim=0),
            network=replace(m.network, dim=16),
        ),
    )
    for name, label in (
        ("lsi", "lsi, 16-d tf-idf (first release)"),
        ("word2vec", "word2vec, 8-d (first release)"),
        ("network", "network, 16-d (first release)"),
    ):
        e = fit_model(name, b.cat, old, SEED)
        b.add("first release", label, nbm.exact(e, K, b.tie).indices.astype(np.int64))


def models(b: Bench, config: Config) -> dict[str, Embedding]:
    out: dict[str, Embedding] = {}
    for name in (
        "jaccard",
        "lsi",
        "word2vec",
        "network",
        "text",
        "series",
        "colike",
        "hybrid",
        "deconvolution",
        "silencing",
    ):
        e, t_fit = timed(lambda name=name: fit_model(name, b.cat, config, SEED, deps=out))
        out[name] = e
        nb, t_nb = timed(lambda e=e: nbm.exact(e, K, b.tie))
        idx = nb.indices.astype(np.int64)
        label = {
            "hybrid": "similar titles = hybrid (series left out)",
            "series": "same series, every link as input",
        }.get(name, name)
        b.add("model", label, idx, f"fit {t_fit:.1f} s, neighbours {t_nb:.1f} s")
        if name == "text":
            b.add(
                "first release",
                "text, 64-d SVD of the same tf-idf (first release's reduction)",
                nbm.exact(Embedding("t", e.item_ids, e.vectors), K, b.tie).indices.astype(np.int64),
            )
        out[name + "/nb"] = nb  # type: ignore[assignment]
    return out


def series_heldout(b: Bench, config: Config) -> None:
    """Same series with the evaluated half of the franchise links removed from its input."""
    for half in ("validation", "test"):
        s, d = b.links(half)
        hidden = content.hide_links(b.cat, s, d)
        e = fit_model("series", hidden, config, SEED)
        idx = nbm.exact(e, K, b.tie).indices.astype(np.int64)
        fr = content.franchise_recall(idx, s, d)
        b.table.append(
            (
                "model",
                f"same series, {half} half of the links hidden",
                fr if half == "test" else None,
                None,
                fr if half == "validation" else None,
                None,
                f"franchise recall on the hidden {half} half",
            )
        )


def tune_hybrid(b: Bench, config: Config, embs: dict) -> None:
    """``matches`` recall of the hybrid's weights varied one at a time: a secondary reference
    (the weights are chosen on co-likes, ``bench_colike.py``); it must stay at Jaccard's level."""
    p0 = config.models.hybrid
    cat = b.cat
    B = cat.tag_matrix
    desc = hybrid_mod.SparseCosine(hybrid_mod.description_matrix(cat))
    exclude = embs["hybrid"].similarity.exclude

    def sim(p):
        g = hybrid_mod.group_weights(cat, p)
        terms = [(1.0, TagJaccard(B, g, p.tag_norm))] + ([(p.text_weight, desc)] if p.text_weight else [])
        if p.colike_weight:
            terms.append((p.colike_weight, embs["colike"].similarity))
        return Weighted(
            tuple(terms), bias=p.prior_weight * hybrid_mod.prior(cat.popularity, p.prior_quantile), exclude=exclude
        )

    grid = {
        "colike_weight": [0.0, 0.5, 1.0, 2.0, 4.0],
        "tag_norm": ["max", "jaccard"],
        "demographic_weight": [1.0, 2.0, 4.0],
        "content_weight": [1.0, 4.0, 8.0],
        "text_weight": [0.0, 0.05, 0.1, 0.2],
        "prior_weight": [0.0, 0.2, 0.4, 0.8],
        "prior_quantile": [0.1, 0.2, 0.4],
    }
    m0 = b.sample_scores(sim(p0), "validation", franchise_rows=False)[1]
    print(
        f"\nhybrid, validation half ({len(b.sample['validation'])} items), matches recall as a secondary "
        f"reference (weights are chosen on co-likes): defaults {m0:.4f}"
    )
    for key, values in grid.items():
        for v in values:
            if getattr(p0, key) == v:
                continue
            m = b.sample_scores(sim(replace(p0, **{key: v})), "validation", franchise_rows=False)[1]
            print(f"  {key} = {v!r:7}: {m:.4f}")
    t = b.sample_scores(sim(p0), "test", franchise_rows=False)[1]
    print(f"  defaults: test (sample) {t:.4f}")


def tune_series(b: Bench, config: Config) -> None:
    s, d = b.links("validation")
    hidden = content.hide_links(b.cat, s, d)
    e = fit_model("series", hidden, config, SEED)
    terms = list(e.similarity.terms)
    labels = list(e.similarity.labels)

    def score(ws):
        sim = Weighted(tuple((w, t) for w, (_, t) in zip(ws, terms)))
        return b.sample_scores(sim, "validation", hidden=(s, d))[0]

    base = [w for w, _ in terms]
    best, best_f = base, score(base)
    print(f"\nsame series, validation half hidden: defaults {dict(zip(labels, base))} -> franchise recall {best_f:.4f}")
    for k, lab in enumerate(labels):
        for mult in (0.0, 0.5, 2.0):
            ws = list(best)
            ws[k] = best[k] * mult
            if ws == best:
                continue
            f = score(ws)
            flag = ""
            if f > best_f + 0.003:
                best, best_f, flag = ws, f, "  <- better"
            print(f"  {lab} x {mult}: {f:.4f}{flag}")
    print(
        f"  chosen: {dict(zip(labels, best))} ({best_f:.4f}); defaults are "
        f"{'the chosen values' if best == base else 'NOT the chosen values'}"
    )


def sweep_dims(b: Bench, config: Config) -> None:
    print("\ndimensions on the validation half (sampled items: franchise recall, matches recall):")
    for weighting in ("tfidf", "binary"):
        for dim in (16, 32, 64, 96):
            lp = replace(config.models.lsi, dim=dim, weighting=weighting)
            c = replace(config, models=replace(config.models, lsi=lp))
            e = fit_model("lsi", b.cat, c, SEED)
            fr, mr = b.sample_scores(DenseCosine(e.vectors), "validation")
            print(f"  lsi {weighting:6} dim {dim:3} (kept {e.dim:3}): {fmt(fr)} {fmt(mr)}")
    for dim in (8, 16, 32, 64):
        c = replace(config, models=replace(config.models, word2vec=replace(config.models.word2vec, dim=dim)))
        e, t = timed(lambda c=c: fit_model("word2vec", b.cat, c, SEED))
        fr, mr = b.sample_scores(DenseCosine(e.vectors), "validation")
        print(f"  word2vec dim {dim:3}: {fmt(fr)} {fmt(mr)}  (fit {t:.1f} s)")
    for dim in (16, 32, 64, 96):
        c = replace(config, models=replace(config.models, network=replace(config.models.network, dim=dim)))
        e = fit_model("network", b.cat, c, SEED)
        fr, mr = b.sample_scores(DenseCosine(e.vectors), "validation")
        print(f"  network dim {dim:3} (kept {e.dim:3}): {fmt(fr)} {fmt(mr)}")
    m = config.models
    print(
        "  defaults: lsi",
        m.lsi.weighting,
        m.lsi.dim,
        "| word2vec",
        m.word2vec.dim,
        "| network",
        config.models.network.dim,
    )


def visitor(b: Bench, config: Config, embs: dict) -> None:
    """One liked title -> fold-in on the published vectors -> top 20 (rated title excluded)."""
    from mangarec import client
    from mangarec.foldin import fold_in, rank
    from mangarec.publish import build_payload

    rows = b.sample["test"][:1000]
    src, dst = b.links("test")
    keep = np.isin(src, rows)
    print(f"\nvisitor who likes one title ({len(rows)} test-half items; fold-in on the published, quantised vectors):")
    print(f"  {'vectors':58} {'franchise':>9} {'matches':>8}   own neighbour list: franchise, matches")
    old = replace(config, models=replace(config.models, lsi=replace(config.models.lsi, dim=16, weighting="tfidf")))
    cases = [
        ("lsi 16-d tf-idf, published as fitted (first release)", fit_model("lsi", b.cat, old, SEED), False),
        ("lsi (binary, full rank), unit rows", embs["lsi"], True),
        ("hybrid profile (unit tag block + prior coordinate)", embs["hybrid"], True),
    ]
    for label, emb, current in cases:
        fold = emb.foldin
        if current:
            doc = build_payload(b.cat, emb, reg=fold.reg, mode=fold.mode, build_date="bench")
            model = client.parse(doc)
            pos = np.array([model.index[i] for i in b.cat.ids])
            Y = model.vectors[pos]
        else:
            Y = np.asarray(emb.vectors, dtype=np.float64)
        top = np.full((b.n, K), -1, dtype=np.int64)
        for i in rows:
            x = fold_in(Y, [i], [1.0], fold.reg, fold.mode)
            top[i] = rank(Y, x, exclude=[i], tie_order=b.tie, n=K)[0]
        fr = content.franchise_recall(top, src[keep], dst[keep])
        mr = content.matches_recall(top, b.lists, rows)
        r = Y.shape[1]  # the visitor ranks by the dot product: so does "own"
        dot = Bilinear(Y, np.ones(r), np.zeros(r), np.zeros(b.n), clip=False)
        own = exact_topk(dot, K, b.tie)[0] if current else nbm.exact(emb, K, b.tie).indices
        if emb.model == "hybrid":
            own_full = embs["hybrid/nb"].indices
            note = (
                f"   dense profile {fmt(content.franchise_recall(own, src[keep], dst[keep]))}, "
                f"{fmt(content.matches_recall(own, b.lists, rows))}; full hybrid "
                f"{fmt(content.franchise_recall(own_full, src[keep], dst[keep]))}, "
                f"{fmt(content.matches_recall(own_full, b.lists, rows))}"
            )
        else:
            note = (
                f"   {fmt(content.franchise_recall(own, src[keep], dst[keep]))}, "
                f"{fmt(content.matches_recall(own, b.lists, rows))}"
            )
        print(f"  {label:58} {fmt(fr):>9} {fmt(mr):>8}{note}")


def speed(b: Bench, base: dict) -> None:
    """Our exact searches against simple baselines in the same process."""
    from mangarec.models._indirect import spectrum

    print("\nspeed:")
    x = base["tfidf_matrix"]
    rows = np.arange(0, b.n, max(1, b.n // 2000))[:2000]
    t0 = time.perf_counter()
    xt = x.T.tocsr()
    for r0 in range(0, len(rows), 200):
        r = rows[r0 : r0 + 200]
        s = (x[r] @ xt).toarray()
        s[np.arange(len(r)), r] = -np.inf
        np.argsort(-s, axis=1, kind="stable")[:, :K]
    t_full = (time.perf_counter() - t0) * b.n / len(rows)
    print(
        f"  sparse tf-idf neighbours, {b.n} titles: ours {base['tfidf_seconds']:.1f} s; blocked full sort of the "
        f"same scores {t_full:.1f} s (from {len(rows)} rows)"
    )
    n0 = 3000
    g = np.random.default_rng(5).choice(b.n, n0, replace=False)
    Bs = b.cat.tag_matrix[g].astype(np.float64)
    G = (Bs @ Bs.T).toarray()
    t0 = time.perf_counter()
    lam, V = np.linalg.eigh(G)
    _ = (V * (lam / (1 + lam))) @ V.T
    t_dense = time.perf_counter() - t0
    t0 = time.perf_counter()
    spectrum(b.cat.tag_matrix)
    t_svd = time.perf_counter() - t0
    hours = t_dense * (b.n / n0) ** 3 / 3600
    print(
        f"  deconvolution: dense eigh of G on {n0} items {t_dense:.1f} s -> {b.n} items ~{hours:.1f} h "
        f"(n³) and {b.n**2 * 8 / 2**30:.1f} GiB; the SVD of B for the whole catalog {t_svd:.2f} s "
        f"(+ the blocked search, in the table)"
    )


def colikes(path: str, tune: bool) -> None:
    """Co-like agreement where ratings exist (anime-recdb's cold-start titles, series left out):
    ``benchmarks/bench_colike.py``, in this same run."""
    from bench_colike import ColdStart, run

    from mangarec.loaders import load_catalog

    run(ColdStart(load_catalog([path]), Config()), tune=tune)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz"))
    ap.add_argument("--sample", type=int, default=3000, help="validation / test items sampled for searches")
    ap.add_argument("--no-tune", action="store_true", help="skip the weight searches")
    ap.add_argument("--no-sweep", action="store_true", help="skip the dimension sweeps")
    ap.add_argument(
        "--colikes",
        default=str(shared_data_dir() / "anime-recdb"),
        help="a catalog with ratings for the co-like agreement ('' to skip)",
    )
    args = ap.parse_args(argv)
    from mangarec.loaders import load_catalog

    t0 = time.perf_counter()
    cat = load_catalog([args.data])
    print(f"catalog: {len(cat)} titles ({time.perf_counter() - t0:.1f} s); registry: {', '.join(REGISTRY)}")
    config = Config()
    b = Bench(cat, args.sample)
    print(
        f"franchise links: {len(b.src)} ({int(b.val_link.sum())} validation, {int((~b.val_link).sum())} test); "
        f"reference lists: {len(b.lists)}"
    )
    base = baselines(b)
    first_release(b, config)
    embs = models(b, config)
    series_heldout(b, config)
    members = series_mod.members(cat, config.models.series)
    share = content.series_share(embs["hybrid/nb"].indices, members)
    print(f"\nsame-series titles in the similar-titles lists: {share:.4f} (of {b.n * K} entries)")
    print(
        f"\n| list | franchise recall@{K} (test half) | `matches` recall@{K} (test half) | franchise (all) "
        "| `matches` (all) | notes |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for group, name, ft, mt, fa, ma, note in b.table:
        print(f"| {name} ({group}) | {fmt(ft)} | {fmt(mt)} | {fmt(fa)} | {fmt(ma)} | {note} |")
    print(f"| random (expected) | {K / (b.n - 1):.4f} | {K / (b.n - 1):.4f} | | | |")
    visitor(b, config, embs)
    speed(b, base)
    if not args.no_tune:
        tune_hybrid(b, config, embs)
        tune_series(b, config)
    if not args.no_sweep:
        sweep_dims(b, config)
    if args.colikes:
        colikes(args.colikes, tune=not args.no_tune)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB; total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
