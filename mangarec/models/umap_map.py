"""2-D maps of an embedding with UMAP, for the plots page.

UMAP (umap-learn) runs with ``n_components=2``, ``metric="cosine"`` and
``random_state=seed``, which makes it single-threaded and deterministic. It is fitted on the
**distinct** rows of the embedding only (MangaDex has ~19.6k distinct tag sets among 37.5k
titles): identical items get identical coordinates, UMAP does less work, and its
initialisation does not face blocks of duplicate points (spectral initialisation fails on
them; ``init = "pca"`` is the default). ``n_neighbors`` is clamped to ``distinct rows − 1``
for small catalogs. Rows that are all zero (items with no tags, for a tag model) are placed
at the centroid of the map, and so are zero tag vectors. Fewer than 4 distinct rows are laid
out by PCA instead.

The k-nearest-neighbour graph comes from :func:`mangarec.neighbours.exact` (exact,
deterministic, a few seconds at MangaDex scale) and UMAP's fuzzy simplicial set (McInnes et
al. 2018, section 3.1: per-point ``rho`` and ``sigma`` found by bisection so that the memberships
sum to ``log2(k)``, then the fuzzy union ``W + Wᵀ - W∘Wᵀ``) is computed here with vectorised
numpy, exactly as umap-learn's ``fuzzy_simplicial_set`` does for ``local_connectivity = 1``.
Only the layout (``umap.umap_.simplicial_set_embedding``, umap-learn's public function) runs
umap-learn's code. umap-learn's own NN-descent and its ``parallel=True`` numba kernels cannot
be cached by ``NUMBA_CACHE_DIR`` and cost minutes of compilation per process on this machine;
this path avoids them. A model's tag vectors are placed as UMAP's ``transform`` initialises new
points: at the similarity-weighted mean of the coordinates of the tag's ``n_neighbors`` most
similar items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..dedupe import unique_dense_rows
from ..embedding import Embedding, Map

if TYPE_CHECKING:
    from ..config import UMAPSection


def _knn_graph(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine kNN of distinct rows, self first, as UMAP expects.

    Returns ``(indices, distances)``, each ``(n, k)``: int64 and float32 cosine distances.
    """
    from ..neighbours import exact

    n = x.shape[0]
    emb = Embedding(model="umap-knn", item_ids=tuple(map(str, range(n))), vectors=x)
    nb = exact(emb, k - 1, np.arange(n, dtype=np.int64))
    idx = np.hstack([np.arange(n, dtype=np.int64)[:, None], nb.indices.astype(np.int64)])
    dist = np.hstack([np.zeros((n, 1), np.float32), np.maximum(1.0 - nb.scores, 0.0).astype(np.float32)])
    return idx, dist


def _fuzzy_graph(idx: np.ndarray, dist: np.ndarray, k: int, n_iter: int = 64) -> sp.coo_matrix:
    """UMAP's fuzzy simplicial set of a kNN graph (``local_connectivity = 1``, ``bandwidth = 1``).

    Parameters
    ----------
    idx, dist:
        ``(n, k)`` kNN indices (int) and distances (float), each row self first.

    Returns
    -------
    scipy.sparse.coo_matrix
        ``(n, n)`` float32 symmetric membership strengths.
    """
    n = idx.shape[0]
    d = dist[:, 1:].astype(np.float64)
    positive = np.where(d > 0, d, np.inf)
    rho = positive.min(axis=1)
    rho[~np.isfinite(rho)] = 0.0
    excess = np.maximum(d - rho[:, None], 0.0)
    target = np.log2(k)
    lo, hi, mid = np.zeros(n), np.full(n, np.inf), np.ones(n)
    active = np.ones(n, dtype=bool)
    for _ in range(n_iter):  # bisection on sigma, row by row as in umap-learn, vectorised
        psum = np.exp(-excess[active] / mid[active, None]).sum(axis=1)
        done = np.abs(psum - target) < 1e-5
        over = psum > target
        a_idx = np.flatnonzero(active)
        step = a_idx[~done]
        ov = over[~done]
        hi[step[ov]] = mid[step[ov]]
        lo[step[~ov]] = mid[step[~ov]]
        mid[step] = np.where(np.isinf(hi[step]), mid[step] * 2, (lo[step] + hi[step]) / 2)
        active[a_idx[done]] = False
        if not active.any():
            break
    floor = 1e-3 * np.where(rho > 0, dist.mean(axis=1), dist.mean())
    sigma = np.maximum(mid, floor)
    w = np.exp(-excess / sigma[:, None])
    rows = np.repeat(np.arange(n), k - 1)
    cols = idx[:, 1:].ravel()
    keep = cols != rows
    m = sp.csr_matrix((w.ravel()[keep].astype(np.float32), (rows[keep], cols[keep])), shape=(n, n))
    m.eliminate_zeros()
    t = m.T.tocsr()
    return (m + t - m.multiply(t)).tocoo()


def _layout(
    x: np.ndarray,
    graph: sp.coo_matrix,
    params: UMAPSection,
    seed: int,
    init: np.ndarray | None = None,
    epochs: int | None = None,
) -> np.ndarray:
    """2-D layout of ``graph`` by umap-learn's ``simplicial_set_embedding`` (from ``init``,
    ``(n, 2)``, for ``epochs`` when given; else from ``params.init`` for UMAP's default)."""
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    a, b = find_ab_params(1.0, params.min_dist)
    y, _ = simplicial_set_embedding(
        x,
        graph,
        2,
        1.0,
        a,
        b,
        1.0,
        5,
        epochs,
        params.init if init is None else init.astype(np.float32),
        np.random.RandomState(seed),
        "cosine",
        {},
        False,
        {},
        False,
        parallel=False,
        verbose=False,
    )
    return y


