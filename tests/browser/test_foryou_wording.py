"""For-you words what it fitted the visitor's taste from as the published model's spec declares
it (label; trained on ratings or on content), naming no model in the browser code (issue 21).

A rating-trained model under a name no code knows (a renamed copy of ALS's spec) gets the ratings
wording with its own label; a content model gets the embeddings wording with its label.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Server, assert_clean, open_page, wait_for

pytestmark = pytest.mark.browser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "site"))

TOY_LABEL = "Toy taste model <from ratings>"


def _site(tmp_path: Path, published: str) -> Path:
    """A 40-title catalog through the real loader and writer, publishing ``published`` (its
    hand-made vectors; the registry holds a renamed copy of ALS's spec as ``toyrate``)."""
    from site_helpers import make_result

    from mangarec.compact import CompactOptions
    from mangarec.loaders import load_catalog
    from mangarec.models import REGISTRY
    from mangarec.published import write_published
    from mangarec.site import write_site

    genres = ["Action", "Drama", "Comedy", "Romance", "Horror"]
    rows = [
        {
            "id": f"m{k}",
            "title": f"Title {k}",
            "kind": "manga",
            "tags": {"genre": [genres[k % 5], genres[(k // 5) % 5]]},
            "popularity": 100 - k,
        }
        for k in range(40)
    ]
    src = tmp_path / "catalog.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    catalog = load_catalog([f"generic:{src}"])
    out = tmp_path / "site"
    toy = replace(REGISTRY["als"], name="toyrate", label=TOY_LABEL)
    assert toy.trained_on_ratings
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REGISTRY, "toyrate", toy)  # type: ignore[index]
        models = (published, "word2vec") if published != "toyrate" else ("toyrate", "lsi")
        result = make_result(catalog, models=models, k=5)
        write_site(result, out)
    emb = result.embeddings[published]
    f = emb.foldin
    write_published(
        out,
        catalog,
        emb,
        compact=CompactOptions.of(result.config.publish),
        top_n=None,
        reg=f.reg,
        mode=f.mode,
        alpha=f.alpha,
        schedule=f.schedule,
        build_date="test",
    )
    return out


def _status(browser, out: Path) -> str:
    """Like three onboarding titles, show the recommendations: the status line under them."""
    server = Server(out)
    try:
        open_page(browser, server.url + "foryou/", "return !document.getElementById('profile-tools').hidden")
        cards = browser.execute_script(
            "return Array.from(document.querySelectorAll('.onboarding > .card')).map(e => e.dataset.id)"
        )
        for c in cards[:3]:
            browser.find_element("css selector", f".onboarding .card[data-id='{c}'] button[data-rate='like']").click()
        browser.find_element("id", "show-recs").click()
        wait_for(browser, "return document.getElementById('recs-status').textContent.indexOf('Ranked by') === 0")
        status = browser.find_element("id", "recs-status").text
        assert_clean(browser)
        return status
    finally:
        server.close()


def test_a_renamed_rating_model_gets_the_ratings_wording_and_its_label(browser, tmp_path):
    status = _status(browser, _site(tmp_path, "toyrate"))
    assert "fitted in this browser from the published model " + TOY_LABEL + ", trained on readers’ ratings." in status
    assert "embeddings" not in status


def test_a_content_model_gets_the_embeddings_wording_and_its_label(browser, tmp_path):
    from mangarec.models import REGISTRY

    status = _status(browser, _site(tmp_path, "lsi"))
    assert "fitted in this browser from the published embeddings of " + REGISTRY["lsi"].label + "." in status
    assert "ratings" not in status
