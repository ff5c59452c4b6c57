"""Version 7's candidate lists (:mod:`mangarec.taste_lists`): exact from a float32 screen, the same
bits however the rows are grouped, and a night's lists equal to a cold search of the night's codes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import taste_lists as tl
from mangarec.kernel import lists_and_state


def _values(V: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Every value by the definition (:func:`tl._dot`), self at -inf: ``(m, m)``."""
    m = len(V)
    out = np.empty((m, m))
    for r in range(m):
        a = V[r] * w
        nz = np.flatnonzero(a)
        for c in range(m):
            out[r, c] = tl._dot(a, nz, V[c]) if c != r else -np.inf
    return out


def _reference(V: np.ndarray, weights: list[np.ndarray], need: int) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's ``need`` best columns by a stable sort of every value (ties to the lower column)."""
    idx, val = [], []
    for w in weights:
        K = _values(V, w)
        order = np.argsort(-K, axis=1, kind="stable")[:, :need]
        idx.append(order)
        val.append(np.take_along_axis(K, order, axis=1))
    return np.stack(idx), np.stack(val)


def _tied(seed: int, m: int, d: int, levels: int = 3, density: float = 0.3) -> np.ndarray:
    """Sparse rows of a few values each (a sea of equal sums) with duplicated rows."""
    rng = np.random.default_rng(seed)
    V = rng.integers(-levels, levels + 1, (m, d)) * (rng.random((m, d)) < density) / levels
    V[rng.choice(m, m // 4)] = V[rng.choice(m, m // 4)]
    return V.astype(np.float64)


def test_a_value_is_one_fused_multiply_add_a_term():
    """``_dot`` is the sum in increasing index, each term one correctly rounded ``a·b + s``
    (checked with exact rationals): the definition, not whatever a BLAS does."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        d = int(rng.integers(1, 40))
        a, v = rng.standard_normal(d) * 10.0 ** rng.integers(-8, 8, d), rng.standard_normal(d)
        a[rng.random(d) < 0.3] = 0.0
        s = 0.0
        for x, y in zip(a, v):
            if x != 0.0:
                s = float(Fraction(float(x)) * Fraction(float(y)) + Fraction(s))
        assert tl._dot(a, np.flatnonzero(a), v) == s


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(3, 60),
    d=st.integers(1, 12),
    need=st.integers(1, 12),
    anchors=st.integers(1, 2),
)
def test_top_lists_are_a_stable_sort_of_the_values(seed, m, d, need, anchors):
    V = _tied(seed, m, d)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(0.1, 2.0, d) for _ in range(anchors)]
    need = min(need, m - 1)
    idx, val = tl.top_lists(V, weights, need, block=int(rng.integers(1, 9)))
    want_i, want_v = _reference(V, weights, need)
    assert (idx == want_i).all() and (val == want_v).all()


def test_the_subsampled_bound_is_exact_on_a_wide_catalog():
    """Past :data:`tl.SUBSAMPLE_MIN_COLUMNS` the first bound comes from one column in eight; the
    lists still equal the sort of every value (rows with hundreds of equal values included)."""
    V = _tied(5, 2600, 6, levels=2, density=0.4)
    w = np.linspace(0.5, 1.5, 6)
    rows = np.random.default_rng(0).choice(2600, 40, replace=False)
    idx, val = tl.top_lists(V, [w], 31, rows)
    for i, r in enumerate(rows):
        a = V[r] * w
        nz = np.flatnonzero(a)
        k = np.array([tl._dot(a, nz, V[c]) if c != r else -np.inf for c in range(2600)])
        order = np.argsort(-k, kind="stable")[:31]
        assert (idx[0, i] == order).all() and (val[0, i] == k[order]).all()


def test_the_same_bits_however_the_rows_are_grouped():
    rng = np.random.default_rng(8)
    V = rng.standard_normal((300, 16)) * (rng.random((300, 16)) < 0.5)
    w = [rng.uniform(0.5, 2, 16), np.ones(16)]
    idx, val = tl.top_lists(V, w, 20)
    for block in (1, 7, 64):
        rows = np.sort(rng.choice(300, 50, replace=False))
        i2, v2 = tl.top_lists(V, w, 20, rows, block=block)
        assert (i2 == idx[:, rows]).all() and (val[:, rows].tobytes() == v2.tobytes())


def _codes(seed: int, m: int = 400, d: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = (rng.integers(-3, 4, (m, d)) * (rng.random((m, d)) < 0.4)).astype(np.int8)
    return codes, np.linspace(0.01, 0.02, d)


def _night(codes, scale, last, w):
    V = codes.astype(np.float64) * scale
    frame = tl.frame_of([str(i) for i in range(len(V))], w, 10, 11)
    return tl.update_lists(V, w, 11, last, frame), frame


@pytest.mark.parametrize("seed", range(6))
def test_a_night_equals_a_cold_search_of_its_codes(seed):
    """A few rows' codes change: the rows kept from last night and the rows ranked again give
    exactly a cold search's lists and values."""
    codes, scale = _codes(seed)
    w = [np.ones(codes.shape[1]), np.linspace(0.5, 2, codes.shape[1])]
    (idx, val, kept), frame = _night(codes, scale, None, w)
    assert kept == 0
    last = tl.ListState(frame, codes, scale, idx.astype(np.int32), val)
    rng = np.random.default_rng(seed + 100)
    night = codes.copy()
    for r in rng.choice(len(codes), 6, replace=False):
        night[r] = rng.integers(-3, 4, codes.shape[1]) * (rng.random(codes.shape[1]) < 0.5)
    (i2, v2, kept), _ = _night(night, scale, last, w)
    cold_i, cold_v = tl.top_lists(night.astype(np.float64) * scale, w, 11)
    assert 0 < kept < len(codes)
    assert (i2 == cold_i).all() and v2.tobytes() == cold_v.tobytes()


def test_a_changed_title_entering_an_unchanged_list_ranks_it_again():
    """Title ``c`` (in no list of ``r``'s) becomes ``r``'s twin: ``r``'s codes are unchanged, but
    its list must now hold ``c`` first. Left out of the screen, the night would keep ``r``'s old
    list."""
    codes, scale = _codes(1)
    w = [np.ones(codes.shape[1])]
    (idx, val, _), frame = _night(codes, scale, None, w)
    last = tl.ListState(frame, codes, scale, idx.astype(np.int32), val)
    r = next(r for r in range(len(codes)) if np.count_nonzero(codes[r]) >= 3)
    c = next(c for c in range(len(codes) - 1, 0, -1) if c not in idx[0, r] and r not in idx[0, c])
    night = codes.copy()
    night[c] = 3 * np.sign(codes[r])
    (i2, v2, kept), _ = _night(night, scale, last, w)
    assert c in i2[0, r] and c not in idx[0, r] and kept < len(codes) - 1
    cold_i, cold_v = tl.top_lists(night.astype(np.float64) * scale, w, 11)
    assert (i2 == cold_i).all() and v2.tobytes() == cold_v.tobytes()


def test_another_frame_keeps_nothing():
    codes, scale = _codes(2)
    V = codes.astype(np.float64) * scale
    w = [np.ones(codes.shape[1])]
    (rows, q, steps, floors), state, kept = lists_and_state(V, w, 10, codes=codes, scale=scale, frame="a")
    assert kept == 0
    again = lists_and_state(V, w, 10, codes=codes, scale=scale, frame="a", last=state)
    assert again[2] == len(codes) and all((x == y).all() for x, y in zip(again[0], (rows, q, steps, floors)))
    assert lists_and_state(V, w, 10, codes=codes, scale=scale, frame="b", last=state)[2] == 0
    ids = [str(i) for i in range(len(V))]
    f = tl.frame_of(ids, w, 10, 11)
    assert f != tl.frame_of(ids[::-1], w, 10, 11)  # the rows' order
    assert f != tl.frame_of(ids, [w[0] * 2], 10, 11)  # the kernel's weights
    assert f != tl.frame_of(ids, w, 12, 13)  # the count
    assert tl.frame_of(ids, w, 10, 11, scale) != tl.frame_of(ids, w, 10, 11, scale * 2)  # the files' meaning


def test_a_column_whose_step_moved_ranks_again_the_rows_that_use_it():
    """One title's new largest value in column 0 moves that column's step: the codes of the
    rows using column 0 may stay, their vectors do not; those rows (and the lists they can
    reach) are ranked again, the rest kept, and the night equals a cold search."""
    codes, scale = _codes(3)
    codes[10:, 0] = 0  # a rare column (a tag few titles have)
    w = [np.ones(codes.shape[1])]
    (idx, val, _), frame = _night(codes, scale, None, w)
    last = tl.ListState(frame, codes, scale, idx.astype(np.int32), val)
    moved = scale.copy()
    moved[0] *= 1.5
    (i2, v2, kept), _ = _night(codes, moved, last, w)
    cold_i, cold_v = tl.top_lists(codes.astype(np.float64) * moved, w, 11)
    assert (i2 == cold_i).all() and v2.tobytes() == cold_v.tobytes()
    assert 0 < kept <= len(codes) - np.count_nonzero(codes[:, 0])


def test_the_screen_margin_keeps_a_column_float32_ranks_too_low():
    """Column 21's value exceeds the others' by 0.18 of a float32 step at 1, but its screen value
    rounds below theirs: without the margin of ``2ε`` below the bound it would be dropped."""
    s = 2.0**-23
    V = np.zeros((22, 2))
    V[0] = (1.0, 1.0)
    V[1:21, 0] = 1 + 0.51 * s
    V[1:21, 1] = -0.2 * s - np.arange(20) * 1e-12
    V[21] = (1 + 0.49 * s, 0.0)
    screen = V[:1].astype(np.float32) @ V.T.astype(np.float32)
    assert screen[0, 21] < screen[0, 1]  # the float32 screen ranks it below
    idx, val = tl.top_lists(V, [np.ones(2)], 5, np.array([0]))
    assert idx[0, 0, 0] == 21
    want_i, want_v = _reference(V, [np.ones(2)], 5)
    assert (idx[0, 0] == want_i[0, 0]).all() and (val[0, 0] == want_v[0, 0]).all()
