"""Warm nights (``[night] warm``, :mod:`mangarec.night`) on the bundled catalog.

One day's build, then nights over the same edit of five titles, each from a copy of the day's
site and stage cache: a warm night, the default night (``warm = false``, which equals a cold
build: ``tests/test_night.py``), the same warm night again, and a warm night eight days after the
day (past ``cold_every_days``); plus a cold build of the night's data, the reference of the
agreement.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from test_night import _files, _Log, day_and_night

from mangarec import pipeline
from mangarec.config import Config

pytestmark = pytest.mark.build

CONFIG = replace(Config(), site=replace(Config().site, maps=["lsi", "text"]))
WARM = replace(CONFIG, night=replace(CONFIG.night, warm=True))
#: The day's clock (``SOURCE_DATE_EPOCH``): 2026-12-01 00:00 UTC.
DAY = 1_796_083_200
#: The models that must be updated warm on the night.
GLOBAL = {"lsi", "word2vec", "network", "text", "series", "hybrid", "deconvolution", "silencing"}


def _night(tmp: Path, name: str, spec: str, config: Config, epoch: int, mp: pytest.MonkeyPatch):
    """A night built from a copy of the day's site and cache into ``tmp/name``."""
    shutil.copytree(tmp / "day-site", tmp / name / "site")
    shutil.copytree(tmp / "day-cache", tmp / name / "cache")
    mp.setenv("SOURCE_DATE_EPOCH", str(epoch))
    log = _Log()
    got = pipeline.run_build([spec], tmp / name / "site", config, cache_dir=tmp / name / "cache", log=log)
    assert got is not None
    return got, sorted(set(log.notes))


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warm")
    day, night = day_and_night(tmp)
    spec = f"generic:{night}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", str(DAY))
        pipeline.run_build([f"generic:{day}"], tmp / "day-site", WARM, cache_dir=tmp / "day-cache")
        out = {
            "warm": _night(tmp, "warm", spec, WARM, DAY + 86_400, mp),
            "again": _night(tmp, "again", spec, WARM, DAY + 86_400, mp),
            "default": _night(tmp, "default", spec, CONFIG, DAY + 86_400, mp),
            "late": _night(tmp, "late", spec, WARM, DAY + 8 * 86_400, mp),
        }
        cold = pipeline.run_build([spec], tmp / "cold" / "site", CONFIG, cache_dir=tmp / "cold" / "cache")
    assert cold is not None
    return tmp, out, cold


def _ranked(notes: list[str]) -> dict[str, int]:
    """``{model: lists ranked again}`` from the night's notes."""
    out = {}
    for n in notes:
        if "lists ranked again" in n:
            head, rest = n.split(": ", 1)
            out[head.split(":")[1]] = int(rest.split(", ")[1].split(" of ")[0].replace(",", ""))
    return out


def test_a_warm_night_updates_the_global_models_and_ranks_fewer_lists(nights):
    _, out, _ = nights
    (warm, notes), (_, default_notes) = out["warm"], out["default"]
    assert {n for n, e in warm.embeddings.items() if e.warm is not None} == GLOBAL
    assert all(warm.embeddings[n].warm.rows_updated <= 5 for n in GLOBAL)
    # the report keeps its record of the update
    assert all(warm.embeddings[n].info["warm"] == asdict(warm.embeddings[n].warm) for n in GLOBAL)
    ranked, ranked_default = _ranked(notes), _ranked(default_notes)
    # every model's lists are updated, not searched; cold, the global models are searched in full
    assert set(ranked) == set(warm.embeddings)
    assert not GLOBAL - {"text", "series", "hybrid"} & set(ranked_default)
    assert sum(ranked.values()) < sum(ranked_default.get(n, len(warm.catalog)) for n in ranked) / 3


def test_a_warm_night_recomputes_fewer_stages(nights):
    _, out, _ = nights
    (warm, _), (default, _) = out["warm"], out["default"]
    cached = {s.name for s in warm.report.stages if s.cached}
    assert "evaluate" in cached and "evaluate" not in {s.name for s in default.report.stages if s.cached}
    assert {m.info.get("placed") for m in warm.maps.values()} <= set(range(1, 6))
    assert all("placed" not in m.info for m in default.maps.values())
    seconds = {s.name: s.seconds for s in warm.report.stages if not s.cached}
    default_seconds = {s.name: s.seconds for s in default.report.stages if not s.cached}
    assert sum(seconds.values()) < sum(default_seconds.values())


def test_unchanged_titles_keep_last_nights_rows(nights):
    tmp, out, _ = nights
    from mangarec.cache import Cache

    warm, _ = out["warm"]
    day = Cache(tmp / "day-cache")
    for name in GLOBAL:
        prev = day.get(day.pointer(f"night-model-{name}")["key"])
        rows = {iid: prev.vectors[p].tobytes() for p, iid in enumerate(prev.item_ids)}
        emb = warm.embeddings[name]
        same = [rows.get(iid) == emb.vectors[p].tobytes() for p, iid in enumerate(emb.item_ids)]
        assert 0 < len(same) - sum(same) <= emb.warm.rows_updated, name


def test_warm_lists_agree_with_a_cold_build_of_the_night(nights):
    _, out, cold = nights
    warm, _ = out["warm"]
    for name, nb in warm.neighbours.items():
        ref = cold.neighbours[name]
        overlap = np.mean([len(set(a[:10]) & set(b[:10])) / 10 for a, b in zip(nb.indices, ref.indices)])
        assert overlap >= 0.85, (name, overlap)


def test_the_same_history_gives_the_same_bytes(nights):
    tmp, _, _ = nights
    assert _files(tmp / "warm" / "site") == _files(tmp / "again" / "site")


def test_the_models_page_says_which_build_the_evaluation_was_measured_on(nights):
    tmp, out, _ = nights
    page = (tmp / "warm" / "site" / "models" / "index.html").read_text(encoding="utf-8")
    assert "Measured on the build of 2026-12-01" in page
    assert "Warm night: LSI (tags)" in page and "kept the global state fitted on 2026-12-01" in page
    assert "Measured on the build of" not in (tmp / "default" / "site" / "models" / "index.html").read_text("utf-8")


def test_a_global_state_older_than_cold_every_days_is_refitted_cold(nights):
    _, out, _ = nights
    late, notes = out["late"]
    assert not any(e.warm is not None or "warm" in e.info for e in late.embeddings.values())
    assert any(n.startswith("model:lsi: refitted cold (its global state is 8.0 days old") for n in notes), notes
    assert "evaluate" not in {s.name for s in late.report.stages if s.cached}
