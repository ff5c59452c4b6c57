"""The build's cached stages, handed to the :class:`~mangarec.schedule.Scheduler`.

Each function adds stages and returns their names by model; keys are made when a stage is
prepared, from the keys of the stages it reads (:meth:`Scheduler.key`), so a change recomputes
exactly what is downstream of it:

* :func:`add_fits`: the models and their dependencies (``model:<name>``);
* :func:`add_neighbours`: each model's lists (``neighbours:<name>``), updated from the last
  build's when few titles changed (:func:`night_neighbours`);
* :func:`add_heldout`: the models whose fit reads ratings, refitted on the evaluation's split,
  and their lists (``model:<name> (held-out fit)``, ``neighbours:<name> (held-out fit)``);
* :func:`add_maps`: the UMAP maps (``map:<name>``).

Nothing here names a model: what a model reads and depends on comes from the registry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .cache import code_digest, make_key, module_digest
from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Neighbours
from .models import fit_order, params_of, spec, uses_ratings
from .schedule import Job, Scheduler, Stages
from .seeds import derive_seed

if TYPE_CHECKING:
    from .config import UMAPSection
    from .night import Night

#: The code of the neighbour search (the lists, and a night's update of them).
NEIGHBOURS_CODE = ("mangarec.neighbours", "mangarec.neighbours_update")
#: The code of a map: ``umap_map`` runs ``neighbours.exact`` lazily.
MAP_CODE = ("mangarec.models.umap_map", *NEIGHBOURS_CODE)

#: The catalog fields the neighbour search reads beyond the embedding: ties go to the more
#: popular title (:attr:`Catalog.tie_order`).
NEIGHBOUR_FIELDS = frozenset({"popularity"})

#: Start ranks among ready stages (lower first): a fit other fits wait for, then the longest
#: first, so that the last stages to finish are short ones. On MangaDex a search under a
#: model's own similarity takes 10-40 s of CPU, a map 10-20 s, a fit up to 11 s, a search of
#: dense vectors 2-4 s.
DEPENDED_RANK, SCORED_RANK, MAP_RANK, FIT_RANK, NEIGHBOURS_RANK = -3, -2, -1, 0, 1


def model_key(name: str, config: Config, catalog: Catalog, dep_keys: Sequence[str], *extra: Any) -> str:
    """A model's key: the fingerprints of the catalog fields it reads (:attr:`ModelSpec.fields`),
    its parameters, the seed, its code and its dependencies' keys (``extra``: more parts, e.g.
    the evaluation's split for a held-out fit)."""
    s = spec(name)
    return make_key(
        "model",
        name,
        catalog.fields_fingerprint(s.fields),
        params_of(config, name),
        config.seed,
        module_digest(s.fit.__module__),
        list(dep_keys),
        *extra,
    )


def add_fits(
    sched: Scheduler,
    catalog: Catalog,
    names: Sequence[str],
    config: Config,
    *,
    reuse: Mapping[str, str] | None = None,
    suffix: str = "",
    extra: tuple = (),
    night: Night | None = None,
) -> dict[str, str]:
    """Fit ``names`` and their dependencies (in dependency order); returns each model's stage.

    ``reuse``: ``{model: stage}`` of fits to use as they are instead of fitting them (the
    held-out fits reuse the full fits of dependencies that read no ratings); ``suffix`` names
    the stages, ``extra`` goes into every key; ``night``: a warm night's decisions
    (:meth:`mangarec.night.Night.model`: last night's global state, updated).
    """
    from .models import fit_model

    stage_of: dict[str, str] = dict(reuse or {})
    order = fit_order(names)
    depended = {d for n in order for d in spec(n).depends}  # on the longest path: first
    for name in order:
        if name in stage_of:
            continue
        needs = [stage_of[d] for d in spec(name).depends]

        def prepare(values: Mapping[str, Any], name: str = name, needs: list[str] = needs) -> Job:
            deps = {d: values[n] for d, n in zip(spec(name).depends, needs)}
            key = model_key(name, config, catalog, [sched.key(n) for n in needs], *extra)
            fit: Callable[[], Embedding] = functools.partial(fit_model, name, catalog, config, config.seed, deps)
            if night is None:
                return Job(key, fit)
            key, fit = night.model(name, key, deps, fit)
            return Job(key, fit, functools.partial(night.fitted, name, key))

        stage_of[name] = f"model:{name}{suffix}"
        sched.add(stage_of[name], needs, prepare, DEPENDED_RANK if name in depended else FIT_RANK)
    return stage_of


