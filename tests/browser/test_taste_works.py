"""taste.js on content vectors: one work in several formats is never recommended back, and a
visitor who likes one title gets the model's cosine ranking (ties to the more popular)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mangarec import client, neighbours, publish
from mangarec.catalog import Catalog, Item, make_tags
from mangarec.models import lsi
from tests.browser.test_taste_equivalence import HARNESS, _driver, _Server, copy_taste

pytestmark = pytest.mark.browser

RUN = """
const ratings = arguments[0], done = arguments[arguments.length - 1];
harness.ready.then(function () {
  const T = harness.taste;
  const top = T.rank(model, T.fit(model, ratings), {exclude: Object.keys(ratings), n: 10});
  done({top: top.map(function (e) { return e.id; })});
}).catch(function (e) { done({error: String(e && e.stack || e)}); });
"""


def _catalog() -> Catalog:
    g = np.random.default_rng(3)
    names = [f"T{t}" for t in range(10)]
    items = [
        Item(
            id="a-dn", title="Death Note", kind="anime", popularity=90.0, tags=make_tags({"genre": ["T0", "T1", "T2"]})
        ),
        Item(
            id="m-dn", title="Death Note", kind="manga", popularity=80.0, tags=make_tags({"genre": ["T0", "T1", "T2"]})
        ),
    ]
    items += [
        Item(
            id=f"m{k}",
            title=f"Title {k}",
            kind="manga",
            popularity=float(g.integers(0, 70)),
            tags=make_tags({"genre": list(g.choice(names, size=int(g.integers(1, 5)), replace=False))}),
        )
        for k in range(150)
    ]
    return Catalog(items=tuple(items))


def test_one_work_and_the_one_like_ranking(tmp_path):
    cat = _catalog()
    emb = lsi.fit(cat, lsi.Params(), 0)
    doc = publish.build_payload(cat, emb, reg=0.1, mode="explicit", build_date="2026-11-23")
    assert doc["works"] == [["a-dn", "m-dn"]]
    root = tmp_path / "site"
    root.mkdir()
    (root / "embeddings.json").write_bytes(publish.dumps(doc))
    shutil.copy(HARNESS, root / "taste_harness.html")
    copy_taste(root)
    model = client.parse(doc)
    nb = neighbours.exact(emb, 12, cat.tie_order)
    server = _Server(root)
    driver = _driver(tmp_path / "profile")
    try:
        driver.set_script_timeout(60)
        driver.get(server.base + "/taste_harness.html")
        out = driver.execute_async_script(RUN, {"a-dn": "like"})
        assert "error" not in out, out.get("error")
        assert "m-dn" not in out["top"] and "a-dn" not in out["top"]
        assert out["top"] == [i for i, _ in model.recommend({"a-dn": "like"}, n=10)]
        # without the work groups the other format would come first: it is the nearest title
        assert cat.ids[nb.indices[0, 0]] == "m-dn"
        b = cat.tag_matrix.toarray().astype(float)
        u = b / np.linalg.norm(b, axis=1, keepdims=True)
        cos = u @ u.T
        for liked in ("a-dn", "m7", "m42", "m99"):
            got = driver.execute_async_script(RUN, {liked: "like"})["top"]
            i = cat.index[liked]
            others = [j for j in range(len(cat)) if j != i and cat.work_of[j] != cat.work_of[i]]
            kth = np.sort(cos[i, others])[::-1][9]
            # every title shown is among the 10 most similar by cosine (any of equal ones)
            assert all(cos[i, cat.index[g]] >= kth - 1e-6 for g in got), liked
    finally:
        driver.quit()
        server.close()
