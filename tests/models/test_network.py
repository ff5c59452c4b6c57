"""Spectral embedding of the tag network, from the sparse item-tag matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.models import network
from mangarec.models.network import Params as NetworkParams


def random_b(n: int, t: int, density: float, seed: int) -> sp.csr_matrix:
    b = sp.random(n, t, density=density, format="csr", random_state=seed, dtype=np.float64)
    b.data[:] = 1.0
    return b


def dense_reference(b: sp.csr_matrix, k: int):
    """The definition: dense A = BBᵀ, N = D^-1/2 A D^-1/2, eigenvectors 2..k+1."""
    a = (b @ b.T).toarray()
    d = a.sum(axis=1)
    n_mat = a / np.sqrt(np.outer(d, d))
    w, u = np.linalg.eigh(n_mat)
    order = np.argsort(-w)
    w, u = w[order], u[:, order]
    psi = u[:, 1 : k + 1] * w[1 : k + 1] / np.sqrt(d)[:, None]  # diffusion map, t = 1
    return w, psi / np.linalg.norm(psi, axis=1, keepdims=True)


def test_matches_the_dense_definition_on_a_small_graph():
    b = random_b(60, 8, 0.4, 3)
    b = b[np.diff(b.indptr) > 0]  # every item has a tag
    b = sp.vstack([b, b[:10]]).tocsr()  # with duplicate rows
    w, psi = dense_reference(b, 4)
    assert w[0] == pytest.approx(1.0)  # the trivial eigenvalue
    items, tags, eig, info = network.spectral(b, 4, 0)
    np.testing.assert_allclose(eig, w[1:5], rtol=1e-9)
    # the same coordinates, up to the sign of each eigenvector
    signs = np.sign(np.sum(items * psi, axis=0))
    np.testing.assert_allclose(items, psi * signs, atol=1e-8)
    assert info["distinct_rows"] < b.shape[0]
    assert tags.shape == (8, 4)
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0)


def test_fit_wraps_spectral(two_clusters):
    emb = network.fit(two_clusters, NetworkParams(dim=4), 0)
    b = two_clusters.tag_matrix.toarray()
    items, _, _, _ = network.spectral(two_clusters.tag_matrix, 4, 0)
    np.testing.assert_allclose(emb.vectors, items.astype(np.float32), atol=1e-6)
    assert emb.tag_vectors.shape == (b.shape[1], 4)


def test_disconnected_components_are_kept_apart(two_clusters):
    # the graph has two components: σ = 1 twice; only the global trivial vector is removed
    _, _, eig, _ = network.spectral(two_clusters.tag_matrix, 3, 0)
    assert eig[0] == pytest.approx(1.0)
    assert eig[1] < 1.0 - 1e-9


def test_never_forms_the_dense_graph():
    """50k items x 80 tags: A would be 50k x 50k (20 GB of float64); B is ~2 MB."""
    b = random_b(50_000, 80, 0.06, 1)
    tracemalloc.start()
    try:
        items, tags, eig, _ = network.spectral(b, 16, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert items.shape == (50_000, 16) and tags.shape == (80, 16)
    assert np.isfinite(items).all()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_items_without_tags_are_zero():
    b = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0], [1, 0, 1]], dtype=float))
    items, _, _, _ = network.spectral(b, 1, 0)
    assert np.all(items[2] == 0) and np.isfinite(items).all()
