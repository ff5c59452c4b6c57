"""Title and explore pages: "Same series" apart from "Similar titles", formats, one work."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from site_helpers import make_result

from mangarec import neighbours
from mangarec.catalog import Catalog, Item, Related, make_tags
from mangarec.config import NeighboursSection
from mangarec.models import series
from mangarec.site import write_site


def catalog() -> Catalog:
    g = make_tags
    items = [
        Item(
            id="a-dn",
            title="Death Note",
            kind="anime",
            type="TV",
            tags=g({"genre": ["Mystery", "Thriller"]}),
            popularity=90,
            related=(Related(id="m-dn2", type="Sequel"),),
        ),
        Item(
            id="m-dn",
            title="Death Note",
            kind="manga",
            type="Manga",
            tags=g({"genre": ["Mystery", "Thriller"]}),
            popularity=80,
        ),
        Item(
            id="m-dn2",
            title="Death Note: Another",
            kind="manga",
            tags=g({"genre": ["Mystery"]}),
            popularity=20,
            related=(Related(id="a-dn", type="Prequel"),),
        ),
    ]
    items += [
        Item(
            id=f"x{k}",
            title=f"Other {chr(65 + k)}",
            kind="manga",
            tags=g({"genre": ["Mystery", "Drama"]}),
            popularity=float(50 - k),
        )
        for k in range(12)
    ]
    return Catalog(items=tuple(items))


def built(tmp_path):
    cat = catalog()
    result = make_result(cat, models=("lsi", "word2vec"))
    emb = series.fit(cat, series.Params(), 0, {})
    nb = neighbours.compute(emb, NeighboursSection(k=10), cat.tie_order, 0)
    result = replace(
        result,
        embeddings={**result.embeddings, "series": emb},
        neighbours={**result.neighbours, "series": nb},
        config=replace(result.config, site=replace(result.config.site, models=["lsi", "word2vec", "series"])),
    )
    out = tmp_path / "site"
    write_site(result, out)
    return cat, out


def test_title_page_has_same_series_apart_and_both_formats(tmp_path):
    cat, out = built(tmp_path)
    page = (out / "title" / "a-dn" / "index.html").read_text()
    head, rest = page.split('id="series-h"', 1)
    series_part, similar = rest.split('id="nb-h"', 1)
    assert "Same series" in series_part
    assert 'href="../m-dn/"' in series_part and 'href="../m-dn2/"' in series_part
    assert "../x0/" not in series_part  # not a member: not shown as the series
    assert 'aria-label="Same series"' not in similar  # no series column among the similar titles
    assert 'class="also">Also as <a href="../m-dn/">manga</a>' in head  # type "Manga" = kind: said once
    assert '<span class="kind">anime · TV</span>' in page or '<span class="kind">manga</span>' in page


def test_explore_shards_carry_formats_and_only_series_members(tmp_path):
    import json

    from mangarec.site.data_files import decode_positions

    cat, out = built(tmp_path)
    found = False
    names = json.loads((out / "data" / "maps" / "titles.json").read_text())
    for f in (out / "data" / "nb").glob("*.json"):
        d = json.loads(f.read_text())
        if "a-dn" in d["items"]:
            found = True
            series = decode_positions(d["items"]["a-dn"][4][d["models"].index("series")][0], d["w"])
            assert {names["ids"][q] for q in series} == {"m-dn", "m-dn2"}
            labels = {names["ids"][q]: names["kinds"][names["k"][q]] for q in series}
            assert labels["m-dn"] == "manga"
    assert found
    explore = (out / "explore" / "index.html").read_text()
    assert '"series": true' in explore.replace("&#34;", '"') or '"series":true' in explore.replace("&#34;", '"')


def test_single_kind_catalogs_show_only_types(tmp_path):
    cat = Catalog(items=tuple(replace(i, kind="manga") for i in catalog().items))
    from mangarec.site.prepare import Prepared

    prep = Prepared(make_result(cat, models=("lsi",)))
    assert prep.kind_labels[0] == "TV" and prep.kind_labels[1] == "" and np.all(np.array(prep.kind_labels[3:]) == "")
