"""Description model: tokenisation, fallback, SVD."""
from __future__ import annotations

import numpy as np

from mangarec.catalog import Catalog, Item, make_tags
from mangarec.models import text
from mangarec.models.text import Params as TextParams


def cat(*specs: tuple[str, str, list[str]]) -> Catalog:
    return Catalog(items=tuple(
        Item(id=f"i{k}", title=title, kind="manga", description=desc, tags=make_tags({"genre": tags}))
        for k, (title, desc, tags) in enumerate(specs)
    ))


def test_item_text_falls_back_on_tags():
    c = cat(("Alpha", "A long story.", ["Drama"]), ("Beta", "  ", ["Horror", "Mystery"]))
    assert text.item_text(c.items[0]) == ("Alpha\nA long story.", False)
    assert text.item_text(c.items[1]) == ("Beta\nHorror Mystery", True)


def test_tokenisation_is_unicode_aware_without_digits_or_stop_words():
    c = cat(
        ("Café Школа", "The café has 2024 robots_x and the школа school.", ["Drama"]),
        ("Школа café", "A school café; the robots and a 3rd school.", ["Drama"]),
        ("Other", "Nothing shared here", []),
    )
    x, words, fallback = text.vectorize(c, TextParams(min_df=2))
    assert fallback == 0
    assert "café" in words and "школа" in words and "school" in words
    # "robots_x" is not a word (underscore), so "robots" is in one document only
    assert not {"the", "and", "has", "a", "2024", "3rd", "rd", "robots_x", "x", "robots"} & set(words)
    assert "nothing" not in words  # min_df = 2
    assert x.shape == (3, len(words))
    np.testing.assert_allclose(np.linalg.norm(x.toarray()[:2], axis=1), 1.0)


def test_sublinear_tf():
    c = cat(("a", "ghost ghost ghost ghost house", []), ("b", "ghost house", []))
    x, words, _ = text.vectorize(c, TextParams(min_df=1))
    row = dict(zip(words, x.toarray()[0]))
    # both words are in both documents (equal idf): weights 1 + ln 4 and 1, then L2-normalised
    assert np.isclose(row["ghost"] / row["house"], 1 + np.log(4))


def test_fit_clamps_dim_and_groups_by_topic(two_clusters):
    emb = text.fit(two_clusters, TextParams(dim=64), 3)
    assert emb.dim <= emb.info["vocabulary"] and emb.dim < 64
    assert emb.tag_vectors is None
    assert emb.info["fallback"] == 0
    v = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    assert v[0] @ v[1] > 0.9 and abs(v[0] @ v[12]) < 0.5


def test_fallback_items_use_their_tags(two_clusters):
    from dataclasses import replace

    items = list(two_clusters.items)
    items[0] = replace(items[0], description="")
    c = Catalog(items=tuple(items))
    emb = text.fit(c, TextParams(), 3)
    assert emb.info["fallback"] == 1
    assert np.linalg.norm(emb.vectors[0]) > 0


def test_large_vocabulary_uses_the_seeded_randomized_solver():
    g = np.random.default_rng(0)
    letters = np.array(list("abcdefghij"))
    words = ["".join(g.choice(letters, 6)) for _ in range(3000)]
    docs = [(f"t{k}", " ".join(g.choice(words, 40)), []) for k in range(2500)]
    c = cat(*docs)
    a = text.fit(c, TextParams(dim=8, min_df=1), 1)
    assert a.info["solver"] == "randomized" and a.dim == 8
    b = text.fit(c, TextParams(dim=8, min_df=1), 1)
    assert a.vectors.tobytes() == b.vectors.tobytes()
    assert np.isfinite(a.vectors).all()


def test_no_vocabulary_gives_zero_vectors():
    c = cat(("x", "1 2 3", []), ("y", "4 5", []))
    emb = text.fit(c, TextParams(), 0)
    assert emb.vectors.shape == (2, 1) and not emb.vectors.any()
