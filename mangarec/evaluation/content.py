"""Content evaluation: franchise recall, reference-list (``matches``) recall, co-like agreement.

Three questions a content model's top-k lists can be asked, each with a validation half (used to
choose weights) and a test half (reported), split with a fixed seed:

* **franchise recall@k**: the share of the catalog's own related links of franchise kinds
  (:data:`FRANCHISE_KINDS`: sequel, prequel, spin-off, side story, main story, same franchise,
  shared universe, alternate story) ``i → j`` with ``j`` in ``i``'s top k. Links are split into
  halves by unordered pair (a sequel and its prequel link fall in the same half).
* **``matches`` recall@k**: recall@k of the reference lists published with the data
  (``Item.matches``, MangaDex v3: another project's tf-idf + tag lists, which leave out a title's
  own series), each cut to its first ``k`` items in the catalog: ``|top_k ∩ M_i| / |M_i|``,
  averaged over items. Items are split into halves.
* **co-like agreement@k** (catalogs with ratings): recall@k of each item's ``k`` most co-liked
  items (users who like both; ties to the more popular).

:func:`evaluate` returns a :class:`ContentFigures` (frozen dataclasses, what ``report.json``'s
``evaluation.content`` holds and the models page reads)::

    {"k": 20, "seed": ..., "franchise_links": {"validation": 4774, "test": 4775},
     "reference_lists": {"validation": 17729, "test": 17729},
     "models": {name: {"franchise_recall": {"validation", "test", "all"},
                       "matches_recall": {"validation", "test", "all"}}},
     "random": {"franchise_recall": k/(n-1), "matches_recall": k/(n-1)}, "notes": [...]}

(``None`` where the catalog has no such links or lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..embedding import Neighbours
from ..seeds import derive_seed


@dataclass(frozen=True)
class Halves:
    """One recall on the validation half, the test half and all of the truth (``None``: the
    half is empty)."""

    validation: float | None
    test: float | None
    all: float | None


@dataclass(frozen=True)
class ContentRecall:
    """One model's recall@k of the two truths (``None`` where the catalog lacks the truth)."""

    franchise_recall: Halves
    matches_recall: Halves


@dataclass(frozen=True)
class HalfCounts:
    """How many links (or reference lists) each half holds."""

    validation: int
    test: int


@dataclass(frozen=True)
class RandomRecall:
    """The baseline: the expected recall@k of uniformly random lists, ``k / (n - 1)`` (``None``
    where the catalog lacks the truth)."""

    franchise_recall: float | None
    matches_recall: float | None


@dataclass(frozen=True)
class ContentFigures:
    """The content evaluation (``report.json``'s ``evaluation.content``): list length, the
    halves' seed, the truths' sizes per half (``None``: the catalog has no such truth), every
    model's recall, the random baseline and the protocol's notes."""

    k: int
    seed: int
    franchise_links: HalfCounts | None
    reference_lists: HalfCounts | None
    models: Mapping[str, ContentRecall]
    random: RandomRecall
    notes: tuple[str, ...]


#: Related-link kinds that tie two titles to one franchise (compared lower-cased).
FRANCHISE_KINDS: frozenset[str] = frozenset(
    {
        "sequel",
        "prequel",
        "spin-off",
        "side story",
        "main story",
        "same franchise",
        "shared universe",
        "alternate story",
    }
)
#: List length of the evaluation.
K = 20


#: The halves' fixed seed: the weights were chosen (``benchmarks/bench_content.py``) on the
#: validation halves this seed draws, so the build reports the test halves of the same split.
HALVES_SEED = 42


