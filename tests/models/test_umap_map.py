"""2-D maps with UMAP: shape, determinism, duplicates, small catalogs."""

from __future__ import annotations

import numpy as np
import pytest

from mangarec.config import UMAPSection
from mangarec.embedding import Embedding, Map
from mangarec.models import lsi
from mangarec.models.lsi import Params as LSIParams
from mangarec.models.umap_map import fit_map


@pytest.fixture(scope="module")
def blobs() -> Embedding:
    """120 items in three direction clusters, with exact duplicate rows and two tags."""
    g = np.random.default_rng(0)
    centres = np.eye(6)[:3] * 5
    x = np.vstack([c + g.normal(scale=0.3, size=(30, 6)) for c in centres])
    x = np.vstack([x, x[:30]]).astype(np.float32)  # 30 duplicates
    ids = tuple(f"i{k}" for k in range(len(x)))
    tags = np.vstack([centres[:2], np.zeros((1, 6))]).astype(np.float32)  # "z" is all zero
    return Embedding("blobs", ids, x, tag_ids=("a", "b", "z"), tag_vectors=tags)


@pytest.mark.slow
def test_shape_dtype_and_tags(blobs):
    m = fit_map(blobs, UMAPSection(n_neighbors=10), 7)
    assert isinstance(m, Map)
    assert m.xy.shape == (120, 2) and m.xy.dtype == np.float32 and np.isfinite(m.xy).all()
    assert m.item_ids == blobs.item_ids and m.model == "blobs"
    assert m.tag_ids == ("a", "b", "z") and m.tag_xy.shape == (3, 2) and m.tag_xy.dtype == np.float32
    assert np.isfinite(m.tag_xy).all()
    np.testing.assert_allclose(m.tag_xy[2], m.xy[:90].astype(np.float64).mean(axis=0), rtol=1e-4, atol=1e-4)
    assert m.info["distinct_rows"] == 90 and m.info["method"] == "umap"
    # duplicates share coordinates; clusters stay apart
    np.testing.assert_array_equal(m.xy[90:], m.xy[:30])
    centre = [m.xy[k * 30 : (k + 1) * 30].mean(axis=0) for k in range(3)]
    spread = max(np.linalg.norm(m.xy[k * 30 : (k + 1) * 30] - centre[k], axis=1).mean() for k in range(3))
    assert min(np.linalg.norm(centre[i] - centre[j]) for i in range(3) for j in range(i + 1, 3)) > 2 * spread
    # a tag lands next to its cluster
    assert np.linalg.norm(m.tag_xy[0] - centre[0]) < np.linalg.norm(m.tag_xy[0] - centre[1])


@pytest.mark.slow  # two UMAP fits in a fresh process each (87 s under load)
def test_deterministic(blobs):
    a = fit_map(blobs, UMAPSection(n_neighbors=10), 7)
    b = fit_map(blobs, UMAPSection(n_neighbors=10), 7)
    assert a.xy.tobytes() == b.xy.tobytes()
    assert a.tag_xy.tobytes() == b.tag_xy.tobytes()


@pytest.mark.slow  # umap-learn: numba's import and first JIT (~1 min of CPU, cold cache)
def test_small_catalog_clamps_n_neighbors(two_clusters):
    emb = lsi.fit(two_clusters, LSIParams(), 1)
    m = fit_map(emb, UMAPSection(n_neighbors=50), 3)
    assert m.info["n_neighbors"] == m.info["distinct_rows"] - 1 < 50
    assert m.xy.shape == (24, 2) and np.isfinite(m.xy).all()
    assert m.tag_xy.shape == (len(emb.tag_ids), 2)


def test_zero_rows_and_tiny_inputs():
    x = np.array([[1, 0], [0, 1], [0, 0], [1, 0]], dtype=np.float32)
    emb = Embedding("tiny", ("a", "b", "c", "d"), x)
    m = fit_map(emb, UMAPSection(), 1)
    assert m.info["method"] == "pca" and m.info["zero_rows"] == 1
    assert m.xy.shape == (4, 2) and np.isfinite(m.xy).all() and m.tag_xy is None
    np.testing.assert_array_equal(m.xy[0], m.xy[3])


@pytest.mark.slow
def test_fuzzy_graph_equals_umap_learns_fuzzy_simplicial_set():
    """Our vectorised fuzzy simplicial set is umap-learn's, on the same exact kNN graph."""
    import scipy.sparse as sp
    from umap.umap_ import fuzzy_simplicial_set

    from mangarec.models.umap_map import _fuzzy_graph, _knn_graph

    x = np.random.default_rng(3).normal(size=(300, 6)).astype(np.float32)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    idx, dist = _knn_graph(x, 10)
    ours = _fuzzy_graph(idx, dist, 10).tocsr()
    theirs, _, _ = fuzzy_simplicial_set(x, 10, 0, "cosine", knn_indices=idx, knn_dists=dist)
    theirs = sp.csr_matrix(theirs)
    assert (ours != 0).sum() == (theirs != 0).sum()
    assert np.abs((ours - theirs).toarray()).max() < 1e-5


@pytest.mark.slow  # umap-learn: numba's import and first JIT (~1 min of CPU, cold cache)
def test_warm_start_keeps_the_previous_layout_and_places_new_titles(blobs):
    """A warm map starts from the previous coordinates: with few epochs, the titles stay near
    where they were (a cold map with another seed lands elsewhere), and a new title lands in its
    cluster."""
    from dataclasses import replace

    params = UMAPSection(n_neighbors=10)
    prev = fit_map(blobs, params, 7)
    g = np.random.default_rng(1)
    new_row = (np.eye(6)[1] * 5 + g.normal(scale=0.3, size=6)).astype(np.float32)  # a cluster-1 title
    night = replace(blobs, item_ids=(*blobs.item_ids, "new"), vectors=np.vstack([blobs.vectors, new_row]))
    warm = fit_map(night, replace(params, warm_epochs=20), 8, previous=prev)
    cold = fit_map(night, params, 8)
    assert warm.info["init"] == "previous map" and warm.info["epochs"] == 20 and cold.info["init"] == "pca"

    def moved(m: Map) -> float:
        a = m.xy[:120].astype(np.float64)
        b = prev.xy.astype(np.float64)
        a, b = a - a.mean(0), b - b.mean(0)  # compare shapes: translation and scale left out
        return float(np.linalg.norm(a / np.linalg.norm(a) - b / np.linalg.norm(b)))

    assert moved(warm) < 0.5 * moved(cold)
    centre = [warm.xy[k * 30 : (k + 1) * 30].mean(axis=0) for k in range(3)]
    assert int(np.argmin([np.linalg.norm(warm.xy[-1] - c) for c in centre])) == 1
    # without warm_epochs the previous map is ignored: the build does not depend on the cache
    assert fit_map(night, params, 8, previous=prev).xy.tobytes() == cold.xy.tobytes()
