"""The artefact cache: round trips, misses on any change, atomic writes."""
from __future__ import annotations

import numpy as np

from mangarec.cache import Cache, code_version, make_key
from mangarec.config import Config
from mangarec.embedding import Embedding, Map, Neighbours


def _emb():
    return Embedding(model="m", item_ids=("a", "b"), vectors=np.arange(4, dtype=np.float32).reshape(2, 2),
                     tag_ids=("t",), tag_vectors=np.ones((1, 2), np.float32), info={"x": 1})


def test_round_trip_of_every_result_type(tmp_path):
    c = Cache(tmp_path)
    e = _emb()
    n = Neighbours(model="m", item_ids=("a", "b"), indices=np.array([[1], [0]], np.int32),
                   scores=np.array([[0.5], [0.5]], np.float32), method="exact", info={"recall": None})
    mp = Map(model="m", item_ids=("a", "b"), xy=np.zeros((2, 2), np.float32))
    for key, value in (("e", e), ("n", n), ("m", mp), ("j", {"a": [1, 2]})):
        c.put(key * 64, value, seconds=1.5)
    e2 = Cache(tmp_path).get("e" * 64)
    assert e2.item_ids == e.item_ids and np.array_equal(e2.vectors, e.vectors) and e2.info == {"x": 1}
    assert np.array_equal(e2.tag_vectors, e.tag_vectors)
    n2 = Cache(tmp_path).get("n" * 64)
    assert n2.method == "exact" and np.array_equal(n2.indices, n.indices)
    assert Cache(tmp_path).get("m" * 64).tag_xy is None
    c3 = Cache(tmp_path)
    assert c3.get("j" * 64) == {"a": [1, 2]} and c3.seconds["j" * 64] == 1.5


def test_get_or_compute_counts_hits(tmp_path):
    calls = []
    c = Cache(tmp_path)
    for _ in range(3):
        c.get_or_compute("k" * 64, lambda: calls.append(1) or _emb())
    assert len(calls) == 1 and (c.hits, c.misses) == (2, 1)


def test_no_directory_stores_nothing():
    c = Cache(None)
    calls = []
    c.get_or_compute("k", lambda: calls.append(1) or 1)
    c.get_or_compute("k", lambda: calls.append(1) or 1)
    assert len(calls) == 2


def test_corrupt_entry_is_a_miss(tmp_path):
    c = Cache(tmp_path)
    c.put("z" * 64, _emb())
    meta, npz = c._paths("z" * 64)
    npz.write_bytes(b"garbage")
    assert Cache(tmp_path).get("z" * 64) is None
    assert not list(tmp_path.rglob(".tmp-*"))


def test_keys_change_with_params_and_are_stable():
    a = make_key("model", Config().models.lsi, 1)
    assert a == make_key("model", Config().models.lsi, 1)
    assert a != make_key("model", Config().models.word2vec, 1)
    assert a != make_key("model", Config().models.lsi, 2)
    assert len(code_version()) == 64


def test_dict_order_survives_the_round_trip(tmp_path):
    value = {"b": {"z": 1, "a": 2}, "a": [3]}
    Cache(tmp_path).put("o" * 64, value)
    back = Cache(tmp_path).get("o" * 64)
    assert list(back) == ["b", "a"] and list(back["b"]) == ["z", "a"]
