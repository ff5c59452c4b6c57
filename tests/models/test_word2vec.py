"""word2vec over tag sets."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from mangarec.models import word2vec
from mangarec.models.word2vec import Params as Word2VecParams
from mangarec.paths import ROOT


@pytest.mark.parametrize(
    "n_tags, dim",
    [(1, 1), (3, 2), (10, 4), (16, 4), (45, 8), (83, 8), (100, 8), (200, 16), (256, 16), (1000, 32)],
)
def test_power_of_two_dim(n_tags, dim):
    assert word2vec.power_of_two_dim(n_tags) == dim


def test_default_dim_follows_the_rule_and_explicit_dim_wins(two_clusters):
    assert len(two_clusters.tag_vocabulary) == 10
    assert word2vec.fit(two_clusters, Word2VecParams(dim=0, epochs=2), 1).dim == 4  # 0: sqrt rule
    assert word2vec.fit(two_clusters, Word2VecParams(epochs=2), 1).dim == 64  # the validated default
    assert word2vec.fit(two_clusters, Word2VecParams(dim=6, epochs=2), 1).dim == 6


def test_items_are_the_mean_of_their_tag_vectors(two_clusters):
    emb = word2vec.fit(two_clusters, Word2VecParams(epochs=3), 1)
    assert emb.tag_ids == two_clusters.tag_vocabulary
    idx = {t: k for k, t in enumerate(emb.tag_ids)}
    for k, item in enumerate(two_clusters.items):
        mean = emb.tag_vectors[[idx[t] for t in item.tag_list]].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(emb.vectors[k], mean, rtol=1e-5, atol=1e-7)


def test_identical_tag_sets_get_identical_vectors(two_clusters):
    emb = word2vec.fit(two_clusters, Word2VecParams(epochs=2), 1)
    seen = {}
    for k, item in enumerate(two_clusters.items):
        if item.tag_list in seen:
            assert emb.vectors[k].tobytes() == emb.vectors[seen[item.tag_list]].tobytes()
        seen.setdefault(item.tag_list, k)
    assert len(seen) < len(two_clusters)


def test_sentences_are_deterministic_shuffles(two_clusters):
    a = word2vec.sentences(two_clusters, 1)
    assert a == word2vec.sentences(two_clusters, 1)
    assert [sorted(s) for s in a] == [list(i.tag_list) for i in two_clusters.items]
    assert a != word2vec.sentences(two_clusters, 2)


def test_window_covers_the_largest_tag_set(two_clusters):
    emb = word2vec.fit(two_clusters, Word2VecParams(epochs=1), 1)
    assert emb.info["window"] == max(len(i.tag_list) for i in two_clusters.items)


def test_stable_hash_is_crc32():
    assert word2vec.stable_hash("Romance") == word2vec.stable_hash("Romance")
    assert word2vec.stable_hash("") == 0
    assert word2vec.stable_hash("a") == 0xE8B7BE43  # CRC-32 of b"a"


_CHILD = """
import hashlib, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from conftest import two_cluster_catalog
from mangarec.models import word2vec
e = word2vec.fit(two_cluster_catalog(), word2vec.Params(epochs=5), 11)
print(hashlib.sha256(e.vectors.tobytes() + e.tag_vectors.tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_reproducible_across_python_hash_seeds():
    code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"))
    digests = set()
    for hs in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hs)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1
    assert len(next(iter(digests))) == 64


def test_negative_zero_uses_hierarchical_softmax(two_clusters):
    emb = word2vec.fit(two_clusters, Word2VecParams(negative=0, epochs=2), 1)
    assert np.isfinite(emb.vectors).all() and np.abs(emb.vectors).sum() > 0
