"""Neighbour search: exact against brute force, ties, NN-descent, recall, CSV output."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import topk_dense
from mangarec.config import NeighboursSection
from mangarec.embedding import Embedding, Neighbours
from mangarec.neighbours import approximate, compute, exact, recall
from mangarec.site.neighbour_csv import csv_bytes, write_csv


def _emb(vectors: np.ndarray, model: str = "t") -> Embedding:
    return Embedding(model, tuple(f"i{j}" for j in range(len(vectors))), np.asarray(vectors, dtype=np.float32))


def brute_force(vectors: np.ndarray, k: int, tie: np.ndarray, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """Reference: full sort of each row (all, or ``rows``) by (-cosine on the 2**-24 grid, tie
    order), self removed."""
    v = vectors.astype(np.float64)
    norm = np.linalg.norm(v, axis=1)
    u = np.divide(v, norm[:, None], out=np.zeros_like(v), where=norm[:, None] > 0)
    n = len(v)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    s = np.clip((np.rint((u[rows] @ u.T) * 2.0**24) / 2.0**24).astype(np.float32), -1, 1)
    same = np.all(u[rows][:, None, :] == u[None, :, :], axis=2) & (norm[rows] > 0)[:, None]
    s[same] = 1.0
    idx = np.empty((len(rows), k), dtype=np.int64)
    for r, i in enumerate(rows):
        others = np.delete(np.arange(n), i)
        order = others[np.lexsort((tie[others], -s[r, others]))]
        idx[r] = order[:k]
    return idx, np.take_along_axis(s, idx, axis=1)


def duplicated_data(rng: np.random.Generator, n: int, d: int, distinct: int) -> np.ndarray:
    """Integer-valued rows drawn from ``distinct`` prototypes: many exact duplicates and ties."""
    base = rng.integers(-2, 3, size=(distinct, d)).astype(np.float32)
    return base[rng.integers(0, distinct, size=n)]


@pytest.mark.parametrize("seed", range(6))
def test_exact_matches_brute_force_with_duplicates(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(30, 200)), int(rng.integers(2, 6))
    v = duplicated_data(rng, n, d, max(2, n // 3)) if seed % 2 == 0 else rng.normal(size=(n, d))
    tie = rng.permutation(n)
    k = int(rng.integers(1, 25))
    nb = exact(_emb(v), k, tie)
    ref_i, ref_s = brute_force(np.asarray(v, dtype=np.float32), k, tie)
    np.testing.assert_array_equal(nb.indices, ref_i)
    np.testing.assert_array_equal(nb.scores, ref_s)
    assert nb.indices.dtype == np.int32 and nb.scores.dtype == np.float32


def test_exact_subsample_threshold_and_small_blocks(monkeypatch):
    """The subsampled lower bound and multi-block path give the same answer as brute force."""
    monkeypatch.setattr(topk_dense, "SUBSAMPLE_MIN_COLUMNS", 8)  # the engine's dense path
    monkeypatch.setattr(topk_dense, "DENSE_BLOCK_ELEMENTS", 700)
    rng = np.random.default_rng(11)
    for n, distinct in ((250, 60), (250, 250), (120, 5)):
        v = duplicated_data(rng, n, 4, distinct)
        tie = rng.permutation(n)
        nb = exact(_emb(v), 12, tie)
        ref_i, ref_s = brute_force(v, 12, tie)
        np.testing.assert_array_equal(nb.indices, ref_i)
        np.testing.assert_array_equal(nb.scores, ref_s)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.integers(1, 4), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_exact_property_against_brute_force(n, d, k, seed):
    rng = np.random.default_rng(seed)
    v = duplicated_data(rng, n, d, max(1, n // 2))
    tie = rng.permutation(n)
    nb = exact(_emb(v), k, tie)
    ref_i, ref_s = brute_force(v, min(k, n - 1), tie)
    np.testing.assert_array_equal(nb.indices, ref_i)
    np.testing.assert_array_equal(nb.scores, ref_s)


def test_ties_broken_by_tie_order_and_duplicates_score_one():
    # items 0..4 identical, 5 and 6 identical to each other, 7 orthogonal
    v = np.array([[1, 1]] * 5 + [[1, 0]] * 2 + [[0, 0]], dtype=np.float32)
    v[7] = [-1, 1]
    tie = np.array([4, 0, 3, 1, 2, 6, 5, 7])
    nb = exact(_emb(v), 6, tie)
    # item 0's duplicates first, most popular (lowest tie order) first, then 6 before 5
    assert nb.indices[0].tolist() == [1, 3, 4, 2, 6, 5]
    assert nb.scores[0, :4].tolist() == [1.0] * 4
    assert nb.indices[1].tolist() == [3, 4, 2, 0, 6, 5]
    assert nb.indices[5].tolist()[:1] == [6] and nb.scores[5, 0] == 1.0
    # 6 and 5 tie for item 1 at cos 45 degrees
    assert nb.scores[1, 4] == nb.scores[1, 5]


def test_zero_vector_neighbours_are_most_popular_with_score_zero():
    v = np.array([[0, 0], [1, 0], [0, 1], [0, 0], [1, 1]], dtype=np.float32)
    tie = np.array([0, 3, 1, 4, 2])
    nb = exact(_emb(v), 3, tie)
    assert nb.indices[0].tolist() == [2, 4, 1]
    assert nb.scores[0].tolist() == [0.0, 0.0, 0.0]
    assert nb.indices[3].tolist() == [0, 2, 4] and nb.scores[3].tolist() == [0.0, 0.0, 0.0]
    assert nb.indices[1].tolist() == [4, 0, 2] and nb.scores[1, 1] == 0.0


def test_self_excluded_scores_non_increasing_large():
    """3000 items (subsample path with the default constants): invariants hold everywhere."""
    rng = np.random.default_rng(5)
    v = duplicated_data(rng, 3000, 6, 1400)
    v[:1500] += rng.normal(scale=0.01, size=(1500, 6)).astype(np.float32)
    tie = rng.permutation(3000)
    nb = exact(_emb(v), 20, tie)
    assert nb.indices.shape == (3000, 20)
    assert not np.any(nb.indices == np.arange(3000)[:, None])
    assert np.all(np.diff(nb.scores, axis=1) <= 0)
    srt = np.sort(nb.indices, axis=1)
    assert not np.any(srt[:, 1:] == srt[:, :-1])
    eq = np.diff(nb.scores, axis=1) == 0
    tie_rows = tie[nb.indices]
    assert np.all(np.diff(tie_rows, axis=1)[eq] > 0)
    sample = np.arange(0, 3000, 97)
    ref_i, ref_s = brute_force(v, 20, tie, rows=sample)
    np.testing.assert_array_equal(nb.indices[sample], ref_i)
    np.testing.assert_array_equal(nb.scores[sample], ref_s)


def test_k_is_capped_at_n_minus_one():
    nb = exact(_emb(np.eye(4)), 10, np.arange(4))
    assert nb.k == 3 and nb.info["k_capped_from"] == 10
    with pytest.raises(ValueError):
        exact(_emb(np.eye(1)), 3, np.arange(1))


def test_bad_vectors_rejected():
    v = np.ones((5, 2), dtype=np.float32)
    v[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        exact(_emb(v), 2, np.arange(5))
    with pytest.raises(ValueError, match="tie_order"):
        exact(_emb(np.ones((5, 2))), 2, np.arange(4))


def test_two_clusters_neighbours_stay_in_cluster(two_clusters):
    emb = Embedding("tags", two_clusters.ids, two_clusters.tag_matrix.toarray())
    nb = exact(emb, 8, two_clusters.tie_order)
    ids = np.array(two_clusters.ids)
    for i, iid in enumerate(two_clusters.ids):
        assert all(n[0] == iid[0] for n in ids[nb.indices[i]]), iid
        assert np.all(nb.scores[i] > 0)


def clustered(rng: np.random.Generator, n: int = 3000, d: int = 8, centres: int = 30) -> np.ndarray:
    c = rng.normal(size=(centres, d))
    v = c[rng.integers(0, centres, size=n)] + rng.normal(scale=0.15, size=(n, d))
    v[: n // 5] = v[n // 5 : 2 * (n // 5)]  # 20% exact duplicates
    return v.astype(np.float32)


@pytest.fixture(scope="module")
def case():
    """3,000 clustered vectors (20% duplicates), a tie order and their exact lists."""
    rng = np.random.default_rng(3)
    v = clustered(rng)
    tie = rng.permutation(len(v))
    emb = _emb(v)
    return emb, tie, exact(emb, 15, tie)


@pytest.fixture(scope="module")
def nnd_case(case):
    """``case`` with NN-descent's lists: pynndescent's numba import and first JIT cost ~1 min of
    CPU on a cold cache, so every test that uses it is ``slow`` (tests/conftest.py checks it)."""
    emb, tie, ex = case
    return emb, tie, approximate(emb, 15, tie, seed=1), ex


@pytest.mark.slow
def test_nndescent_recall_high_and_invariants(nnd_case):
    emb, tie, nb, ex = nnd_case
    n = len(emb.item_ids)
    assert nb.method == "nndescent" and nb.indices.shape == (n, 15)
    assert not np.any(nb.indices == np.arange(n)[:, None])
    assert np.all(np.diff(nb.scores, axis=1) <= 0)
    srt = np.sort(nb.indices, axis=1)
    assert not np.any(srt[:, 1:] == srt[:, :-1])
    # scores are the exact cosines of the listed pairs on the 2**-24 grid (identical rows: 1.0)
    u = emb.vectors.astype(np.float64) / np.linalg.norm(emb.vectors.astype(np.float64), axis=1)[:, None]
    cos = np.einsum("ij,ikj->ik", u, u[nb.indices])
    cos = np.clip((np.rint(cos * 2.0**24) / 2.0**24).astype(np.float32), -1, 1)
    same = np.all(emb.vectors[:, None, :] == emb.vectors[nb.indices], axis=2)
    np.testing.assert_array_equal(nb.scores, np.where(same, np.float32(1.0), cos))
    eq = np.diff(nb.scores, axis=1) == 0
    assert np.all(np.diff(tie[nb.indices], axis=1)[eq] > 0)
    r = recall(nb, emb, 500, seed=2)
    assert r >= 0.95
    overlap = np.mean([len(set(a) & set(b)) for a, b in zip(nb.indices, ex.indices)]) / 15
    assert overlap >= 0.95


def test_approximate_on_tiny_sets_is_exact():
    rng = np.random.default_rng(8)
    v = duplicated_data(rng, 60, 3, 20)
    v[5] = 0
    tie = rng.permutation(60)
    a, e = approximate(_emb(v), 6, tie, seed=0), exact(_emb(v), 6, tie)
    np.testing.assert_array_equal(a.indices, e.indices)
    np.testing.assert_array_equal(a.scores, e.scores)
    assert a.method == "nndescent" and a.info["exact_fallback_rows"] == a.info["distinct_vectors"]


@pytest.mark.slow
def test_nndescent_deterministic_for_a_seed(nnd_case):
    emb, tie, nb, _ = nnd_case
    again = approximate(emb, 15, tie, seed=1)
    np.testing.assert_array_equal(again.indices, nb.indices)
    np.testing.assert_array_equal(again.scores, nb.scores)


def test_recall_of_exact_is_one_and_of_damaged_lists_is_lower(case):
    emb, tie, ex = case
    assert recall(ex, emb, 300, seed=4) == 1.0
    damaged = ex.indices.copy()  # the last 5 columns replaced by random items
    rng = np.random.default_rng(0)
    damaged[:, 10:] = rng.integers(0, len(tie), size=(len(tie), 5))
    bad = Neighbours("t", ex.item_ids, damaged, ex.scores, "exact")
    r = recall(bad, emb, 300, seed=4)
    assert 10 / 15 - 0.02 <= r < 0.75


def test_compute_chooses_exact_and_reports(case):
    emb, tie, ex = case
    nb = compute(emb, NeighboursSection(k=15), tie, seed=9)
    assert nb.method == "exact" and nb.info["recall"] is None
    assert "exact_max_items" in nb.info["reason"] and nb.info["seconds"] >= 0
    np.testing.assert_array_equal(nb.indices, ex.indices)
    nb3 = compute(emb, NeighboursSection(k=15, method="exact", exact_max_items=10), tie, seed=9)
    assert nb3.method == "exact" and "configuration" in nb3.info["reason"]


@pytest.mark.slow  # NN-descent (numba)
def test_compute_chooses_nndescent_over_exact_max_items_and_reports_recall(case):
    emb, tie, _ = case
    small = NeighboursSection(k=15, exact_max_items=100, recall_sample=200)
    nb2 = compute(emb, small, tie, seed=9)
    assert nb2.method == "nndescent" and nb2.info["method"] == "nndescent"
    assert "3000 items > exact_max_items = 100" in nb2.info["reason"]
    assert 0.9 <= nb2.info["recall"] <= 1.0


def test_write_csv_header_rows_and_deterministic_bytes(tmp_path):
    v = np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0.001]], dtype=np.float32)
    nb = exact(_emb(v), 2, np.arange(4))
    a, b = tmp_path / "a" / "m.csv.gz", tmp_path / "b.csv.gz"
    write_csv(nb, a)
    write_csv(nb, b)
    raw = a.read_bytes()
    assert raw == b.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert raw[3] & 0x08 == 0  # no file name in the header
    text = gzip.decompress(raw).decode()
    assert text == csv_bytes(nb).decode()
    lines = text.splitlines()
    assert lines[0] == "item_id,rank,neighbour_id,score"
    assert len(lines) == 1 + 4 * 2
    assert lines[1].startswith("i0,1,i1,0.99")
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[1]) for r in rows] == [1, 2] * 4
    assert all(len(r[3].split(".")[1]) == 6 for r in rows)
    assert not any(r[3].startswith("-0.000000") for r in rows)
    assert not list(tmp_path.glob("**/*.tmp"))


# --------------------------------------------------------------------------------------------
# models with their own similarity; one work in several formats


def test_an_embedding_with_its_own_similarity_is_ranked_by_it():
    import scipy.sparse as sp

    from mangarec.similarity import TagJaccard

    B = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [1, 1, 1]], dtype=float))
    # vectors that would rank otherwise: the similarity decides
    emb = Embedding("j", tuple("abcd"), np.eye(4, dtype=np.float32), similarity=TagJaccard(B, np.ones(3)))
    nb = compute(emb, NeighboursSection(method="nndescent"), np.arange(4), 0)
    assert nb.method == "exact" and "own similarity" in nb.info["reason"] and nb.info["similarity"] == "tag-jaccard"
    assert nb.indices[0].tolist() == [3, 1, 2]  # J = 2/3, 1/2, 1/3
    np.testing.assert_allclose(nb.scores[0], [2 / 3, 1 / 2, 1 / 3], rtol=1e-6)
