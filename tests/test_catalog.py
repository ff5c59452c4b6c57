"""Catalog types: tag matrix, tie order, fingerprint, subsets, validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Item, Ratings, make_tags
from mangarec.errors import InputError


def _item(i, tags, pop=0.0):
    return Item(id=i, title=f"T{i}", kind="manga", tags=make_tags({"genre": tags}), popularity=pop)


def test_make_tags_orders_groups_and_drops_empty():
    tags = make_tags({"theme": ["b", "a", "a"], "genre": ["x"], "content": [], "zzz": ["q"]})
    assert tags == (("genre", ("x",)), ("theme", ("a", "b")), ("zzz", ("q",)))


def test_tag_matrix_is_binary_and_aligned():
    c = Catalog(items=(_item("1", ["b", "a"]), _item("2", ["c"]), _item("3", ["a", "c"])))
    assert c.tag_vocabulary == ("a", "b", "c")
    m = c.tag_matrix.toarray()
    assert m.dtype == np.float32
    assert m.tolist() == [[1, 1, 0], [0, 0, 1], [1, 0, 1]]


def test_duplicate_ids_rejected_with_source():
    with pytest.raises(InputError, match="duplicate item id '1'") as e:
        Catalog(items=(_item("1", ["a"]), _item("1", ["b"])), sources=("x.jsonl",))
    assert "x.jsonl" in str(e.value)


def test_tie_order_popularity_then_id():
    c = Catalog(items=(_item("b", ["a"], 5), _item("a", ["a"], 5), _item("c", ["a"], 9)))
    assert c.tie_order.tolist() == [2, 1, 0]


def test_fingerprint_changes_with_content_and_ratings():
    items = (_item("1", ["a"]), _item("2", ["b"]))
    c1 = Catalog(items=items)
    assert c1.fingerprint == Catalog(items=items).fingerprint
    assert c1.fingerprint != Catalog(items=(_item("1", ["a"]), _item("2", ["c"]))).fingerprint
    r = Ratings(matrix=sp.csr_matrix(np.array([[1, 0]], dtype=np.float32)), user_ids=("u",))
    assert c1.fingerprint != Catalog(items=items, ratings=r).fingerprint


def test_subset_restricts_ratings_and_drops_empty_users():
    items = (_item("1", ["a"]), _item("2", ["b"]), _item("3", ["c"]))
    m = sp.csr_matrix(np.array([[5, 0, 0], [0, 3, 4]], dtype=np.float32))
    c = Catalog(items=items, ratings=Ratings(matrix=m, user_ids=("u1", "u2")))
    s = c.subset([2, 1])
    assert s.ids == ("3", "2")
    assert s.ratings.user_ids == ("u2",)
    assert s.ratings.matrix.toarray().tolist() == [[4, 3]]


def test_ratings_shape_must_match():
    with pytest.raises(ValueError):
        Catalog(
            items=(_item("1", ["a"]),), ratings=Ratings(matrix=sp.csr_matrix((1, 2), dtype=np.float32), user_ids=("u",))
        )


def test_id_pattern_refuses_a_trailing_newline_with_match_and_fullmatch():
    from mangarec.catalog import ID_PATTERN

    for ok in ("x5", "a-b_C9", "1" * 64):
        assert ID_PATTERN.fullmatch(ok) and ID_PATTERN.match(ok)
    for bad in ("x5\n", "x5\n\n", "\nx5", "", "1" * 65, "x/5", "..", "x5 "):
        assert not ID_PATTERN.fullmatch(bad) and not ID_PATTERN.match(bad), repr(bad)


def test_fingerprint_of_an_item_holding_a_lone_surrogate():
    """An Item built in code (the loaders clean them away) must not crash the fingerprint."""
    c = Catalog(items=(Item(id="1", title="T\ud800", kind="manga"),))
    assert len(c.fingerprint) == 64
    assert c.fingerprint != Catalog(items=(Item(id="1", title="T", kind="manga"),)).fingerprint


# --------------------------------------------------------------------------------------------
# one work in several formats


def test_work_of_groups_an_anime_and_its_manga():
    from mangarec.catalog import Catalog, Item, title_key

    items = (
        Item(id="a1", title="Death Note", kind="anime"),
        Item(id="m1", title="DEATH NOTE!", kind="manga"),
        Item(id="a2", title="Saint Seiya", kind="anime"),
        Item(id="a3", title="Saint Seiya", kind="anime"),  # same kind: a remake is another entry
        Item(id="m2", title="Knights of the Zodiac", kind="manga", alt_titles=("Saint Seiya",)),
        Item(id="m3", title="Tetsuwan Atom", kind="manga", alt_titles=("Astro Boy",)),
        Item(id="a4", title="Astro Boy", kind="anime"),
        Item(id="m4", title="Lonely", kind="manga"),
    )
    work = Catalog(items=items).work_of
    assert title_key("DEATH NOTE!") == title_key("Death Note") == "deathnote"
    assert work[0] == work[1] == 0
    assert work[2] == work[4] == 2 and work[3] == 3
    assert work[5] == work[6] == 5
    assert work[7] == 7


def test_matches_enter_the_fingerprint_only_when_present():
    from dataclasses import replace

    from mangarec.catalog import Catalog, Item, item_record

    it = Item(id="a", title="A", kind="manga")
    assert "matches" not in item_record(it)
    assert item_record(replace(it, matches=("b",)))["matches"] == ["b"]
    a, b = Catalog(items=(it,)), Catalog(items=(replace(it, matches=("b",)),))
    assert a.fingerprint != b.fingerprint
