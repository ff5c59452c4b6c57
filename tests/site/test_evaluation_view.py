"""The models page's co-like tables from report.json's ``colikes``."""

from __future__ import annotations

import pytest

from mangarec.evaluation.results import Evaluation
from mangarec.report import from_jsonable
from mangarec.site.evaluation_view import evaluation_view


def _view(report: dict, label):
    """The view of report.json's ``evaluation`` part, decoded as the pipeline decodes it."""
    return evaluation_view(from_jsonable(Evaluation, report), label)


def _iv(m):
    return {"mean": m, "lo": m - 0.01, "hi": m + 0.01}


def test_colike_tables_one_per_protocol_heat_relative_to_its_best():
    rows = [
        {"model": "jaccard", "protocol": "cold start", "titles": 900, "k": 20, "agreement": _iv(0.08),
         "lift_random": _iv(40.0), "lift_popularity": _iv(3.0)},
        {"model": "colike", "protocol": "cold start", "titles": 900, "k": 20, "agreement": _iv(0.10),
         "lift_random": _iv(50.0), "lift_popularity": _iv(2.5)},
        {"model": "jaccard", "protocol": "held-out likes", "titles": 1200, "k": 20, "agreement": _iv(0.05),
         "lift_random": _iv(20.0), "lift_popularity": _iv(2.0)},
    ]  # fmt: skip
    v = _view({"colikes": rows}, lambda m: m.upper())
    tables = v["colikes"]
    assert [t["protocol"] for t in tables] == ["cold start", "held-out likes"]
    cold = tables[0]
    assert cold["titles"] == 900 and cold["k"] == 20
    assert [r["label"] for r in cold["rows"]] == ["JACCARD", "COLIKE"]
    assert cold["rows"][1]["cls"] == "heat-10" and cold["rows"][0]["cls"] == "heat-8"
    assert cold["rows"][0]["agreement"]["lo"] == pytest.approx(0.07)
    assert tables[1]["rows"][0]["cls"] == "heat-10"


def test_no_ratings_no_colike_tables():
    assert _view({}, str)["colikes"] == []


def _halves(test):
    return {"validation": test + 0.01, "test": test, "all": test + 0.005}


def test_content_table_from_the_typed_figures():
    """report.json's ``content`` read back typed: the test halves, heat relative to each truth's
    best, the random baseline, the test halves' sizes; a truth the catalog lacks stays empty."""
    none = {"validation": None, "test": None, "all": None}
    content = {
        "k": 20,
        "seed": 42,
        "franchise_links": {"validation": 40, "test": 44},
        "reference_lists": None,
        "models": {
            "jaccard": {"franchise_recall": _halves(0.4), "matches_recall": none},
            "series": {"franchise_recall": _halves(0.8), "matches_recall": none},
        },
        "random": {"franchise_recall": 0.002, "matches_recall": None},
        "notes": ["a note"],
    }
    v = _view({"content": content}, lambda m: m.upper())["content"]
    assert v["k"] == 20 and v["links"] == 44 and v["lists"] is None and v["notes"] == ["a note"]
    assert [(r["label"], r["franchise"], r["f_cls"], r["matches"], r["m_cls"]) for r in v["rows"]] == [
        ("JACCARD", 0.4, "heat-5", None, ""),
        ("SERIES", 0.8, "heat-10", None, ""),
    ]
    assert v["random"].franchise_recall == 0.002 and v["random"].matches_recall is None
    assert v["rows"][0]["note"].startswith("baseline")
    assert _view({}, str)["content"] is None


def test_the_no_ratings_note_names_the_models_the_registry_declares(two_clusters, tmp_path):
    """Without ratings the page says which built models learn from ratings and what from instead,
    as their specs declare (a renamed copy of colike's spec gets its own label and role); the
    co-likes section names no model of its own (issue 21: "nothing else names a model"; the
    methodology pages are the models' docs)."""
    from dataclasses import replace

    from site_helpers import make_result

    from mangarec.models import REGISTRY
    from mangarec.site import write_site

    toy = replace(REGISTRY["colike"], name="toyco", label="Toy <co-likes>", role="weights from elsewhere")
    assert "ratings" not in toy.needs and toy.trained_on_ratings
    assert two_clusters.ratings is None
    pages = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REGISTRY, "toyco", toy)  # type: ignore[index]
        for models in (("toyco", "lsi"), ("lsi",)):
            out = tmp_path / "-".join(models)
            write_site(make_result(two_clusters, models=models), out)
            html = (out / "models" / "index.html").read_text(encoding="utf-8")
            section = html[html.index('<section aria-labelledby="cl-h">') :]
            pages[models] = " ".join(section[: section.index("</section>")].split())
    page = pages[("toyco", "lsi")]
    assert 'The model "Toy &lt;co-likes&gt;" learns from ratings: weights from elsewhere.' in page
    assert "the same evaluation and fit use them" in page
    assert "Tags learned from co-likes" not in page
    plain = pages[("lsi",)]
    assert "learns from ratings" not in plain and "the same evaluation use them" in plain
