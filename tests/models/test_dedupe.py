"""Distinct rows of sparse and dense matrices."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.dedupe import unique_dense_rows, unique_rows


def _check(m, unique, inverse, counts):
    assert (abs(unique[inverse] - m)).nnz == 0
    assert counts.sum() == m.shape[0]
    rows = {tuple(r) for r in unique.toarray().tolist()}
    assert len(rows) == unique.shape[0]
    first = [int(np.flatnonzero(inverse == k)[0]) for k in range(unique.shape[0])]
    assert first == sorted(first)  # order of first occurrence
    np.testing.assert_array_equal(counts, np.bincount(inverse))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=40))
def test_binary_rows(rows):
    m = sp.csr_matrix(np.array(rows, dtype=np.float32))
    _check(m, *unique_rows(m))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=4, max_size=4), min_size=1, max_size=30))
def test_weighted_rows_take_the_general_path(rows):
    m = sp.csr_matrix(np.array(rows))
    _check(m, *unique_rows(m))


def test_both_paths_agree():
    m = sp.random(500, 12, density=0.2, format="csr", random_state=0)
    m.data[:] = 1.0
    m = sp.vstack([m, m[::3]]).tocsr()
    u1, i1, c1 = unique_rows(m)
    u2, i2, c2 = unique_rows(m * 2.0)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(c1, c2)
    assert u1.shape[0] < m.shape[0]


def test_dense_rows():
    x = np.array([[1, 2], [3, 4], [1, 2], [0, 0], [3, 4]], dtype=np.float32)
    u, inv = unique_dense_rows(x)
    np.testing.assert_array_equal(u, [[1, 2], [3, 4], [0, 0]])
    np.testing.assert_array_equal(inv, [0, 1, 0, 2, 1])