def add_neighbours(
    sched: Scheduler, catalog: Catalog, fits: Mapping[str, str], names: Sequence[str], config: Config
) -> dict[str, str]:
    """Each model's lists (its stage by model), through :func:`night_neighbours`; an exact
    search leaves the cache's pointer ``neighbours-<model>`` to what the next build starts from."""
    code = code_digest(*NEIGHBOURS_CODE)
    ties = catalog.fields_fingerprint(NEIGHBOUR_FIELDS)
    ties_key = make_key("tie order", ties)
    cache = sched.stages.cache
    out = {}
    for name in names:

        def prepare(values: Mapping[str, Any], name: str = name) -> Job:
            model = sched.key(fits[name])
            key = make_key("neighbours", model, ties, config.neighbours, config.seed, code)

            def then(nb: Neighbours) -> None:
                last = {"model": model, "key": key, "ties": ties_key}
                if nb.method == "exact" and cache.pointer(f"neighbours-{name}") != last:
                    if cache.get(ties_key) is None:
                        cache.put(ties_key, catalog.tie_order.tolist())
                    cache.set_pointer(f"neighbours-{name}", last)

            emb = values[fits[name]]
            compute = functools.partial(night_neighbours, name, emb, catalog, config, sched.stages, key, ties_key)
            return Job(key, compute, then, rank=SCORED_RANK if emb.similarity is not None else NEIGHBOURS_RANK)

        out[name] = f"neighbours:{name}"
        sched.add(out[name], [fits[name]], prepare, NEIGHBOURS_RANK)
    return out


def night_neighbours(
    name: str, emb: Embedding, catalog: Catalog, config: Config, stages: Stages, key: str, ties_key: str
) -> Neighbours:
    """A model's lists: updated from the last build's (the cache's pointer ``neighbours-<model>``
    names its embedding, lists and tie order) when few titles changed
    (:func:`mangarec.neighbours_update.update`, exact: the same lists as a cold search, so the
    same key); else searched cold (:func:`mangarec.neighbours.compute`)."""
    from . import neighbours as nb
    from . import neighbours_update as nu

    method, reason = nb.method_for(emb, config.neighbours)
    last = stages.cache.pointer(f"neighbours-{name}")
    if method == "exact" and last is not None and last.get("key") != key:
        prev, prev_nb, prev_ties = (stages.cache.get(str(last.get(p))) for p in ("model", "key", "ties"))
        if isinstance(prev, Embedding) and isinstance(prev_nb, Neighbours) and isinstance(prev_ties, list):
            k = min(config.neighbours.k, len(emb.item_ids) - 1)
            got = nu.update(prev, prev_nb, np.asarray(prev_ties, dtype=np.int64), emb, catalog.tie_order, k)
            if got is not None:
                inc = got.info["incremental"]
                stages.log.note(
                    f"neighbours:{name}: {inc['changed']:,} title(s) changed since the last build, "
                    f"{inc['ranked']:,} of {len(emb.item_ids):,} lists ranked again, {inc.get('merged', 0):,} merged, "
                    "the rest kept"
                )
                return replace(got, info={**got.info, "recall": None, "reason": reason})
    return nb.compute(emb, config.neighbours, catalog.tie_order, derive_seed(config.seed, "neighbours", name))


