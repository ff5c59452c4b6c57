"""The onboarding's picks (mangarec.onboarding): tiny catalogs whose right picks are obvious."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.onboarding import choose, like_rates


def test_like_rates_are_the_share_of_users_who_like_each_title():
    likes = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=float))
    assert like_rates(likes, np.zeros(3)).tolist() == [0.75, 0.25, 0.25]
    # without ratings: popularity relative to the most popular title
    assert like_rates(None, np.array([10.0, 5.0, 0.0])).tolist() == [1.0, 0.5, 0.0]
    assert like_rates(None, np.zeros(2)).tolist() == [1.0, 1.0]


def test_a_second_pick_asks_something_new():
    """Titles 0 and 1 are the same direction; 2 is orthogonal: after 0 the next pick is 2, not its twin,
    even though the twin is liked a little more often than 2."""
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    weights = np.array([0.5, 0.45, 0.4, 0.0])
    tie = np.arange(4)
    assert choose(vectors, weights, tie, n=2, pool=2) == [0, 2]


def test_titles_nobody_likes_come_last():
    vectors = np.eye(4)
    weights = np.array([0.0, 0.3, 0.0, 0.6])
    assert choose(vectors, weights, np.arange(4), n=4, pool=1)[:2] == [3, 1]


def test_only_popular_titles_are_candidates():
    """The pool is the ``pool · n`` most popular: a much-liked obscure title is not asked about."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 4))
    weights = np.full(50, 0.1)
    weights[49] = 1.0
    tie = np.arange(50)  # title 49 is the least popular
    picks = choose(vectors, weights, tie, n=3, pool=5)
    assert 49 not in picks and all(p < 15 for p in picks)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_picks_are_distinct_popular_and_deterministic(n_items, n, seed):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n_items, 3))
    weights = rng.random(n_items)
    tie = rng.permutation(n_items)
    picks = choose(vectors, weights, tie, n=n)
    assert len(picks) == min(n, n_items) == len(set(picks))
    assert all(tie[p] < max(n, 10 * n) for p in picks)
    assert picks == choose(vectors.copy(), weights.copy(), tie.copy(), n=n)
