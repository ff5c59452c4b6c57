"""The artefact cache: round trips, misses on any change, atomic writes."""

from __future__ import annotations

import numpy as np

from mangarec.cache import Cache, code_version, make_key
from mangarec.config import Config
from mangarec.embedding import Embedding, Map, Neighbours


def _emb():
    return Embedding(
        model="m",
        item_ids=("a", "b"),
        vectors=np.arange(4, dtype=np.float32).reshape(2, 2),
        tag_ids=("t",),
        tag_vectors=np.ones((1, 2), np.float32),
        info={"x": 1},
    )


def test_round_trip_of_every_result_type(tmp_path):
    c = Cache(tmp_path)
    e = _emb()
    n = Neighbours(
        model="m",
        item_ids=("a", "b"),
        indices=np.array([[1], [0]], np.int32),
        scores=np.array([[0.5], [0.5]], np.float32),
        method="exact",
        info={"recall": None},
    )
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


import pytest  # noqa: E402


def _corrupt(how: str, meta, npz) -> None:
    if how == "truncated npz":
        npz.write_bytes(npz.read_bytes()[:40])
    elif how == "bit-flipped npz":
        raw = bytearray(npz.read_bytes())
        raw[len(raw) // 2] ^= 0x10
        npz.write_bytes(bytes(raw))
    elif how == "json null":
        meta.write_text("null")
    elif how == "json list":
        meta.write_text("[]")
    elif how == "truncated json":
        meta.write_text(meta.read_text()[:10])
    elif how == "npz missing":
        npz.unlink()


@pytest.mark.parametrize(
    "how", ["truncated npz", "bit-flipped npz", "json null", "json list", "truncated json", "npz missing"]
)
@pytest.mark.build
def test_a_corrupt_entry_is_a_miss_recomputed_and_noted(tmp_path, how):
    key = "c" * 64
    Cache(tmp_path).put(key, _emb())
    meta, npz = Cache(tmp_path)._paths(key)
    _corrupt(how, meta, npz)
    c = Cache(tmp_path)
    assert c.get(key) is None
    assert len(c.notes) == 1 and "corrupt" in c.notes[0] and "recomputed" in c.notes[0]
    value = c.get_or_compute(key, _emb)
    assert np.array_equal(value.vectors, _emb().vectors)
    fresh = Cache(tmp_path)
    assert np.array_equal(fresh.get(key).vectors, _emb().vectors) and fresh.notes == []  # rewritten


@pytest.mark.build
def test_a_cache_that_cannot_be_written_is_a_note(tmp_path, monkeypatch):
    import errno

    import mangarec.cache as cache_mod

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod, "atomic_write", full)
    c = Cache(tmp_path)
    assert c.get_or_compute("d" * 64, _emb).item_ids == ("a", "b")
    c.put("e" * 64, _emb())
    assert c.notes == [
        f"cache {tmp_path} cannot be written (No space left on device): this build's results are not cached"
    ]


@pytest.mark.build
def test_a_build_over_a_corrupt_cache_succeeds(tmp_path):
    from mangarec.cli import main

    args = ["build", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "--limit", "25", "-q"]
    assert main(args) == 0
    for p in (tmp_path / "c").rglob("*.npz"):
        p.write_bytes(b"not a zip")
    for p in list((tmp_path / "c").rglob("*.json"))[:3]:
        p.write_text("null")
    assert main([*args, "--force"]) == 0
    assert (
        main(["build", "--out", str(tmp_path / "o2"), "--cache-dir", str(tmp_path / "c"), "--limit", "25", "-q"]) == 0
    )