def add_heldout(
    sched: Scheduler,
    catalog: Catalog,
    names: Sequence[str],
    fits: Mapping[str, str],
    config: Config,
    eval_seed: int,
    cold: bool = False,
) -> tuple[dict[str, str], dict[str, str]]:
    """The models of ``names`` whose fit reads ratings (trained on them, or depending on one that
    is: :func:`mangarec.models.uses_ratings`), refitted without the held-out likes, and their
    lists: ``({model: fit stage}, {model: lists stage})``, what the evaluation scores on the test
    likes (a fair hit rate). With ``cold``: refitted without any rating of the cold-start titles
    (:func:`mangarec.evaluation.colikes.cold_catalog`), what the cold-start protocol scores.
    ``fits``: the full fits' stages (dependencies included).

    Each refit goes through the cache like the full fits (:func:`add_fits` on the split): a
    dependency whose fit reads no ratings is the full fit itself (its key unchanged), one that
    does is refitted on the split too; every refit's key holds its dependencies' keys.
    """
    from . import neighbours as nb
    from .evaluation import evaluation_split
    from .evaluation.colikes import cold_catalog

    refit = [n for n in names if uses_ratings(n)]
    if not refit or catalog.ratings is None:
        return {}, {}
    if cold:
        split = cold_catalog(catalog, config.evaluation, eval_seed)
    else:
        train, _ = evaluation_split(catalog.ratings, config.evaluation, eval_seed)
        split = replace(catalog, ratings=train)
    what = "cold-start fit" if cold else "held-out fit"
    reuse = {n: fits[n] for n in fit_order(refit) if not uses_ratings(n) and n in fits}
    split_part = ("cold" if cold else "heldout", config.evaluation, module_digest("mangarec.evaluation"))
    refits = add_fits(sched, split, refit, config, reuse=reuse, suffix=f" ({what})", extra=split_part)
    code = code_digest(*NEIGHBOURS_CODE)
    lists = {}
    for name in refit:

        def prepare(values: Mapping[str, Any], name: str = name) -> Job:
            key = make_key("heldout-neighbours", sched.key(refits[name]), config.neighbours, code)
            seed = derive_seed(config.seed, "neighbours", name)
            return Job(
                key, functools.partial(nb.compute, values[refits[name]], config.neighbours, catalog.tie_order, seed)
            )

        lists[name] = f"neighbours:{name} ({what})"
        sched.add(lists[name], [refits[name]], prepare, NEIGHBOURS_RANK)
    return {n: refits[n] for n in refit}, lists


def add_maps(
    sched: Scheduler, embeddings: Mapping[str, Embedding], fits: Mapping[str, str], config: Config
) -> dict[str, str]:
    """UMAP maps of the models of ``embeddings`` the site draws (``site.maps``); each is
    single-threaded (seeded UMAP). Returns each map's stage.

    With ``umap.warm_epochs`` > 0, a map whose model changed since the last build starts from
    that build's map (the cache's pointer ``map-<model>`` names it), and its key holds the
    previous map's key: the same inputs and the same history give the same map.
    """
    from .models.umap_map import fit_map

    code = code_digest(*MAP_CODE)
    cache = sched.stages.cache
    setup = functools.partial(load_umap, config.umap)
    out = {}
    for name, emb in embeddings.items():
        if name not in config.site.maps:
            continue

        def prepare(values: Mapping[str, Any], name: str = name, emb: Embedding = emb) -> Job:
            key = make_key("map", sched.key(fits[name]), config.umap, config.seed, code)
            previous, pointer = None, None
            if config.umap.warm_epochs > 0:
                last = cache.pointer(f"map-{name}")
                if last is not None and last.get("cold") == key:
                    key = last["key"]  # the same model as last night: last night's map
                elif last is not None and (previous := cache.get(str(last.get("key")))) is not None:
                    pointer = {"cold": key, "key": make_key("warm map", key, last["key"])}
                    key = pointer["key"]
                else:
                    pointer = {"cold": key, "key": key}
            seed = derive_seed(config.seed, "map", name)
            then = None if pointer is None else (lambda _: cache.set_pointer(f"map-{name}", pointer))
            return Job(key, functools.partial(fit_map, emb, config.umap, seed, previous), then, setup)

        out[name] = f"map:{name}"
        sched.add(out[name], [fits[name]], prepare, MAP_RANK)
    return out


def load_umap(umap: UMAPSection) -> None:
    """Import umap-learn and load its compiled layout code (numba) here, once, by drawing a
    60-point map: every map's worker inherits it instead of spending ~15 s of its own on it."""
    from .models.umap_map import fit_map

    x = np.random.default_rng(0).normal(size=(60, 8))
    fit_map(Embedding(model="warm-up", item_ids=tuple(map(str, range(60))), vectors=x), umap, 0)


class StageRunner:
    """``run(name, key, compute)`` of one stage through the scheduler, for code that runs a
    stage and waits for it (:meth:`mangarec.night.Night.maps`)."""

    def __init__(self, sched: Scheduler):
        self.sched = sched

    def run(self, name: str, key: str, compute: Callable[[], Any]) -> Any:
        stage = f"{name} ({key[:12]})"  # the same name may follow under another key (a map drawn cold)
        self.sched.add(stage, [], lambda _: Job(key, compute), MAP_RANK, label=name)
        return self.sched.value(stage)


__all__ = [
    "MAP_CODE",
    "NEIGHBOURS_CODE",
    "StageRunner",
    "add_fits",
    "add_heldout",
    "add_maps",
    "add_neighbours",
    "model_key",
    "night_neighbours",
]
