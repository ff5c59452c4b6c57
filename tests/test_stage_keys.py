"""Stage keys: a stage recomputes when what it reads changes, and only then.

A model's key holds the fingerprints of the catalog fields it reads (``ModelSpec.fields``), so
one changed description refits the text-reading models and nothing else; the code part of a key
follows the imports that run (not ``if TYPE_CHECKING:`` nor a function's lazy imports); the
evaluation's held-out refits go through the cache with their dependencies' keys.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mangarec import cache, pipeline
from mangarec.catalog import FIELDS, item_record
from mangarec.config import Config
from mangarec.models import REGISTRY, spec
from mangarec.paths import DEFAULT_CATALOG, ROOT

#: No maps: they are keyed by their model's key alone, which the model stages already show.
CONFIG = replace(Config(), site=replace(Config().site, maps=[]))


def _build(tmp: Path, data: Path, name: str) -> set[str]:
    """Build ``data`` with the shared cache in ``tmp``; returns the stages computed (not cached)."""
    result = pipeline.run_build([f"generic:{data}"], tmp / name, CONFIG, cache_dir=tmp / "cache")
    assert result is not None
    return {s.name for s in result.report.stages if not s.cached}


def _readers(field: str, built: set[str]) -> set[str]:
    """The built models that read ``field``, or depend on one that does."""
    out = {n for n in built if field in spec(n).fields}
    grew = True
    while grew:
        more = {n for n in built if set(spec(n).depends) & out} - out
        out |= more
        grew = bool(more)
    return out


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    data = tmp / "catalog.jsonl"
    shutil.copy(DEFAULT_CATALOG, data)
    ran = _build(tmp, data, "cold")
    models = {s.split(":", 1)[1] for s in ran if s.startswith("model:")}
    return tmp, data, models


@pytest.mark.build  # builds the bundled catalog twice (the cold fixture, then the night)
@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("descriptions", lambda r: {"description": (r.get("description") or "") + " A new arc starts tonight."}),
        ("tags", lambda r: {"tags": {**r["tags"], "theme": sorted({*r["tags"].get("theme", []), "Pirates"})}}),
    ],
)
def test_a_changed_field_recomputes_only_the_stages_that_read_it(cold, field, change):
    tmp, data, models = cold
    night = tmp / f"{field}.jsonl"
    rows = data.read_text(encoding="utf-8").rstrip("\n").split("\n")
    rec = json.loads(rows[7])
    rec.update(change(rec))
    rows[7] = json.dumps(rec)
    night.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ran = _build(tmp, night, field)
    readers = _readers(field, models)
    assert readers and readers != models  # the test means something: some models read it, some do not
    assert {s for s in ran if s.startswith("model:")} == {f"model:{n}" for n in readers}
    assert {s for s in ran if s.startswith("neighbours:")} == {f"neighbours:{n}" for n in readers}
    assert "evaluate" in ran
    if field == "descriptions":
        assert "model:lsi" not in ran and "model:jaccard" not in ran
    else:
        assert "model:text" not in ran


@pytest.mark.build
def test_an_unchanged_catalog_recomputes_nothing(cold):
    tmp, data, _ = cold
    assert _build(tmp, data, "again") - {"load", "inputs"} == set()


def test_every_item_record_key_belongs_to_one_field():
    from mangarec.catalog import Item

    keys = set(item_record(Item(id="a", title="A", kind="manga", matches=("b",))))
    owned = [k for f in FIELDS.values() for k in f]
    assert sorted(owned) == sorted(set(owned)) and set(owned) == keys


def _copy_package(tmp_path: Path, monkeypatch) -> Path:
    pkg = tmp_path / "mangarec"
    shutil.copytree(ROOT / "mangarec", pkg, ignore=shutil.ignore_patterns("__pycache__", "_data"))
    monkeypatch.setattr(cache, "_PKG", pkg)
    cache.module_digest.cache_clear()
    return pkg


def _stage_code() -> dict[str, str]:
    """The code digest of every model, the neighbour search, the maps and the evaluation."""
    cache.module_digest.cache_clear()
    out = {n: cache.module_digest(s.fit.__module__) for n, s in REGISTRY.items()}
    out["neighbours"] = cache.code_digest(*pipeline.NEIGHBOURS_CODE)
    out["maps"] = cache.code_digest(*pipeline.MAP_CODE)
    out["evaluation"] = cache.module_digest("mangarec.evaluation")
    return out


def test_a_loader_edit_recomputes_no_stage(tmp_path, monkeypatch):
    """The catalog is keyed by its content: loader code is in no stage's key (issue 21, 1)."""
    pkg = _copy_package(tmp_path, monkeypatch)
    before = _stage_code()
    for mod in ("loaders/mal.py", "loaders/mangadex_v5.py", "config.py"):
        (pkg / mod).write_text((pkg / mod).read_text() + "\n# edit\n")
    assert _stage_code() == before
    cache.module_digest.cache_clear()