def franchise_links(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Distinct directed franchise links ``(src, dst)`` between catalog items, ``(L,)`` int64 each."""
    index = catalog.index
    pairs: set[tuple[int, int]] = set()
    for i, item in enumerate(catalog.items):
        for r in item.related:
            j = index.get(r.id)
            if j is not None and j != i and (r.type or "").strip().lower() in FRANCHISE_KINDS:
                pairs.add((i, j))
    arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def reference_lists(catalog: Catalog, k: int = K) -> dict[int, np.ndarray]:
    """``{item position: (≤ k,) int64}``: each item's ``matches`` in the catalog, first ``k``."""
    index = catalog.index
    out: dict[int, np.ndarray] = {}
    for i, item in enumerate(catalog.items):
        m = [index[x] for x in item.matches if x in index and index[x] != i][:k]
        if m:
            out[i] = np.array(m, dtype=np.int64)
    return out


def link_halves(src: np.ndarray, dst: np.ndarray, seed: int) -> np.ndarray:
    """``(L,)`` bool: the link is in the validation half (by unordered pair, fixed seed)."""
    n = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    pair, inverse = np.unique(a * max(n, 1) + b, return_inverse=True)
    draw = np.random.default_rng(derive_seed(seed, "content", "links")).random(len(pair)) < 0.5
    return draw[np.asarray(inverse).reshape(-1)]


def item_halves(n: int, seed: int) -> np.ndarray:
    """``(n,)`` bool: the item's reference list is in the validation half (fixed seed)."""
    return np.random.default_rng(derive_seed(seed, "content", "items")).random(n) < 0.5


def franchise_recall(indices: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float | None:
    """Share of links ``src → dst`` with ``dst`` among ``indices[src]`` (``None`` without links)."""
    if len(src) == 0:
        return None
    return float((np.asarray(indices)[src] == dst[:, None]).any(axis=1).mean())


def matches_recall(
    indices: np.ndarray, lists: Mapping[int, np.ndarray], rows: np.ndarray | None = None
) -> float | None:
    """Mean over items (``rows``, default all with a list) of ``|top ∩ M_i| / |M_i|``."""
    keys = sorted(lists) if rows is None else [int(r) for r in rows if int(r) in lists]
    if not keys:
        return None
    idx = np.asarray(indices)
    m = [lists[i] for i in keys]
    sizes = np.array([len(x) for x in m], dtype=np.int64)
    elem = np.concatenate(m).astype(np.int64)
    listed = (idx[np.repeat(np.asarray(keys, dtype=np.int64), sizes)] == elem[:, None]).any(axis=1)
    found = np.bincount(np.repeat(np.arange(len(keys)), sizes), weights=listed, minlength=len(keys))
    return float(np.mean(found / sizes))  # per item: the share of M_i listed, as isin(...).mean()


def series_share(indices: np.ndarray, members: sp.spmatrix) -> float:
    """Share of listed neighbours that are in the item's series (``members``: (n, n) 0/1)."""
    m = sp.csr_matrix(members)
    idx = np.asarray(indices, dtype=np.int64)
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    return float(np.asarray(m[rows, idx.ravel()]).ravel().astype(bool).mean()) if idx.size else 0.0


def hide_links(catalog: Catalog, src: np.ndarray, dst: np.ndarray) -> Catalog:
    """The catalog without the related links ``src → dst`` (both directions, any kind)."""
    ids = catalog.ids
    drop: dict[int, set[str]] = {}
    for a, b in zip(src.tolist(), dst.tolist()):
        drop.setdefault(a, set()).add(ids[b])
        drop.setdefault(b, set()).add(ids[a])
    items = tuple(
        replace(it, related=tuple(r for r in it.related if r.id not in drop[k])) if k in drop else it
        for k, it in enumerate(catalog.items)
    )
    return replace(catalog, items=items)


def colike_lists(catalog: Catalog, k: int = K, like_threshold: float = 8.0) -> dict[int, np.ndarray]:
    """Each item's ``k`` most co-liked items (ties to the more popular), ``{position: (≤ k,)}``."""
    r = catalog.ratings
    if r is None:
        return {}
    m = sp.csr_matrix(r.matrix)
    liked = (m.data > 0) if r.implicit else (m.data >= like_threshold)
    like = sp.csr_matrix((liked.astype(np.float64), m.indices, m.indptr), shape=m.shape)
    like.eliminate_zeros()
    co = (like.T @ like).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    tie = catalog.tie_order
    out: dict[int, np.ndarray] = {}
    for i in range(co.shape[0]):
        a, b = co.indptr[i], co.indptr[i + 1]
        if a == b:
            continue
        cols, vals = co.indices[a:b], co.data[a:b]
        out[i] = cols[np.lexsort((tie[cols], -vals))][:k].astype(np.int64)
    return out


def evaluate(catalog: Catalog, neighbours: Mapping[str, Neighbours], seed: int, k: int = K) -> ContentFigures:
    """Franchise and ``matches`` recall@k of every model, per half (see the module docstring)."""
    src, dst = franchise_links(catalog)
    val_link = link_halves(src, dst, seed) if len(src) else np.zeros(0, dtype=bool)
    lists = reference_lists(catalog, k)
    val_item = item_halves(len(catalog), seed)
    rows_val = np.array([i for i in lists if val_item[i]], dtype=np.int64)
    rows_test = np.array([i for i in lists if not val_item[i]], dtype=np.int64)
    models: dict[str, ContentRecall] = {}
    for name, nb in neighbours.items():
        idx = np.asarray(nb.indices)[:, :k]
        models[name] = ContentRecall(
            franchise_recall=Halves(
                validation=franchise_recall(idx, src[val_link], dst[val_link]),
                test=franchise_recall(idx, src[~val_link], dst[~val_link]),
                all=franchise_recall(idx, src, dst),
            ),
            matches_recall=Halves(
                validation=matches_recall(idx, lists, rows_val),
                test=matches_recall(idx, lists, rows_test),
                all=matches_recall(idx, lists),
            ),
        )
    n = len(catalog)
    rnd = k / (n - 1) if n > 1 else None
    return ContentFigures(
        k=k,
        seed=seed,
        franchise_links=HalfCounts(int(val_link.sum()), int((~val_link).sum())) if len(src) else None,
        reference_lists=HalfCounts(len(rows_val), len(rows_test)) if lists else None,
        models=models,
        random=RandomRecall(franchise_recall=rnd if len(src) else None, matches_recall=rnd if lists else None),
        notes=(
            f"Franchise links: related links of kinds {', '.join(sorted(FRANCHISE_KINDS))}, split in halves by "
            "unordered pair; a model's weights are chosen on the validation half and reported on the test half.",
            f"matches: the data's reference lists cut to their first {k} catalog items; items split in halves.",
            "random: the expectation for uniformly random lists, k / (n - 1).",
        ),
    )
