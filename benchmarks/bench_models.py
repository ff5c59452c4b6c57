"""Fit every model on the full MangaDex v3 SFW catalog; print seconds, peak RSS and ratios.

Usage: ``python3 benchmarks/bench_models.py [--umap MODEL] [--no-umap] [--limit N]``

Baselines run in the same process:
- LSI and the network fitted without de-duplication (every row), to show what fitting on
  the distinct tag sets saves;
- the dense ``A = B Bᵀ`` the MangaDex study formed, on a sample of ``--dense-sample`` items,
  against the sparse spectral fit on the same sample (and the dense size extrapolated to the
  full catalog).

Peak RSS is the process's high-water mark (``resource.getrusage``), so it only grows.
Targets: all models + one UMAP well within the 3-minute / 4 GB budget of a whole build.
"""

from __future__ import annotations

import argparse
import html
import json
import lzma
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec.catalog import Catalog, Item, make_tags  # noqa: E402
from mangarec.config import Config  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402

GROUPS = ("demographic", "content", "format", "genre", "theme")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _local_load(path: Path, limit: int | None) -> Catalog:
    """Minimal reader used only when ``mangarec.loaders`` is unavailable."""
    items = []
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("is_r18") or {"Smut", "Sexual Violence"} & set(r.get("content") or ()):
                continue
            tags = make_tags({g: r.get(g) or () for g in GROUPS})
            if not tags:
                continue
            desc = re.sub(r"\[/?[^\]]*\]", " ", html.unescape(r.get("description") or ""))
            items.append(
                Item(
                    id=str(r["id"]),
                    title=html.unescape(r["title"]),
                    kind="manga",
                    tags=tags,
                    description=desc.strip(),
                    popularity=float(r.get("rating") or 0),
                )
            )
            if limit and len(items) >= limit:
                break
    return Catalog(items=tuple(items), sources=(str(path),))


def load(limit: int | None) -> tuple[Catalog, str]:
    path = shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz"
    try:
        from mangarec.loaders import load_catalog
    except ImportError:
        return _local_load(path, limit), "local reader"
    return load_catalog([str(path)], limit=limit), "mangarec.loaders"


_LAST_CPU = [0.0]