def test_code_a_stage_runs_is_in_its_key(tmp_path, monkeypatch):
    """The other way: lazily run code counts (topk for the neighbours, neighbours for the maps)."""
    pkg = _copy_package(tmp_path, monkeypatch)
    before = _stage_code()
    (pkg / "topk.py").write_text((pkg / "topk.py").read_text() + "\n# edit\n")
    after = _stage_code()
    assert after["neighbours"] != before["neighbours"] and after["maps"] != before["maps"]
    assert after["lsi"] == before["lsi"]
    # the evaluation folds users in with each rating-trained model's own solve (ModelSpec.solve):
    # the evaluate key holds their held-out fits' keys, so a solve's code must be in its model's
    solvers = {n: s.solve.__module__ for n, s in REGISTRY.items() if s.solve is not None}
    assert solvers
    for n, module in solvers.items():
        path = pkg.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(path.read_text() + "\n# x\n")
        assert _stage_code()[n] != after[n], f"{n}: the code of its solve ({module}) is not in its key"
    cache.module_digest.cache_clear()


def test_type_checking_imports_are_not_followed_but_their_else_branch_is(tmp_path, monkeypatch):
    pkg = tmp_path / "mangarec"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\nelse:\n    from . import c\n"
        "def f():\n    from . import d\n"
    )
    for m in "bcd":
        (pkg / f"{m}.py").write_text("")
    monkeypatch.setattr(cache, "_PKG", pkg)
    assert cache._imports(pkg / "a.py", "mangarec.a") == {"mangarec", "mangarec.c"}
    cache.module_digest.cache_clear()
    before = cache.module_digest("mangarec.a")
    for m, moves in (("b", False), ("d", False), ("c", True)):
        (pkg / f"{m}.py").write_text("# edit\n")
        cache.module_digest.cache_clear()
        assert (cache.module_digest("mangarec.a") != before) is moves, m
        before = cache.module_digest("mangarec.a")
    cache.module_digest.cache_clear()


#: Lazy imports of package code, inside the code the stages' keys hold, in functions no stage
#: runs: ``(module, function)`` -> why. Any other lazy import must name code already in the key.
NOT_RUN_BY_A_STAGE = {
    ("mangarec.publish", "write_collect"): "writes the site's data/collect.json (the output side)",
    (
        "mangarec.reader.source",
        "read_bytes",
    ): "reads a published file from a path or URL (the evaluation hands its model over)",
    # numba's list search, imported when the published file's candidate lists are computed
    # (write:embeddings, the output side), so that reading a published file loads no numba
    ("mangarec.kernel", "lists_and_state"): "computes the published file's candidate lists (write:embeddings)",
    ("mangarec.kernel", "lists_of"): "computes the published file's candidate lists (write:embeddings)",
}


def _stage_modules() -> dict[str, tuple[str, ...]]:
    """The modules whose code (with what they import at module level) each stage's key holds."""
    out: dict[str, tuple[str, ...]] = {n: (s.fit.__module__,) for n, s in REGISTRY.items()}
    out["neighbours"] = pipeline.NEIGHBOURS_CODE
    out["maps"] = pipeline.MAP_CODE
    out["evaluation"] = ("mangarec.evaluation",)
    return out


def escapes(stages: dict[str, tuple[str, ...]], allowed=NOT_RUN_BY_A_STAGE) -> set[tuple[str, str, str]]:
    """``(stage, module.function, imported module)`` for each lazy import, in code a stage's key
    holds, of a package module the key leaves out (the stage could run code its key ignores)."""
    out = set()
    for stage, modules in stages.items():
        closure = set().union(*(cache.module_sources(m) for m in modules))
        for m in sorted(closure):
            for fn, targets in cache.lazy_imports(m).items():
                for t in targets:
                    if cache._source(t) is not None and t not in closure and (m, fn) not in allowed:
                        out.add((stage, f"{m}.{fn}", t))
    return out


def test_no_stage_runs_package_code_its_key_leaves_out():
    """A lazy import of package code inside a stage's code escapes the key (stop 25:
    ``colike.co_liked_truth`` ran ``evaluation.baselines`` so): every one is either in the key
    through a module-level import or declared as run by no stage."""
    stages = _stage_modules()
    for stage, modules in stages.items():
        assert all(cache._source(m) is not None for m in modules), f"{stage}: a module of its code is gone: {modules}"
    assert escapes(stages) == set()
    for m, fn in NOT_RUN_BY_A_STAGE:  # the declarations stay true: each names a real lazy import
        assert fn in cache.lazy_imports(m), (m, fn)


