"""Warm nights (opt-in, ``[night] warm``): fold the day's changes into last night's fits.

A cold night refits every model whose inputs changed, and a 1 % change moves every globally
fitted model's state (an SVD basis, an idf, word vectors, a spectrum), so every row moves a
little and every list, map and page is redone. A warm night does what production recommenders
do with new items: it keeps last night's global state and computes only the changed and new
titles' rows (:attr:`mangarec.models.base.ModelSpec.update`); every other row is bit-identical to
last night's, so the exact neighbour update (:mod:`mangarec.neighbours_update`) ranks few
lists, the maps keep their titles' places and place only the changed ones (:func:`place`),
the title pages carry over, and the evaluation of last night is kept while few titles changed.

When a model is updated warm (:meth:`Night.model`): ``[night] warm``; the model has an update;
last night's fit of it (same parameters, seed and code: its *identity*) is in the stage cache,
with the per-title digests of the fields it reads; at most ``max_changed`` of the titles are
new, changed or removed; its global state is younger than ``cold_every_days``; and each model it
depends on was updated warm or is unchanged. Otherwise it is refitted cold, which starts a new
global state. Keys hold the history, as warm maps do: a warm fit's key is
``make_key("warm model", cold key, last night's key)``, so the same inputs after the same nights
give the same bytes. With ``warm = false`` (the default) nothing here runs: every night equals a
cold build of its data.

Pointers in the cache (``night-model-<name>``, ``night-map-<name>``, ``night-evaluate``) name
what the next night starts from.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .cache import Cache, make_key, module_digest
from .catalog import FIELDS, item_record
from .embedding import Embedding, Map, WarmUpdate
from .models import params_of, spec
from .seeds import derive_seed

if TYPE_CHECKING:
    from .catalog import Catalog
    from .config import Config
    from .progress import StageLog

#: Seconds in a day (``cold_every_days``).
DAY = 86_400.0
#: Titles of the map whose coordinates place a changed title (:func:`place`).
PLACE_NEIGHBOURS = 10


def now() -> float:
    """Seconds since the epoch: ``SOURCE_DATE_EPOCH`` when set (a reproducible night), else the clock."""
    from .dates import source_date_epoch

    epoch = source_date_epoch()
    return float(epoch) if epoch is not None else time.time()


def item_digests(catalog: Catalog, fields: Iterable[str]) -> dict[str, str]:
    """``{item id: digest}`` of each item's record restricted to ``fields`` (names of
    :data:`mangarec.catalog.FIELDS`, ``ids`` aside): two nights' digests differ exactly for the
    items whose fields changed."""
    keys = sorted(k for f in fields if f not in ("ids", "ratings") for k in FIELDS[f])
    out = {}
    for item in catalog.items:
        record = item_record(item)
        blob = json.dumps({k: record[k] for k in keys if k in record}, sort_keys=True, ensure_ascii=True)
        out[item.id] = hashlib.blake2b(blob.encode(), digest_size=12).hexdigest()
    return out


def changed_titles(
    previous: Mapping[str, str], digests: Mapping[str, str], ids: tuple[str, ...]
) -> tuple[np.ndarray, int]:
    """``(positions in ids of the new or changed titles, number of removed titles)``."""
    changed = np.array([p for p, i in enumerate(ids) if previous.get(i) != digests[i]], dtype=np.int64)
    return changed, sum(1 for i in previous if i not in digests)


def place(previous_map: Map, previous: Embedding, emb: Embedding, k: int = PLACE_NEIGHBOURS) -> Map | None:
    """Tonight's map from last night's: a title whose row is unchanged keeps its place; a new or
    changed one goes to the similarity-weighted mean of the places of its ``k`` most similar
    (cosine of ``vectors``) unchanged titles, as UMAP's ``transform`` initialises new points.
    ``None`` when no title kept its row."""
    old_map = {iid: p for p, iid in enumerate(previous_map.item_ids)}
    old_emb = {iid: p for p, iid in enumerate(previous.item_ids)}
    vectors = np.asarray(emb.vectors, dtype=np.float64)
    before = np.asarray(previous.vectors, dtype=np.float64)
    n = len(emb.item_ids)
    src = np.full(n, -1, dtype=np.int64)
    for p, iid in enumerate(emb.item_ids):
        q, r = old_map.get(iid), old_emb.get(iid)
        if q is not None and r is not None and np.array_equal(vectors[p], before[r]):
            src[p] = q
    kept = np.flatnonzero(src >= 0)
    if not len(kept):
        return None
    xy = np.empty((n, 2), dtype=np.float32)
    xy[kept] = previous_map.xy[src[kept]]
    todo = np.flatnonzero(src < 0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    kk = min(k, len(kept))
    for b0 in range(0, len(todo), 256):
        rows = todo[b0 : b0 + 256]
        sims = unit[rows] @ unit[kept].T
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        w = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0) + 1e-6
        places = np.asarray(xy[kept], dtype=np.float64)[top]
        xy[rows] = (np.sum(places * w[..., None], axis=1) / w.sum(axis=1, keepdims=True)).astype(np.float32)
    info = {**previous_map.info, "placed": int(len(todo)), "kept": int(len(kept))}
    return replace(previous_map, item_ids=emb.item_ids, xy=xy, info=info)


@dataclass
class Night:
    """A warm night's decisions and its records for the next night (see the module docstring).

    The pipeline asks :meth:`model` for each model's key and computation, tells :meth:`fitted`
    what it got, and lets :meth:`maps` and :meth:`evaluation_key` choose tonight's maps and
    evaluation.
    """

    config: Config
    cache: Cache
    catalog: Catalog
    log: StageLog
    clock: float = field(default_factory=now)

    def __post_init__(self) -> None:
        #: Models whose fit is last night's global state tonight (updated warm, or unchanged).
        self.kept: set[str] = set()
        #: Models updated warm tonight, with last night's embedding.
        self.previous: dict[str, Embedding] = {}
        self._digests: dict[frozenset[str], tuple[str, dict[str, str]]] = {}
        self._pending: dict[str, dict[str, Any]] = {}

    def _identity(self, name: str) -> str:
        s = spec(name)
        return make_key(
            "model identity", name, params_of(self.config, name), self.config.seed, module_digest(s.fit.__module__)
        )

    def digests(self, fields: Iterable[str]) -> tuple[str, dict[str, str]]:
        """``(cache key, per-title digests)`` of ``fields`` (computed once a night)."""
        names = frozenset(f for f in fields if f not in ("ids", "ratings"))
        if names not in self._digests:
            key = make_key("item digests", self.catalog.fields_fingerprint(names))
            self._digests[names] = (key, item_digests(self.catalog, names))
        return self._digests[names]

    def _share(self, previous: Mapping[str, str], digests: Mapping[str, str]) -> tuple[np.ndarray, float]:
        changed, removed = changed_titles(previous, digests, self.catalog.ids)
        return changed, (len(changed) + removed) / max(len(self.catalog), 1)

    def model(
        self, name: str, cold_key: str, deps: Mapping[str, Embedding], fit: Callable[[], Embedding]
    ) -> tuple[str, Callable[[], Embedding]]:
        """Tonight's ``(key, computation)`` of model ``name`` whose cold key is ``cold_key``:
        last night's key when its inputs did not change, a warm update's, or the cold fit's."""
        s = spec(name)
        identity = self._identity(name)
        last = self.cache.pointer(f"night-model-{name}")
        self._pending[name] = {"cold": cold_key, "identity": identity, "since": self.clock}
        if last is None or last.get("identity") != identity:
            return cold_key, fit
        if last.get("cold") == cold_key:  # the same inputs as last night: last night's fit
            self.kept.add(name)
            self._pending[name].update(since=float(last.get("since", self.clock)), same=True)
            return str(last["key"]), fit
        why = self._cold_reason(name, last, s.update is None)
        if why is None:
            prev, old = self.cache.get(str(last.get("key"))), self.cache.get(str(last.get("items")))
            if not isinstance(prev, Embedding) or not isinstance(old, dict):
                why = "last night's fit is not in the cache"
            else:
                changed, share = self._share(old, self.digests(s.fields)[1])
                if share > self.config.night.max_changed:
                    why = f"{share:.1%} of the titles changed (night.max_changed = {self.config.night.max_changed:.1%})"
        if why is not None:
            if s.update is not None:
                self.log.note(f"model:{name}: refitted cold ({why})")
            return cold_key, fit
        assert s.update is not None and isinstance(prev, Embedding)
        self._pending[name]["since"] = float(last["since"])
        self.previous[name] = prev
        params, seed = params_of(self.config, name), derive_seed(self.config.seed, "model", name)
        update = s.update

        def compute() -> Embedding:
            emb = update(prev, self.catalog, params, seed, deps, changed)
            if emb is None:
                return fit()
            warm = WarmUpdate(int(len(changed)), time.strftime("%Y-%m-%d", time.gmtime(float(last["since"]))))
            return replace(emb, warm=warm, info={**emb.info, "warm": asdict(warm)})

        return make_key("warm model", cold_key, last["key"]), compute

    def _cold_reason(self, name: str, last: Mapping[str, Any], no_update: bool) -> str | None:
        if no_update:
            return "it has no warm update"
        days = (self.clock - float(last.get("since", 0.0))) / DAY
        every = self.config.night.cold_every_days
        if days >= every:
            return f"its global state is {days:.1f} days old (night.cold_every_days = {every:g})"
        # a dependency without an update has no global state of ours to keep (its rows are its
        # titles' own); one refitted cold started a new one, and so does this model
        lost = [d for d in spec(name).depends if d not in self.kept and spec(d).update is not None]
        return f"{lost[0]} was refitted cold" if lost else None

    def fitted(self, name: str, key: str, emb: Embedding) -> None:
        """Record tonight's fit of ``name`` (under ``key``) for the next night."""
        pending = self._pending.pop(name, None)
        if pending is None:
            return
        if pending.pop("same", False):
            pass  # last night's fit, its global state as old as it was
        elif emb.warm is not None:
            self.kept.add(name)
        else:
            self.previous.pop(name, None)
            pending["since"] = self.clock  # a cold fit: a new global state
        items_key, digests = self.digests(spec(name).fields)
        if self.cache.get(items_key) is None:
            self.cache.put(items_key, digests)
        self.cache.set_pointer(f"night-model-{name}", {**pending, "key": key, "items": items_key})

    def maps(
        self,
        embeddings: Mapping[str, Embedding],
        model_keys: Mapping[str, str],
        stages: Any,
        cold_maps: Callable[[Mapping[str, Embedding]], dict[str, Map]],
    ) -> dict[str, Map]:
        """Tonight's maps: a warm-updated model's map placed from last night's (:func:`place`),
        the others drawn by ``cold_maps`` (the pipeline's UMAP stage)."""
        placed: dict[str, Map] = {}
        for name, emb in embeddings.items():
            if name not in self.config.site.maps or name not in self.previous:
                continue
            last = self.cache.pointer(f"night-map-{name}")
            prev_map = self.cache.get(str(last.get("key"))) if last else None
            if not isinstance(prev_map, Map) or last is None:
                continue
            prev = self.previous[name]
            key = make_key("placed map", model_keys[name], last["key"])
            m = stages.run(f"map:{name}", key, functools.partial(place, prev_map, prev, emb))
            if isinstance(m, Map):  # None: no title kept its row, drawn cold below
                placed[name] = m
        drawn = cold_maps({n: e for n, e in embeddings.items() if n not in placed})
        out = {n: placed[n] if n in placed else drawn[n] for n in embeddings if n in placed or n in drawn}
        for name, m in out.items():
            key = make_key("night map", model_keys[name], self.config.umap, self.config.seed)
            if self.cache.get(key) is None:
                self.cache.put(key, m)
            self.cache.set_pointer(f"night-map-{name}", {"key": key})
        return out

    def evaluation_key(self, key: str, names: Iterable[str], date: str | None) -> tuple[str, str | None]:
        """``(the evaluation's key tonight, a note for the models page)``: last night's
        evaluation when ``reuse_evaluation`` and at most ``max_changed`` of the titles changed
        since it was measured (``key`` otherwise, and no note)."""
        night = self.config.night
        items_key, digests = self.digests(f for f in FIELDS if f not in ("matches",))
        last = self.cache.pointer("night-evaluate")
        reuse = None
        if night.reuse_evaluation and last is not None and last.get("key") != key:
            old = self.cache.get(str(last.get("items")))
            fresh = (self.clock - float(last.get("since", 0.0))) / DAY < night.cold_every_days
            same = last.get("models") == list(names)
            if isinstance(old, dict) and fresh and same and self.cache.get(str(last["key"])) is not None:
                changed, share = self._share(old, digests)
                if share <= night.max_changed:
                    reuse = (last, len(changed))
        if reuse is None:
            if self.cache.get(items_key) is None:
                self.cache.put(items_key, digests)
            self.cache.set_pointer(
                "night-evaluate",
                {
                    "key": key,
                    "items": items_key,
                    "models": list(names),
                    "since": self.clock,
                    "date": date,
                    "titles": len(self.catalog),
                },
            )
            return key, None
        last, n_changed = reuse
        when = time.strftime("%Y-%m-%d", time.gmtime(float(last["since"])))
        note = (
            f"Measured on the build of {when} (data of {last.get('date') or 'unknown date'}, "
            f"{int(last.get('titles', 0)):,} titles) and kept by the warm nights since: {n_changed:,} of "
            f"{len(self.catalog):,} titles changed since, at most night.max_changed = {night.max_changed:.0%}."
        )
        return str(last["key"]), note

    def notes(self, kept: str | None, embeddings: Mapping[str, Embedding]) -> list[str]:
        """The models page's notes on a warm night: the kept evaluation's (``kept``) and which
        models kept an older global state."""
        warm = {n: e.warm for n, e in embeddings.items() if e.warm is not None}
        out = [kept] if kept else []
        if warm:
            since = sorted({w.state_from for w in warm.values()})
            out.append(
                f"Warm night: {', '.join(spec(n).label for n in warm)} kept the global state fitted on "
                f"{' and '.join(since)} and recomputed only the changed titles' rows (at most "
                f"{self.config.night.max_changed:.0%} of the titles a night, a cold refit every "
                f"{self.config.night.cold_every_days:g} days); benchmarks/bench_nightly.py --warm-night "
                "measures how their lists agree with a cold build (docs/deploy.md)."
            )
        return out


def active(config: Config, cache: Cache, catalog: Catalog, log: StageLog) -> Night | None:
    """Tonight's :class:`Night` when ``[night] warm`` is on and the build has a stage cache."""
    if not config.night.warm or cache.directory is None:
        return None
    return Night(config, cache, catalog, log)
