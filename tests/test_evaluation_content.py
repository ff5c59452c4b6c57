"""Content evaluation: franchise recall, matches recall, halves, hidden links, co-likes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Item, Ratings, Related, make_tags
from mangarec.embedding import Neighbours
from mangarec.evaluation import content
from mangarec.report import from_jsonable, jsonable


def catalog(n=8):
    items = []
    for i in range(n):
        rel = []
        if i % 2 == 0 and i + 1 < n:
            rel = [Related(id=f"i{i + 1}", type="Sequel"), Related(id=f"i{(i + 3) % n}", type="Doujinshi")]
        items.append(
            Item(
                id=f"i{i}",
                title=f"t{i}",
                kind="manga",
                tags=make_tags({"genre": ["A"]}),
                related=tuple(rel),
                matches=tuple(f"i{(i + d) % n}" for d in (2, 3)) + ("i0",),
                popularity=float(n - i),
            )
        )
    return Catalog(items=tuple(items))


def lists(rows):
    idx = np.array(rows, dtype=np.int32)
    return Neighbours("m", tuple(f"i{i}" for i in range(len(rows))), idx, np.zeros(idx.shape, np.float32), "exact")


def test_franchise_links_are_of_franchise_kinds_only():
    c = catalog()
    src, dst = content.franchise_links(c)
    assert sorted(zip(src.tolist(), dst.tolist())) == [(0, 1), (2, 3), (4, 5), (6, 7)]


def test_reference_lists_drop_self_and_are_cut():
    c = catalog()
    ref = content.reference_lists(c, k=2)
    assert ref[0].tolist() == [2, 3] and ref[1].tolist() == [3, 4]  # "i0" is i0 itself: left out


def test_recalls_by_hand():
    src, dst = np.array([0, 1, 2]), np.array([1, 2, 0])
    idx = np.array([[1, 3], [0, 3], [3, 1]])
    assert content.franchise_recall(idx, src, dst) == pytest.approx(1 / 3)
    assert content.franchise_recall(idx, src[:0], dst[:0]) is None
    ref = {0: np.array([1, 2]), 2: np.array([3])}
    assert content.matches_recall(idx, ref) == pytest.approx((0.5 + 1.0) / 2)
    assert content.matches_recall(idx, ref, np.array([2])) == 1.0
    assert content.matches_recall(idx, {}) is None


def test_halves_are_fixed_and_keep_both_directions_together():
    src = np.array([0, 1, 2, 3, 5, 9])
    dst = np.array([1, 0, 3, 2, 9, 5])
    h = content.link_halves(src, dst, 7)
    assert (h == content.link_halves(src, dst, 7)).all()
    assert h[0] == h[1] and h[2] == h[3] and h[4] == h[5]
    many = content.item_halves(10000, 7)
    assert 0.45 < many.mean() < 0.55 and (many == content.item_halves(10000, 7)).all()
    assert (many != content.item_halves(10000, 8)).any()


def test_evaluate_shape_and_random_expectation():
    c = catalog()
    perfect = lists([[(i + 1) if i % 2 == 0 else (i - 1), (i + 2) % 8] for i in range(8)])
    rep = content.evaluate(c, {"m": perfect}, 42, k=2)
    m = rep.models["m"]
    assert m.franchise_recall.all == 1.0
    assert rep.random.franchise_recall == pytest.approx(2 / 7)
    assert rep.franchise_links is not None
    assert rep.franchise_links.validation + rep.franchise_links.test == 4
    # report.json's part: the typed figures as the same keys, and read back as they were written
    doc = jsonable(rep)
    assert list(doc) == ["k", "seed", "franchise_links", "reference_lists", "models", "random", "notes"]
    assert set(doc["models"]["m"]["franchise_recall"]) == {"validation", "test", "all"}
    back = from_jsonable(content.ContentFigures, json.loads(json.dumps(doc)))
    assert isinstance(back.models["m"].matches_recall, content.Halves) and jsonable(back) == doc


def test_a_random_list_is_near_the_expectation_and_a_good_one_far_above():
    """Checked both ways: chance-level lists score like chance, informative lists do not."""
    n, k = 3000, 20
    g = np.random.default_rng(0)
    src = np.arange(0, n, 2)
    dst = src + 1
    rnd = np.array([g.choice(n - 1, k, replace=False) for _ in range(n)])
    rnd += rnd >= np.arange(n)[:, None]
    r = content.franchise_recall(rnd, src, dst)
    assert abs(r - k / (n - 1)) < 0.01
    good = rnd.copy()
    good[src, 0] = dst
    assert content.franchise_recall(good, src, dst) == 1.0


def test_hide_links_removes_both_directions():
    c = catalog()
    hidden = content.hide_links(c, np.array([0]), np.array([1]))
    assert [r.id for r in hidden.items[0].related] == ["i3"]
    assert hidden.items[2].related == c.items[2].related
    src, _ = content.franchise_links(hidden)
    assert 0 not in src.tolist()


def test_series_share():
    m = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float))
    assert content.series_share(np.array([[1, 2], [2, 0], [0, 1]]), m) == pytest.approx(2 / 6)


def test_colike_lists():
    items = tuple(Item(id=f"i{i}", title="t", kind="anime", popularity=float(i)) for i in range(4))
    m = sp.csr_matrix(np.array([[9, 9, 0, 9], [9, 9, 0, 0], [9, 0, 9, 0]], dtype=np.float32))
    c = Catalog(items=items, ratings=Ratings(matrix=m, user_ids=("a", "b", "c")))
    co = content.colike_lists(c, k=2)
    assert co[0].tolist() == [1, 3] and co[1].tolist() == [0, 3]  # 0-1 liked together twice
    assert content.colike_lists(catalog()) == {}


def test_matches_recall_is_the_mean_of_each_item_s_listed_share_bit_for_bit():
    """The vectorised recall equals the per-item definition ``mean(isin(M_i, top_i))``
    exactly (the same float64 values averaged in the same order), duplicates and subsets included."""
    g = np.random.default_rng(7)
    n, k = 300, 10
    idx = np.stack([g.choice(n, k, replace=False) for _ in range(n)]).astype(np.int32)
    ref = {i: g.integers(0, n, g.integers(1, 25)).astype(np.int64) for i in range(n) if g.random() < 0.7}
    ref[3] = np.array([idx[3, 0], idx[3, 0], 299], dtype=np.int64)  # a repeated match counts twice
    for rows in (None, g.permutation(n)[:120]):
        keys = sorted(ref) if rows is None else [int(r) for r in rows if int(r) in ref]
        expect = float(np.mean([np.isin(ref[i], idx[i]).mean() for i in keys]))
        assert content.matches_recall(idx, ref, rows) == expect
