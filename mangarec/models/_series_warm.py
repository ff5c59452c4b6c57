"""The series model's pairwise parts on a warm night: last night's, updated where the day reached.

The hop scores and the membership (:mod:`._series_rule`) are ``n × n`` relations whose cold
computation walks every component of the link graph and multiplies every title row with every
other. A night changes a few titles; so:

* **hops** (:func:`warm_hops`): a component of tonight's link graph none of whose titles gained
  or lost a link (removed titles' neighbours lost one) is a component of last night's graph with
  the same links, so its hop scores are last night's; the other components are walked again.
  The result is :func:`._series_rule.hop_scores` of tonight's graph, exactly.
* **members** (:func:`warm_members`): a pair is in one series when linked within ``max_hops``,
  of one work, or of near-equal titles. Tonight's links and works are known for every pair;
  title similarity is computed for the changed titles' rows (a product of those rows with every
  title) and for the pairs of unchanged titles that were members last night and are neither
  linked nor of one work tonight (their title rows did not change: a pair that was not a member
  last night has no near-equal titles tonight). Each pair's dot product is summed as scipy's
  product sums it, so the threshold decides as in :func:`._series_rule.members`.

``tests/models/test_series_warm.py`` compares both with a full computation after random nights.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..pair_dots import pair_dots
from ._series_rule import Rule, hop_scores, link_graph


def remap(m: sp.csr_matrix, to_new: np.ndarray, n: int) -> sp.csr_matrix:
    """``(n, n)`` csr: the pairs of ``m`` (last night's positions) at tonight's positions
    (``to_new``: tonight's position of each of last night's titles, ``-1`` when removed)."""
    c = sp.coo_matrix(m)
    r, k = to_new[c.row], to_new[c.col]
    keep = (r >= 0) & (k >= 0)
    return sp.csr_matrix((c.data[keep], (r[keep], k[keep])), shape=(n, n))


def warm_hops(previous: sp.csr_matrix, to_new: np.ndarray, catalog: Catalog, max_hops: int) -> sp.csr_matrix:
    """Tonight's :func:`._series_rule.hop_scores` from last night's ``previous`` (its positions;
    ``to_new`` as :func:`remap`): the components holding a title whose links changed are walked
    again (a removed title's neighbours lost a link), the others keep last night's scores."""
    n = len(catalog)
    graph = link_graph(catalog)
    old = remap(previous, to_new, n)
    links = sp.csr_matrix((old == 1.0).astype(np.float64))  # one hop: last night's graph
    moved = np.zeros(n, dtype=bool)
    diff = sp.csr_matrix(abs(graph - links))
    moved[np.flatnonzero(np.diff(diff.indptr))] = True
    gone = sp.csr_matrix(previous)[np.flatnonzero(to_new < 0)].tocoo()  # a removed title's neighbours
    linked = to_new[gone.col[gone.data == 1.0]]
    moved[linked[linked >= 0]] = True
    if not moved.any():
        return old
    fresh = hop_scores(graph, max_hops, only=moved).tocoo()
    walked = moved.copy()
    walked[fresh.row] = True
    kept = old.tocoo()
    keep = ~walked[kept.row] & ~walked[kept.col]
    rows = np.concatenate([kept.row[keep], fresh.row])
    cols = np.concatenate([kept.col[keep], fresh.col])
    return sp.csr_matrix((np.concatenate([kept.data[keep], fresh.data]), (rows, cols)), shape=(n, n))


def warm_members(
    previous: sp.csr_matrix,
    to_new: np.ndarray,
    changed: np.ndarray,
    catalog: Catalog,
    rule: Rule,
    hops: sp.csr_matrix,
    titles: sp.csr_matrix,
) -> sp.csr_matrix:
    """Tonight's :func:`._series_rule.members` from last night's ``previous`` (its positions;
    ``to_new`` as :func:`remap`), tonight's ``hops`` and title rows; ``changed``: tonight's
    positions of the titles whose rows are new (new titles included)."""
    n = len(catalog)
    fresh = np.zeros(n, dtype=bool)
    fresh[np.asarray(changed, dtype=np.int64)] = True
    # linked or of one work tonight
    explained = sp.csr_matrix(hops > 0, dtype=np.float64)
    pr, pc = _same_group_pairs(catalog.work_of)
    explained = explained + sp.csr_matrix((np.ones(len(pr)), (pr, pc)), shape=(n, n))
    # the changed titles' rows (and columns) of title similarity
    t = sp.csr_matrix(titles)
    t.sort_indices()  # the full product's order (series.update sorts its rows)
    c_rows = np.flatnonzero(fresh)
    sim = sp.csr_matrix(t[c_rows] @ t.T)
    sim.data = (sim.data >= rule.title_threshold - 1e-9).astype(np.float64)
    sim.eliminate_zeros()
    sc = sim.tocoo()
    cr, cc = c_rows[sc.row], sc.col
    # last night's members between unchanged titles, neither linked nor of one work tonight
    old = remap(previous, to_new, n).tocoo()
    both = ~fresh[old.row] & ~fresh[old.col]
    orr, occ = old.row[both], old.col[both]
    open_ = np.asarray(explained[orr, occ]).ravel() == 0
    orr, occ = orr[open_], occ[open_]
    near = pair_dots(t, orr, occ) >= rule.title_threshold - 1e-9
    rows = np.concatenate([cr, cc, orr[near]])
    cols = np.concatenate([cc, cr, occ[near]])
    m = explained + sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    m = sp.csr_matrix(m > 0, dtype=np.float64)
    m.setdiag(0)
    m.eliminate_zeros()
    return m


def _same_group_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of items sharing a group label (diagonal included)."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, len(g)])
    rows, cols = [], []
    for s, c in zip(starts[counts > 1], counts[counts > 1]):
        members = order[s : s + c]
        rows.append(np.repeat(members, c))
        cols.append(np.tile(members, c))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)
