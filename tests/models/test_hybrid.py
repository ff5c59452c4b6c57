"""Hybrid of tags and text: the weighting and the fallback."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.catalog import Catalog
from mangarec.models import hybrid, lsi, text
from mangarec.models.lsi import Params as LSIParams
from mangarec.models.text import Params as TextParams
from mangarec.models.hybrid import Params as HybridParams


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@settings(max_examples=50, deadline=None)
@given(w=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_cosine_is_the_weighted_sum(w, seed):
    g = np.random.default_rng(seed)
    t, x = g.normal(size=(2, 5)), g.normal(size=(2, 7))
    h = hybrid.combine(t, x, np.array([True, True]), w)
    np.testing.assert_allclose(np.linalg.norm(h, axis=1), 1.0)
    assert _cos(h[0], h[1]) == pytest.approx(w * _cos(t[0], t[1]) + (1 - w) * _cos(x[0], x[1]), abs=1e-9)


def test_missing_description_falls_back_on_tags():
    g = np.random.default_rng(1)
    t, x = g.normal(size=(3, 4)), g.normal(size=(3, 6))
    h = hybrid.combine(t, x, np.array([False, True, False]), 0.25)
    np.testing.assert_allclose(h[0, :4], t[0] / np.linalg.norm(t[0]))
    assert not h[0, 4:].any()
    np.testing.assert_allclose(np.linalg.norm(h, axis=1), 1.0)
    assert _cos(h[0], h[2]) == pytest.approx(_cos(t[0], t[2]))
    assert _cos(h[0], h[1]) == pytest.approx(np.sqrt(0.25) * _cos(t[0], t[1]))


def test_items_without_tags_or_anything():
    t = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    x = np.array([[0.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    h = hybrid.combine(t, x, np.array([True, True, False]), 0.6)
    np.testing.assert_allclose(h[0], [0, 0, 0, 1])  # text only
    assert not h[2].any()


def test_fit_uses_given_embeddings(two_clusters):
    items = list(two_clusters.items)
    items[3] = replace(items[3], description="")
    c = Catalog(items=tuple(items))
    tags = lsi.fit(c, LSIParams(dim=4), 1)
    txt = text.fit(c, TextParams(dim=5), 1)
    h = hybrid.fit(c, HybridParams(tag_weight=0.7), 0, {"lsi": tags, "text": txt})
    assert h.dim == tags.dim + txt.dim
    assert h.info["tags_only"] == 1
    expect = hybrid.combine(tags.vectors, txt.vectors, np.array([bool(i.description) for i in c.items]), 0.7)
    np.testing.assert_allclose(h.vectors, expect.astype(np.float32))


def test_fit_rejects_embeddings_of_another_catalog(two_clusters):
    other = two_clusters.subset(range(10))
    tags = lsi.fit(other, LSIParams(dim=2), 1)
    with pytest.raises(ValueError, match="does not match"):
        hybrid.fit(two_clusters, HybridParams(), 0, {"lsi": tags, "text": text.fit(two_clusters, TextParams(), 1)})


def test_weight_one_is_the_tag_model(two_clusters):
    tags = lsi.fit(two_clusters, LSIParams(), 1)
    h = hybrid.fit(two_clusters, HybridParams(tag_weight=1.0), 0, {"lsi": tags, "text": text.fit(two_clusters, TextParams(), 1)})
    t = tags.vectors / np.linalg.norm(tags.vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(h.vectors[:, : tags.dim] @ h.vectors[:, : tags.dim].T, t @ t.T, atol=1e-5)
    assert not h.vectors[:, tags.dim :].any()