def timed(fn, *a, **kw):
    """``(result, wall seconds)``; the CPU seconds of the call are left in ``_LAST_CPU[0]``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    _LAST_CPU[0] = time.process_time() - c
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--umap", default="lsi", help="model whose UMAP map is timed")
    ap.add_argument("--no-umap", action="store_true")
    ap.add_argument(
        "--umap-baseline", action="store_true", help="also fit UMAP on every row (no de-duplication) for comparison"
    )
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--dense-sample", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    from mangarec.models import REGISTRY, fit_model, fit_order, lsi, network

    config = Config()
    t0 = time.perf_counter()
    catalog, how = load(args.limit)
    b = catalog.tag_matrix
    n_distinct = len({tuple(i.tag_list) for i in catalog.items})
    print(
        f"catalog: {len(catalog)} items, {b.shape[1]} tags, {n_distinct} distinct tag sets, "
        f"{sum(1 for i in catalog.items if not i.description.strip())} without description "
        f"({how}, {time.perf_counter() - t0:.1f} s)"
    )
    print(f"{'model':<14} {'dim':>4} {'seconds':>8} {'CPU s':>8} {'peak RSS MB':>12}")
    embs = {}
    total = 0.0
    for name in fit_order(REGISTRY):
        if name == "als" and catalog.ratings is None:
            print(f"{'als':<10}    - (no ratings in this catalog)")
            continue
        emb, sec = timed(fit_model, name, catalog, config, args.seed, embs)
        total += sec
        embs[name] = emb
        assert emb.vectors.shape[0] == len(catalog) and np.isfinite(emb.vectors).all()
        print(
            f"{name:<14} {emb.dim:>4} {sec:>8.2f} {_LAST_CPU[0]:>8.2f} {peak_rss_mb():>12.0f}"
            + (f"   (ranks by {emb.similarity.kind})" if emb.similarity is not None else "")
        )
    print(f"all models: {total:.2f} s")

    # Baselines: no de-duplication (every row is its own distinct row).
    import mangarec.dedupe as dd

    def no_dedupe(m):
        m = sp.csr_matrix(m)
        return m, np.arange(m.shape[0], dtype=np.int64), np.ones(m.shape[0], dtype=np.int64)

    for name, mod in (("lsi", lsi), ("network", network)):
        params = getattr(config.models, name)
        _, fast = timed(mod.fit, catalog, params, 1)
        orig = mod.unique_rows
        mod.unique_rows = no_dedupe
        try:
            slow_emb, slow = timed(mod.fit, catalog, params, 1)
        finally:
            mod.unique_rows = orig
        same = np.allclose(np.abs(slow_emb.vectors), np.abs(mod.fit(catalog, params, 1).vectors), atol=1e-4)
        print(
            f"{name} without dedupe: {slow:.2f} s vs {fast:.2f} s with (ratio {slow / max(fast, 1e-9):.2f}x), "
            f"same vectors: {same}"
        )
    del dd

    # Baseline: dense A = B Bᵀ (the study's approach) on a sample, vs the sparse fit.
    k = min(args.dense_sample, len(catalog))
    sample = b[:k].astype(np.float64)
    (dense_emb, dense_s) = timed(_dense_spectral, sample, config.models.network.dim)
    _, sparse_s = timed(network.spectral, sample, config.models.network.dim, 1)
    full_gib = len(catalog) ** 2 * 8 / 2**30
    print(
        f"network on {k} items: dense A=BBᵀ + eigh {dense_s:.2f} s ({k * k * 8 / 2**30:.2f} GiB for A) vs "
        f"sparse SVD {sparse_s:.3f} s (ratio {dense_s / max(sparse_s, 1e-9):.0f}x); dense A for all "
        f"{len(catalog)} items would need {full_gib:.1f} GiB"
    )
    del dense_emb

    if not args.no_umap:
        from mangarec.models.umap_map import fit_map

        m, sec = timed(fit_map, embs[args.umap], config.umap, args.seed)
        print(
            f"umap ({args.umap}, {m.info.get('distinct_rows')} distinct rows, first call, includes numba JIT): "
            f"{sec:.2f} s ({_LAST_CPU[0]:.1f} s CPU), peak RSS {peak_rss_mb():.0f} MB"
        )
        m, sec = timed(fit_map, embs[args.umap], config.umap, args.seed + 1)
        print(f"umap again (JIT done): {sec:.2f} s ({_LAST_CPU[0]:.1f} s CPU), peak RSS {peak_rss_mb():.0f} MB")
        if args.umap_baseline:
            import umap

            r = umap.UMAP(
                n_components=2,
                metric="cosine",
                n_neighbors=config.umap.n_neighbors,
                min_dist=config.umap.min_dist,
                init=config.umap.init,
                random_state=args.seed,
                n_jobs=1,
            )
            _, base = timed(r.fit_transform, embs[args.umap].vectors)
            print(
                f"umap on every row ({len(catalog)}): {base:.2f} s ({_LAST_CPU[0]:.1f} s CPU; ratio "
                f"{base / max(sec, 1e-9):.2f}x the de-duplicated fit)"
            )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


def _dense_spectral(b: sp.csr_matrix, dim: int) -> np.ndarray:
    """The baseline: dense A, degrees, dense symmetric eigensolver of D^-1/2 A D^-1/2."""
    from scipy.linalg import eigh

    a = (b @ b.T).toarray()
    d = a.sum(axis=1)
    dinv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
    a *= dinv[:, None]
    a *= dinv[None, :]
    n = a.shape[0]
    _, vecs = eigh(a, subset_by_index=[n - dim - 1, n - 1])
    return vecs


if __name__ == "__main__":
    main()
