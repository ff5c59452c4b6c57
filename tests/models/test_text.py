"""Text model: two tf-idf fields kept sparse, ranked exactly; the SVD only for maps."""

from __future__ import annotations

import numpy as np
import pytest

from mangarec import neighbours
from mangarec.catalog import Catalog, Item, make_tags
from mangarec.models import text
from mangarec.models.text import Params as TextParams
from mangarec.similarity import SparseCosine


def cat(*specs: tuple[str, str, list[str]]) -> Catalog:
    return Catalog(
        items=tuple(
            Item(
                id=f"i{k}",
                title=title,
                kind="manga",
                description=desc,
                tags=make_tags({"genre": tags or ["Drama"]}),
                popularity=float(len(specs) - k),
            )
            for k, (title, desc, tags) in enumerate(specs)
        )
    )


def test_description_tokens_are_unicode_letters_without_stop_words():
    c = cat(
        ("Café Школа", "The café has 2024 robots_x and the школа school.", []),
        ("Школа café", "A school café; the robots and a 3rd school.", []),
        ("Other", "Nothing shared here", []),
    )
    d = text.description_matrix(c, min_df=2, max_df=1.0)
    assert d.shape == (3, 2)  # café and school are in two descriptions (школа and robots in one)
    np.testing.assert_allclose(np.sqrt(np.asarray(d.multiply(d).sum(axis=1)).ravel()), [1, 1, 0])


def test_title_field_counts_letters_not_digits():
    c = cat(("Naruto 2", "", []), ("Naruto", "", []), ("Other 2", "", []), ("X-Men", "", []), ("X", "", []))
    t = text.title_matrix(c)
    s = (t @ t.T).toarray()
    assert s[0, 1] == pytest.approx(1.0) and s[0, 2] == 0  # "2" is not a word
    assert s[3, 4] > 0  # one-letter words count


def test_title_weight_is_the_share_of_the_title_cosine():
    c = cat(
        ("Ghost house", "A ghost lives in the old house by the sea.", []),
        ("Ghost town", "Tennis players train every morning by the sea.", []),
        ("Sea", "Nothing of the kind.", []),
    )
    for w in (0.0, 0.3, 1.0):
        x, _ = text.text_matrix(c, TextParams(title_weight=w, min_df=1, max_df=1.0))
        t, d = text.title_matrix(c), text.description_matrix(c, 1, None, 1.0)
        expect = w * (t @ t.T).toarray() + (1 - w) * (d @ d.T).toarray()
        np.testing.assert_allclose((x @ x.T).toarray()[0, 1], expect[0, 1], atol=1e-6)


def test_item_without_description_is_its_title_alone():
    c = cat(("Ghost house", "", []), ("Ghost house 2", "A story.", []), ("Tennis", "A story.", []))
    x, facts = text.text_matrix(c, TextParams(min_df=1, max_df=1.0))
    assert facts["without_description"] == 1
    np.testing.assert_allclose(np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel()), 1.0, atol=1e-6)
    s = (x @ x.T).toarray()
    assert s[0, 1] > 0 and s[0, 2] == 0


def test_rare_names_link_a_series_where_the_svd_loses_them():
    """One shared rare name beats many shared common words."""
    common = "the young hero goes on a journey to save the kingdom and his friends"
    specs = [(f"Book {k}", f"{common} {'in the desert' if k % 2 else 'at sea'} chapter {k}", []) for k in range(40)]
    specs += [
        ("Zarathos Rising", f"{common} with zarathos the fire demon", []),
        ("Zarathos Returns", "zarathos the fire demon wakes again", []),
    ]
    c = cat(*specs)
    emb = text.fit(c, TextParams(min_df=1, max_df=1.0, dim=2), 1)
    assert isinstance(emb.similarity, SparseCosine)
    nb = neighbours.exact(emb, 1, c.tie_order)
    assert c.ids[nb.indices[40, 0]] == "i41" and c.ids[nb.indices[41, 0]] == "i40"
    assert emb.dim == 2  # the dense coordinates are only the map's


def test_fit_is_deterministic_and_reports_its_vocabulary(two_clusters):
    a = text.fit(two_clusters, TextParams(dim=64), 3)
    b = text.fit(two_clusters, TextParams(dim=64), 3)
    assert a.vectors.tobytes() == b.vectors.tobytes()
    assert (a.similarity.matrix != b.similarity.matrix).nnz == 0
    assert a.info["vocabulary"] > 0 and a.info["title_vocabulary"] > 0
    assert a.info["map_dim"] <= 24 and a.tag_vectors is None


def test_common_words_are_dropped_in_large_catalogs_only():
    docs = [(f"t{k}", f"story {'x' * (k % 7 + 2)} word{k % 50}", []) for k in range(400)]
    c = cat(*docs)
    kept = text.description_matrix(c, 1, None, 0.05).shape[1]
    every = text.description_matrix(c, 1, None, 1.0).shape[1]
    assert kept < every  # "story" (every item) and the 7 "xx…" words (57 items each) go
    small = cat(*docs[:20])  # a word in at most 20 items always stays
    kept, every = (text.description_matrix(small, 1, None, mdf).shape[1] for mdf in (0.05, 1.0))
    assert kept == every


def test_no_vocabulary_gives_a_zero_similarity():
    c = cat(("!", "2 3", []), ("?", "5", []))
    emb = text.fit(c, TextParams(), 0)
    assert emb.vectors.shape == (2, 1) and not emb.vectors.any()
    assert not emb.similarity.block(np.arange(2)).any()


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_title_weight_is_checked(bad):
    from mangarec.config import Config
    from mangarec.errors import ConfigError
    from mangarec.schema import build

    with pytest.raises(ConfigError, match="title_weight"):
        build(Config, {"models": {"text": {"title_weight": bad}}}, "", "site.toml")