def _place(points: np.ndarray, data: np.ndarray, xy: np.ndarray, k: int) -> np.ndarray:
    """2-D positions of ``points`` (m, d): similarity-weighted mean of their k nearest rows' ``xy``."""
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)  # noqa: E731
    sim = unit(points.astype(np.float64)) @ unit(data.astype(np.float64)).T
    k = min(k, data.shape[0])
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    w = np.maximum(np.take_along_axis(sim, top, axis=1), 0.0) + 1e-9
    return (w[:, :, None] * xy[top]).sum(axis=1) / w.sum(axis=1, keepdims=True)


def _pca2(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    if x.shape[0] < 2 or not np.any(x):
        return np.zeros((x.shape[0], 2))
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    y = u[:, :2] * s[:2]
    return np.hstack([y, np.zeros((x.shape[0], 2 - y.shape[1]))])


def warm_start(
    emb_ids: tuple[str, ...], uniq: np.ndarray, inverse: np.ndarray, nonzero: np.ndarray, previous: Map, k: int
):
    """Initial positions ``(n_u, 2)`` of the distinct rows ``uniq`` from ``previous``: a row's
    position in the previous map (that of its first title the map holds), a row without one
    placed among its ``k`` nearest rows that have one; ``None`` when no title is in the previous map."""
    prev = {iid: xy for iid, xy in zip(previous.item_ids, np.asarray(previous.xy, dtype=np.float64))}
    items = np.flatnonzero(nonzero)
    init = np.full((uniq.shape[0], 2), np.nan)
    for pos, u in zip(items[::-1], inverse[::-1]):  # the first title of each row wins
        xy = prev.get(emb_ids[pos])
        if xy is not None:
            init[u] = xy
    known = ~np.isnan(init[:, 0])
    if not known.any():
        return None
    if not known.all():
        init[~known] = _place(uniq[~known], uniq[known], init[known], k)
    return init


def fit_map(emb: Embedding, params: UMAPSection, seed: int, previous: Map | None = None) -> Map:
    """2-D coordinates of every item (and tag) of an embedding.

    Parameters
    ----------
    emb:
        The model's embedding.
    params:
        ``[umap]`` section (``n_neighbors``, ``min_dist``, ``init``).
    seed:
        UMAP's ``random_state`` (and ``transform_seed``).
    previous:
        The previous build's map of the same model: with ``params.warm_epochs`` > 0, the layout
        starts from it (:func:`warm_start`) and runs ``warm_epochs`` epochs.

    Returns
    -------
    Map
        ``xy`` ``(n, 2)`` float32; ``tag_xy`` ``(T, 2)`` float32 when the embedding has tag
        vectors, else ``None``.
    """
    x = np.asarray(emb.vectors, dtype=np.float32)
    nonzero = np.linalg.norm(x, axis=1) > 0
    uniq, inverse = unique_dense_rows(x[nonzero])
    n_u = uniq.shape[0]
    info: dict = {"distinct_rows": int(n_u), "zero_rows": int((~nonzero).sum()), "init": params.init}
    n_neighbors = int(max(2, min(params.n_neighbors, n_u - 1)))
    if n_u >= 4:
        knn = _knn_graph(uniq, n_neighbors)
        init = None
        if previous is not None and params.warm_epochs > 0:
            init = warm_start(tuple(emb.item_ids), uniq, inverse, nonzero, previous, n_neighbors)
        epochs = params.warm_epochs if init is not None else None
        y = _layout(uniq, _fuzzy_graph(*knn, n_neighbors), params, int(seed) % (2**32), init, epochs)
        info.update({"n_neighbors": n_neighbors, "method": "umap", "knn": "exact"})
        if init is not None:
            info.update({"init": "previous map", "epochs": int(epochs or 0)})
    else:
        y = _pca2(uniq.astype(np.float64))
        info["method"] = "pca"
    y = np.asarray(y, dtype=np.float64)
    xy = np.zeros((x.shape[0], 2))
    xy[nonzero] = y[inverse]
    if (~nonzero).any():
        xy[~nonzero] = y.mean(axis=0) if n_u else 0.0
    tag_xy = None
    if emb.tag_vectors is not None and len(emb.tag_ids):
        tv = np.asarray(emb.tag_vectors, dtype=np.float32)
        tag_xy = np.tile(y.mean(axis=0) if n_u else np.zeros(2), (tv.shape[0], 1))
        live = np.linalg.norm(tv, axis=1) > 0  # a zero tag vector (idf 0) sits at the centroid
        if n_u and live.any():
            tag_xy[live] = _place(tv[live], uniq, y, n_neighbors)
    return Map(
        model=emb.model,
        item_ids=tuple(emb.item_ids),
        xy=np.ascontiguousarray(xy, dtype=np.float32),
        tag_ids=tuple(emb.tag_ids) if tag_xy is not None else (),
        tag_xy=None if tag_xy is None else np.ascontiguousarray(tag_xy, dtype=np.float32),
        info=info,
    )
