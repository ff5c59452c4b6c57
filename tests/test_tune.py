"""mangarec tune: searches on validation only, writes [models.als] keeping comments."""

from __future__ import annotations

import json
import tomllib

import pytest
from test_evaluate import anime_fixture_args, cluster_catalog

from mangarec import tune
from mangarec.config import EvaluationSection, load_config
from mangarec.errors import InputError
from mangarec.models import als


def test_search_improves_validation_and_never_reads_test(monkeypatch):
    cat = cluster_catalog(clusters=6, per=10, users_per_cluster=10)
    seen = []
    real = tune.__dict__.get("search")
    from mangarec.evaluation import ranking

    orig = ranking.evaluate_scorer

    def spy(scorer, exclude, heldout, users, tie, seed, k=10):
        seen.append(heldout)
        return orig(scorer, exclude, heldout, users, tie, seed, k)

    monkeypatch.setattr(ranking, "evaluate_scorer", spy)
    start = als.Params(factors=2, regularization=0.001, iterations=4, feedback="raw")
    res = real(cat, als.SPEC, start, EvaluationSection(min_likes=5), 3, max_fits=6, log=lambda s: None)
    assert 1 < len(res.tried) <= 6
    assert res.best.ndcg >= res.tried[0].ndcg
    assert res.best.ndcg == max(c.ndcg for c in res.tried)
    from mangarec.evaluation import make_split

    split = make_split(cat.ratings, EvaluationSection(min_likes=5, max_users=1000), 3)
    assert seen and all((h != split.validation).nnz == 0 for h in seen)  # scored on validation only


def test_write_config_keeps_comments(tmp_path):
    p = tmp_path / "site.toml"
    p.write_text('# my site\n[site]\ntitle = "x"\n\n[models.als]\n# Latent factors.\nfactors = 32\n')
    tune.write_config(p, "als", {"factors": 128, "regularization": 50.0}, "mangarec tune: validation nDCG@10 0.3")
    text = p.read_text()
    assert "# my site" in text and "# Latent factors." in text and "validation nDCG@10 0.3" in text
    data = tomllib.loads(text)
    assert data["models"]["als"] == {"factors": 128, "regularization": 50.0} and data["site"]["title"] == "x"
    assert load_config(p).models.als.factors == 128


def test_main_on_fixture_writes_and_errors(tmp_path, shared_data, capsys):
    d = shared_data / "anime-recdb"
    cfg = tmp_path / "site.toml"
    cfg.write_text('[models.als]\nfactors = 8\nregularization = 0.001\niterations = 3\nfeedback = "raw"\n')
    rc = tune.main(
        [
            *anime_fixture_args(shared_data),
            "--config",
            str(cfg),
            "--max-fits",
            "4",
            "--users",
            "100",
            "--report",
            str(tmp_path / "t.json"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "validation" in out and "best: nDCG@10" in out
    best = json.loads((tmp_path / "t.json").read_text())["best"]["params"]
    after = load_config(cfg).models.als
    assert {k: getattr(after, k) for k in best} == best  # the best candidate is what the file now says
    assert after.iterations == 3  # what the search does not vary is kept
    if "wrote" in out:
        assert "mangarec tune: validation nDCG@10" in cfg.read_text()
    with pytest.raises(InputError):
        tune.main(["--data", f"mal:{d / 'fixture_anime.csv'}", "--config", str(cfg), "--max-fits", "0"])


def test_visitor_search_takes_the_best_of_the_alpha_lambda_grid():
    cat = cluster_catalog(clusters=6, per=10, users_per_cluster=10)
    from mangarec.evaluation import make_split

    split = make_split(cat.ratings, EvaluationSection(min_likes=5, max_users=1000), 3)
    p = als.Params(factors=4, regularization=0.01, iterations=4, feedback="likes", alpha=2.0)
    from dataclasses import replace

    emb = als.fit(replace(cat, ratings=split.fit), p, 3)
    scores, best = tune._visitor_search(cat, split, als.SPEC, p, emb, 3, lambda s: None)
    assert len(scores) == len(als.VISITOR_ALPHAS) * len(als.VISITOR_FACTORS)
    alpha, lam = best.alpha, best.reg
    assert alpha in {2.0 * a for a in als.VISITOR_ALPHAS} and lam in {0.01 * f for f in als.VISITOR_FACTORS}
    assert scores[f"α={alpha:g}, λ={lam:g}"] == max(scores.values())
    # the keys it would write: 0 where the candidate is training's value
    assert best.keys == {
        "visitor_alpha": 0.0 if alpha == 2.0 else alpha,
        "visitor_regularization": 0.0 if lam == 0.01 else lam,
    }
    explicit = replace(p, feedback="explicit")
    assert tune._visitor_search(cat, split, als.SPEC, explicit, emb, 3, lambda s: None) == ({}, None)


def test_tune_names_no_model_it_reads_the_specs_grids():
    """tune's search space is each spec's declaration: the module holds no grid and no model name."""
    import ast
    import inspect

    from mangarec.models import REGISTRY

    assert tune.tunable() == [n for n, s in REGISTRY.items() if s.tuning is not None] and "als" in tune.tunable()
    names = {n.value for n in ast.walk(ast.parse(inspect.getsource(tune))) if isinstance(n, ast.Constant)}
    assert not names & set(REGISTRY), "tune.py names a model"
    with pytest.raises(InputError, match="declares no tuning grid"):
        tune.search(
            cluster_catalog(clusters=6, per=10, users_per_cluster=10), REGISTRY["lsi"], None, EvaluationSection(), 1
        )