def test_the_escape_check_finds_a_lazy_import_of_model_code(tmp_path, monkeypatch):
    pkg = tmp_path / "mangarec"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("")
    (pkg / "models" / "m.py").write_text("from .. import a\ndef fit():\n    from ..evaluation import helper\n")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("")
    (pkg / "evaluation.py").write_text("def helper():\n    pass\n")
    monkeypatch.setattr(cache, "_PKG", pkg)
    stages = {"m": ("mangarec.models.m",)}
    assert escapes(stages, {}) == {
        ("m", "mangarec.models.m.fit", "mangarec.evaluation"),
        ("m", "mangarec.a.f", "mangarec.b"),
    }
    assert escapes(stages, {("mangarec.a", "f"): "never run"}) == {
        ("m", "mangarec.models.m.fit", "mangarec.evaluation")
    }
    (pkg / "models" / "m.py").write_text(
        "from .. import a, evaluation\ndef fit():\n    from ..evaluation import helper\n"
    )
    assert escapes(stages, {("mangarec.a", "f"): "never run"}) == set()  # imported at module level: in the key


def test_heldout_fits_use_the_cache_for_dependencies_and_key_them(two_clusters, monkeypatch, tmp_path):
    """A model trained on ratings with a dependency: the held-out refit reuses the dependency's
    cached fit (no second fit) and its key changes with the dependency's key (issue 21, 2)."""
    from mangarec import build_stages
    from mangarec.cache import Cache
    from mangarec.progress import StageLog
    from mangarec.schedule import Scheduler, Stages
    from tests.models.test_contract import contract_catalog

    catalog = contract_catalog(two_clusters)
    calls: list[str] = []
    lsi = spec("lsi")

    def counted(*a, **k):
        calls.append("lsi")
        return lsi.fit(*a, **k)

    monkeypatch.setitem(REGISTRY, "lsi", replace(lsi, fit=counted))  # type: ignore[index]
    monkeypatch.setitem(REGISTRY, "als", replace(spec("als"), depends=("lsi",)))  # type: ignore[index]
    config = replace(Config(), models=replace(Config().models, als=replace(Config().models.als, factors=2)))

    def heldout(cfg: Config) -> tuple[list[str], set[str]]:
        stages = Stages(Cache(tmp_path / "c"), StageLog(quiet=True))
        sched = Scheduler(stages, 1)
        fits = build_stages.add_fits(sched, catalog, ["als"], cfg)
        refits, lists = build_stages.add_heldout(sched, catalog, ["als"], fits, cfg, 1)
        sched.finish()
        out_keys = [sched.key(s) for n in refits for s in (refits[n], lists[n])]
        return out_keys, {s.name for s in stages.runs if not s.cached}

    keys, ran = heldout(config)
    assert calls == ["lsi"]  # fitted once, for the full fit; the held-out refit reused it
    assert "model:als (held-out fit)" in ran and "model:lsi (held-out fit)" not in ran
    again, ran = heldout(config)
    assert again == keys and ran == set() and calls == ["lsi"]
    changed = replace(config, models=replace(config.models, lsi=replace(config.models.lsi, dim=4)))
    new_keys, ran = heldout(changed)
    assert new_keys[0] != keys[0]  # the dependency's key is in the held-out key
    assert "model:als (held-out fit)" in ran and calls == ["lsi", "lsi"]


@pytest.mark.slow  # umap-learn: numba's import and first JIT (~35 s of CPU, cold cache)
def test_warm_maps_start_from_last_nights_map_and_stay_cached(tmp_path):
    """With umap.warm_epochs, the night's changed map starts from the previous one (its key
    names it), an unchanged rebuild reads it back, and a changed model's map is warm again."""
    config = replace(
        Config(),
        site=replace(Config().site, models=["text", "lsi"], maps=["text"]),
        umap=replace(Config().umap, warm_epochs=5),
    )
    data = tmp_path / "catalog.jsonl"
    rows = DEFAULT_CATALOG.read_text(encoding="utf-8").rstrip("\n").split("\n")[:120]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")

    def build(name: str):
        result = pipeline.run_build([f"generic:{data}"], tmp_path / name, config, cache_dir=tmp_path / "cache")
        assert result is not None
        return result, {s.name for s in result.report.stages if not s.cached}

    first, ran = build("a")
    assert "map:text" in ran and first.maps["text"].info["init"] == "pca"  # nothing to start from
    rec = json.loads(rows[3])
    rec["description"] = (rec.get("description") or "") + " The night changed this text."
    data.write_text("\n".join(rows[:3] + [json.dumps(rec)] + rows[4:]) + "\n", encoding="utf-8")
    night, ran = build("b")
    assert "map:text" in ran and night.maps["text"].info["init"] == "previous map"
    again, ran = build("c")
    assert "map:text" not in ran and again.maps["text"].xy.tobytes() == night.maps["text"].xy.tobytes()
