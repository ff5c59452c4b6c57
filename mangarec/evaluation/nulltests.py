"""Null-model tests that can fail: does a model's neighbour list of a title find its true partners?

For a ground truth ``T`` (:mod:`.truths`) and a model's lists ``L`` (``(n, k)``), title ``i``
scores ``h_i = |L_i ∩ T_i|``. Two nulls give each title's expected score:

``random``
    ``k`` distinct other titles drawn uniformly: ``E[h_i] = k·|T_i| / (n − 1)`` (hypergeometric).
``popularity``
    lists drawn title by title as often as the model itself lists them (its in-degree
    ``w_j``: a hub stays a hub). Under this null title ``j`` is in a random list with
    probability ``w_j / n``, so ``E[h_i] = Σ_{j∈T_i} w_j / n``. This is exactly what a model
    with the right lists assigned to the wrong titles scores on average, so it separates "knows
    which titles go together" from "lists popular titles".

The test is paired over the titles that have a truth: ``d_i = h_i − E[h_i]``, one-sided
one-sample t-test of ``mean(d) > 0`` (the titles are many, so the mean is close to normal; the
test of a mean is right for these skewed, mostly-zero differences, where a signed-rank test
would test the median). A real model rejects at p < 0.01; the same lists shuffled across titles
do not (``tests/test_nulltests.py`` checks both).

:func:`agreement` is model-vs-model agreement: the mean per-title Jaccard of two models'
lists with a bootstrap 95 % interval over titles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import stats

from .jaccard import jaccard_rows
from .ranking import Interval, bootstrap

#: The nulls every model is tested against.
NULLS: tuple[str, ...] = ("random", "popularity")


@dataclass(frozen=True)
class NullTest:
    """One model against one null on one ground truth.

    ``observed`` is the mean hits per tested title, ``expected`` the null's mean, ``lift``
    their ratio, ``p_value`` the one-sided paired test, ``items`` how many titles were tested,
    ``recall`` the mean over them of ``h_i / min(k, |T_i|)`` (e.g. franchise recall).
    """

    truth: str
    null: str
    items: int
    observed: float
    expected: float
    lift: float
    t: float
    p_value: float
    recall: float


def hits(lists: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """``(n,)`` int64: how many of each title's listed neighbours are in its truth row."""
    T = sp.csr_matrix(truth, dtype=bool)
    n, k = lists.shape
    rows = np.repeat(np.arange(n), k)
    vals = np.asarray(T[rows, lists.ravel()]).reshape(n, k)
    return vals.sum(axis=1).astype(np.int64)


def expected_hits(lists: np.ndarray, truth: sp.csr_matrix, null: str) -> np.ndarray:
    """``(n,)`` float64: each title's expected hits under ``null`` (see the module docstring)."""
    T = sp.csr_matrix(truth, dtype=np.float64)
    T.setdiag(0.0)
    T.eliminate_zeros()
    n, k = lists.shape
    if null == "random":
        return k * np.diff(T.indptr) / max(n - 1, 1)
    if null == "popularity":
        w = np.bincount(lists.ravel(), minlength=n).astype(np.float64)
        return np.asarray(T @ (w / n)).ravel()
    raise ValueError(f"unknown null {null!r} (known: {', '.join(NULLS)})")


def null_test(lists: np.ndarray, truth: sp.csr_matrix, null: str, truth_name: str = "") -> NullTest:
    """The paired test of ``lists`` against ``null`` on ``truth`` (titles with a truth only)."""
    lists = np.asarray(lists, dtype=np.int64)
    T = sp.csr_matrix(truth, dtype=bool)
    has = np.diff(T.indptr) > 0
    h = hits(lists, T)[has].astype(np.float64)
    e = expected_hits(lists, T, null)[has]
    d = h - e
    if len(d) < 2 or float(np.std(d)) == 0.0:
        t, p = 0.0, 1.0 if float(np.mean(d)) <= 0 else 0.0
    else:
        res = stats.ttest_1samp(d, 0.0, alternative="greater")
        t, p = float(res.statistic), float(res.pvalue)
    obs, exp = float(h.mean()) if len(h) else 0.0, float(e.mean()) if len(e) else 0.0
    size = np.minimum(np.diff(T.indptr)[has], lists.shape[1])
    recall = float(np.mean(h / size)) if len(h) else 0.0
    return NullTest(
        truth=truth_name,
        null=null,
        items=int(has.sum()),
        observed=obs,
        expected=exp,
        lift=obs / exp if exp > 0 else (float("inf") if obs > 0 else 1.0),
        t=t,
        p_value=p,
        recall=recall,
    )


def model_tests(lists: np.ndarray, truths: Mapping[str, sp.csr_matrix]) -> list[NullTest]:
    """Every (truth, null) test of one model's lists."""
    return [null_test(lists, T, null, name) for name, T in truths.items() for null in NULLS]


@dataclass(frozen=True)
class Agreement:
    """Mean Jaccard of every pair of models' lists, with intervals over titles."""

    models: tuple[str, ...]
    mean: tuple[tuple[float, ...], ...]
    lo: tuple[tuple[float, ...], ...]
    hi: tuple[tuple[float, ...], ...]
    k: int


def agreement(lists: Mapping[str, np.ndarray], seed: int, resamples: int = 200) -> Agreement:
    """Model-vs-model Jaccard (diagonal 1) with bootstrap 95 % intervals over titles."""
    names = tuple(lists)
    m = len(names)
    mean, lo, hi = np.eye(m), np.eye(m), np.eye(m)
    for x in range(m):
        for y in range(x + 1, m):
            j = jaccard_rows(lists[names[x]], lists[names[y]])
            iv: Interval = bootstrap(j, np.random.default_rng([seed, x, y]), resamples)
            mean[x, y] = mean[y, x] = iv.mean
            lo[x, y] = lo[y, x] = iv.lo
            hi[x, y] = hi[y, x] = iv.hi
    ks = {v.shape[1] for v in lists.values()}
    as_t = lambda a: tuple(tuple(float(v) for v in row) for row in a)  # noqa: E731
    return Agreement(models=names, mean=as_t(mean), lo=as_t(lo), hi=as_t(hi), k=min(ks) if ks else 0)
