"""The build: catalog → models → neighbours → maps → evaluation → site + published JSON.

Every stage is cached under a key made of its inputs' keys, its own parameters and the digest of
the code it runs (:mod:`mangarec.cache`), so a change recomputes exactly the stages downstream of
it. The models, what they need and how they depend on each other come from the registry
(:data:`mangarec.models.REGISTRY`); nothing here names a model. The output is staged beside
``out_dir`` and swapped in atomically (:mod:`mangarec.outdir`), so a failed build leaves the
previous site intact and nothing but a previous build is ever replaced.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__, dates, outdir
from .cache import Cache, code_digest, code_version, make_key, module_digest, tree_digest
from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Map, Neighbours
from .errors import InputError
from .loaders.inputs import is_dir, is_regular_file, list_directory, open_input
from .models import available, fit_order, params_of, spec, uses_ratings
from .paths import SITE_SRC, TEMPLATES
from .progress import StageLog
from .report import BuildInfo, CatalogInfo, ModelInfo, NeighbourInfo, Published, RatingsInfo, Report, StageRun
from .result import BuildResult
from .seeds import derive_seed
from .workers import Background, fork_pool

if TYPE_CHECKING:
    from .evaluation.results import Evaluation
    from .night import Night


def _spec_path(spec_: str) -> Path:
    head, sep, tail = spec_.partition(":")
    if sep and head and "/" not in head and "\\" not in head and not Path(spec_).exists():
        return Path(tail)
    return Path(spec_)


def inputs_digest(specs: Sequence[str]) -> str:
    """SHA-256 over every input's format prefix and bytes (a directory: its regular files' names
    and bytes, sorted). Paths are not hashed: the same data elsewhere has the same digest.

    Every path is checked before it is read, as the loaders check it (:mod:`.loaders.inputs`): a
    named pipe, a socket, a device, a missing path or a directory that cannot be listed is a
    one-line :class:`InputError`, never a wait or a traceback. Inside a directory only regular
    files count (the loaders read nothing else there): a FIFO or a locked subfolder is skipped.
    """
    h = hashlib.sha256()
    for s in specs:
        p = _spec_path(s)
        head = s[: len(s) - len(str(p))] if s.endswith(str(p)) else ""
        h.update(head.encode() + b"\0")
        folder = is_dir(p)
        files = [f for f in list_directory(p) if is_regular_file(f)] if folder else [p]
        for f in files:
            h.update((f.name if folder else "").encode("utf-8", "surrogateescape") + b"\0")
            with open_input(f, allow_empty=True) as fh:
                try:
                    while block := fh.read(1 << 20):
                        h.update(block)
                except OSError as e:
                    raise InputError(f"cannot read: {e.strerror}", str(f)) from None
            h.update(b"\0")
    return h.hexdigest()


def build_date(catalog: Catalog) -> str | None:
    """The build's date from content (or ``SOURCE_DATE_EPOCH``): see :func:`mangarec.dates.build_date`."""
    return dates.build_date(item.date for item in catalog.items)


def stamp_key(specs: Sequence[str], config: Config, include_adult: bool, limit: int | None) -> str:
    """The output's up-to-date key: input bytes, configuration, options, code, templates, site sources."""
    return make_key(
        "build",
        inputs_digest(specs),
        config,
        include_adult,
        limit,
        dates.source_date_epoch(),
        code_version(),
        tree_digest(TEMPLATES, SITE_SRC),
    )


@dataclass
class _Stages:
    """Runs cached stages and remembers each one (computed or cached, and its time)."""

    cache: Cache
    log: StageLog

    def __post_init__(self) -> None:
        self.runs: list[StageRun] = []

    def _record(self, name: str, cached: bool, seconds: float) -> None:
        self.runs.append(StageRun(name, cached, round(seconds, 3)))

    def _hit(self, name: str, key: str, value: Any) -> Any:
        """Count and record a stage found in the cache; returns its ``value``."""
        self.cache.hits += 1
        self.log.record(name, 0.0, "cached")
        self._record(name, True, self.cache.seconds.get(key, 0.0))
        return value

    def _computed(self, name: str, key: str, value: Any, seconds: float) -> Any:
        """Count, cache and record a stage computed in a worker; returns its ``value``."""
        self.cache.misses += 1
        self.cache.put(key, value, seconds)
        self.log.record(name, seconds)
        self._record(name, False, seconds)
        return value

    def run(self, name: str, key: str, compute: Callable[[], Any]) -> Any:
        value = self.cache.get(key)
        if value is not None:
            return self._hit(name, key, value)
        self.cache.misses += 1
        with self.log.stage(name):
            t0 = time.perf_counter()
            value = compute()
            seconds = time.perf_counter() - t0
        self.cache.put(key, value, seconds)
        self._record(name, False, seconds)
        return value

    def start(self, name: str, key: str, compute: Callable[[], Any]) -> Callable[[], Any]:
        """Like :meth:`run`, but a miss is computed in a forked worker started now
        (:class:`~mangarec.workers.Background`), beside what the build does next; returns the
        function that waits for the value (and caches and records it)."""
        value = self.cache.get(key)
        if value is not None:
            return lambda: self._hit(name, key, value)  # loaded once, not again when collected
        job = Background(compute)

        return lambda: self._computed(name, key, *job.result())

    def run_parallel(self, jobs: list[tuple[str, str, Callable[..., Any], tuple]], workers: int) -> dict[str, Any]:
        """Like :meth:`run` for independent stages ``(name, key, fn, args)``; misses run in up to
        ``workers`` forked processes that die with the build (``fn(*args)`` is deterministic)."""
        out: dict[str, Any] = {}
        todo = []
        for name, key, fn, args in jobs:
            value = self.cache.get(key)
            if value is None:
                todo.append((name, key, fn, args))
                continue
            out[name] = self._hit(name, key, value)
        if len(todo) > 1 and workers > 1:
            with fork_pool(workers) as pool:
                results = list(pool.map(_timed, [(fn, args) for _, _, fn, args in todo]))
        else:
            results = [_timed((fn, args)) for _, _, fn, args in todo]
        for (name, key, _, _), (value, seconds) in zip(todo, results):
            out[name] = self._computed(name, key, value, seconds)
        return {name: out[name] for name, *_ in jobs}


def _timed(job: tuple[Callable[..., Any], tuple]) -> tuple[Any, float]:
    fn, args = job
    t0 = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t0


#: The code of the neighbour search (the lists, and a night's update of them).
NEIGHBOURS_CODE = ("mangarec.neighbours", "mangarec.neighbours_update")
#: The code of a map: ``umap_map`` runs ``neighbours.exact`` lazily.
MAP_CODE = ("mangarec.models.umap_map", *NEIGHBOURS_CODE)

#: The catalog fields the neighbour search reads beyond the embedding: ties go to the more
#: popular title (:attr:`Catalog.tie_order`).
NEIGHBOUR_FIELDS = frozenset({"popularity"})


def _model_key(name: str, config: Config, catalog: Catalog, dep_keys: Sequence[str], *extra: Any) -> str:
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


def _fit_all(
    catalog: Catalog,
    names: Sequence[str],
    config: Config,
    stages: _Stages,
    *,
    fitted: Mapping[str, Embedding] | None = None,
    fitted_keys: Mapping[str, str] | None = None,
    suffix: str = "",
    extra: tuple = (),
    night: Night | None = None,
) -> tuple[dict[str, Embedding], dict[str, str]]:
    """Fit ``names`` and their dependencies (in dependency order), each through the cache;
    returns embeddings and keys.

    ``fitted`` / ``fitted_keys``: embeddings (and their keys) to use as they are instead of
    fitting them (the held-out fits reuse the full fits of dependencies that read no ratings);
    ``suffix`` names the stages, ``extra`` goes into every key; ``night``: a warm night's
    decisions (:meth:`mangarec.night.Night.model`: last night's global state, updated).
    """
    from .models import fit_model

    embeddings: dict[str, Embedding] = dict(fitted or {})
    model_keys: dict[str, str] = dict(fitted_keys or {})
    for name in fit_order(names):
        if name in embeddings:
            continue
        s = spec(name)
        model_keys[name] = _model_key(name, config, catalog, [model_keys[d] for d in s.depends], *extra)
        deps = {d: embeddings[d] for d in s.depends}
        fit: Callable[[], Embedding] = functools.partial(fit_model, name, catalog, config, config.seed, deps)
        if night is not None:
            model_keys[name], fit = night.model(name, model_keys[name], deps, fit)
        embeddings[name] = stages.run(f"model:{name}{suffix}", model_keys[name], fit)
        if night is not None:
            night.fitted(name, model_keys[name], embeddings[name])
    return embeddings, model_keys


def _neighbours_all(
    catalog: Catalog,
    embeddings: Mapping[str, Embedding],
    model_keys: Mapping[str, str],
    config: Config,
    stages: _Stages,
) -> tuple[dict[str, Neighbours], dict[str, str]]:

    code = code_digest(*NEIGHBOURS_CODE)
    ties = catalog.fields_fingerprint(NEIGHBOUR_FIELDS)
    ties_key = make_key("tie order", ties)
    out: dict[str, Neighbours] = {}
    nb_keys: dict[str, str] = {}
    for name, emb in embeddings.items():
        nb_keys[name] = make_key("neighbours", model_keys[name], ties, config.neighbours, config.seed, code)
        out[name] = stages.run(
            f"neighbours:{name}",
            nb_keys[name],
            functools.partial(_night_neighbours, name, emb, catalog, config, stages, nb_keys[name], ties_key),
        )
        last = {"model": model_keys[name], "key": nb_keys[name], "ties": ties_key}
        if out[name].method == "exact" and stages.cache.pointer(f"neighbours-{name}") != last:
            if stages.cache.get(ties_key) is None:
                stages.cache.put(ties_key, catalog.tie_order.tolist())
            stages.cache.set_pointer(f"neighbours-{name}", last)
    return out, nb_keys


def _night_neighbours(
    name: str, emb: Embedding, catalog: Catalog, config: Config, stages: _Stages, key: str, ties_key: str
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
                    f"{inc['ranked']:,} of {len(emb.item_ids):,} lists ranked again, the rest kept"
                )
                return replace(got, info={**got.info, "recall": None, "reason": reason})
    return nb.compute(emb, config.neighbours, catalog.tie_order, derive_seed(config.seed, "neighbours", name))


def _maps_all(
    embeddings: Mapping[str, Embedding], model_keys: Mapping[str, str], config: Config, stages: _Stages
) -> dict[str, Map]:
    """UMAP maps; each is single-threaded (seeded UMAP), so they run side by side on the cores.

    With ``umap.warm_epochs`` > 0, a map whose model changed since the last build starts from
    that build's map (the cache's pointer ``map-<model>`` names it), and its key holds the
    previous map's key: the same inputs and the same history give the same map.
    """
    from .models.umap_map import fit_map

    code = code_digest(*MAP_CODE)
    cache = stages.cache
    jobs, pointers = [], {}
    for name, emb in embeddings.items():
        if name not in config.site.maps:
            continue
        key = make_key("map", model_keys[name], config.umap, config.seed, code)
        previous = None
        if config.umap.warm_epochs > 0:
            last = cache.pointer(f"map-{name}")
            if last is not None and last.get("cold") == key:
                key = last["key"]  # the same model as last night: last night's map
            elif last is not None and (previous := cache.get(str(last.get("key")))) is not None:
                pointers[name] = {"cold": key, "key": make_key("warm map", key, last["key"])}
                key = pointers[name]["key"]
            else:
                pointers[name] = {"cold": key, "key": key}
        jobs.append((f"map:{name}", key, fit_map, (emb, config.umap, derive_seed(config.seed, "map", name), previous)))
    maps = stages.run_parallel(jobs, workers=min(2, os.cpu_count() or 1))
    for name, pointer in pointers.items():
        cache.set_pointer(f"map-{name}", pointer)
    return {name: maps[f"map:{name}"] for name in embeddings if name in config.site.maps}


def _heldout_fits(
    catalog: Catalog,
    names: Sequence[str],
    embeddings: Mapping[str, Embedding],
    model_keys: Mapping[str, str],
    config: Config,
    stages: _Stages,
    eval_seed: int,
    cold: bool = False,
) -> tuple[dict[str, Embedding], dict[str, Neighbours], list[str]]:
    """The models of ``names`` whose fit reads ratings (trained on them, or depending on one that
    is: :func:`mangarec.models.uses_ratings`), refitted without the held-out likes: ``(embeddings,
    neighbours, cache keys)``, what the evaluation scores on the test likes (a fair hit rate).
    With ``cold``: refitted without any rating of the cold-start titles
    (:func:`mangarec.evaluation.colikes.cold_catalog`), what the cold-start protocol scores.
    ``embeddings`` / ``model_keys``: the full fits (dependencies included).

    Each refit goes through the cache like the full fits (:func:`_fit_all` on the split): a
    dependency whose fit reads no ratings is the full fit itself (its key unchanged), one that
    does is refitted on the split too; every refit's key holds its dependencies' keys.
    """
    from . import neighbours as nb
    from .evaluation import evaluation_split
    from .evaluation.colikes import cold_catalog

    refit = [n for n in names if uses_ratings(n)]
    if not refit or catalog.ratings is None:
        return {}, {}, []
    if cold:
        split = cold_catalog(catalog, config.evaluation, eval_seed)
    else:
        train, _ = evaluation_split(catalog.ratings, config.evaluation, eval_seed)
        split = replace(catalog, ratings=train)
    what = "cold-start fit" if cold else "held-out fit"
    reuse = [n for n in fit_order(refit) if not uses_ratings(n) and n in embeddings]
    split_part = ("cold" if cold else "heldout", config.evaluation, module_digest("mangarec.evaluation"))
    fits, fit_keys = _fit_all(
        split,
        refit,
        config,
        stages,
        fitted={n: embeddings[n] for n in reuse},
        fitted_keys={n: model_keys[n] for n in reuse},
        suffix=f" ({what})",
        extra=split_part,
    )
    embs: dict[str, Embedding] = {}
    nbs: dict[str, Neighbours] = {}
    out_keys: list[str] = []
    code = code_digest(*NEIGHBOURS_CODE)
    for name in refit:
        embs[name] = emb = fits[name]
        nb_key = make_key("heldout-neighbours", fit_keys[name], config.neighbours, code)

        def neighbours_of(e: Embedding = emb, n: str = name) -> Neighbours:
            return nb.compute(e, config.neighbours, catalog.tie_order, derive_seed(config.seed, "neighbours", n))

        nbs[name] = stages.run(f"neighbours:{name} ({what})", nb_key, neighbours_of)
        out_keys += [fit_keys[name], nb_key]
    return embs, nbs, out_keys


def _content_candidates(
    catalog: Catalog, embeddings: Mapping[str, Embedding], held: Mapping[str, Embedding]
) -> dict[str, Embedding]:
    """Publishable content models to score on the visitor path beside the held-out fits
    (only when some model was refitted on ratings: then there is something to choose)."""
    if not held or catalog.ratings is None:
        return {}
    return {
        n: e
        for n, e in embeddings.items()
        if n not in held and spec(n).publish_rank is not None and not spec(n).trained_on_ratings
    }


def _visitor_precision(evaluation: Evaluation | None) -> dict[str, float]:
    """Held-out precision@10 of a visitor who told all its training likes, per model."""
    out = {}
    for v in evaluation.visitor if evaluation is not None else ():
        m = v.likes.get("all likes") or (list(v.likes.values())[-1] if v.likes else None)
        if m is not None and m.precision.mean is not None:
            out[v.model] = float(m.precision.mean)
    return out


def _publish_choice(config: Config, built: Sequence[str], evaluation: Evaluation | None = None) -> tuple[str, str]:
    """The published model and why: ``publish.model``; or (``auto``) the publishable model with
    the best held-out visitor precision@10 when ratings let the evaluation score more than one
    (ALS against the content models); else the built model of lowest ``publish_rank``."""
    chosen = config.publish.model
    if chosen != "auto":
        if chosen not in built:
            raise InputError(f"publish.model = {chosen!r}: that model was not built for this catalog")
        return chosen, f"publish.model = {chosen!r} in the configuration."
    ranked = sorted((s.publish_rank, i, n) for i, n in enumerate(built) if (s := spec(n)).publish_rank is not None)
    scores = {n: p for n, p in _visitor_precision(evaluation).items() if n in built and spec(n).publish_rank}
    if len(scores) > 1:
        best = max(scores, key=lambda n: (scores[n], -spec(n).publish_rank))  # type: ignore[operator]
        others = ", ".join(f"{spec(n).label} {p:.3f}" for n, p in sorted(scores.items()) if n != best)
        return best, (
            f"{spec(best).label} is published for personalisation: a visitor's held-out precision@10 is "
            f"{scores[best]:.3f} with it, against {others} (same users, same hidden likes; figures below)."
        )
    chosen = ranked[0][2] if ranked else built[0]
    return chosen, f"{spec(chosen).label} is published: the registry's preference (no held-out figures to compare)."


def _catalog_info(catalog: Catalog) -> CatalogInfo:
    r = catalog.ratings
    kinds: dict[str, int] = {}
    for item in catalog.items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    return CatalogInfo(
        items=len(catalog),
        tags=len(catalog.tag_vocabulary),
        sources=tuple(Path(s).name for s in catalog.sources),
        skipped=dict(sorted(catalog.skipped.items())),
        ratings=None if r is None else RatingsInfo(users=r.n_users, ratings=r.nnz, implicit=r.implicit),
        kinds=dict(sorted(kinds.items())),
    )


def run_build(
    data_specs: Sequence[str],
    out_dir: Path,
    config: Config,
    *,
    include_adult: bool = False,
    limit: int | None = None,
    cache_dir: Path | None = None,
    quiet: bool = True,
    log: StageLog | None = None,
    force: bool = False,
    protected: Sequence[tuple[str, Path]] = (),
) -> BuildResult | None:
    """Build the site from ``data_specs`` into ``out_dir``.

    Returns the :class:`BuildResult`, or ``None`` when ``out_dir`` is already up to date (same
    input bytes, configuration, options, code, templates and site sources) and ``force`` is
    false.

    Parameters
    ----------
    protected:
        ``(what, path)`` pairs ``out_dir`` may not be or contain (the CLI passes the project,
        the current and home directories and the inputs).

    Raises
    ------
    InputError
        Bad data, options or output path (one line); ``out_dir`` is left as it was.
    """
    log = log or StageLog(quiet=quiet)
    out = outdir.check(Path(out_dir), protected)
    notes = outdir.recover(out)
    for n in notes:
        log.note(n)
    with log.stage("inputs"):
        key = stamp_key(data_specs, config, include_adult, limit)
    old = outdir.read_stamp(out)
    if not force and old is not None and old.key == key:
        log.note(f"{out_dir} is up to date (same inputs, configuration, code and templates): nothing rebuilt")
        return None
    tmp = outdir.stage(out)  # before any work: a read-only parent fails now, not after the models
    cache = Cache(cache_dir)
    stages = _Stages(cache, log)
    log.begin(2 + 3 * len(config.site.models) + 4)
    try:
        previous = out if old is not None else None  # a previous build (outdir.check refused anything else)
        result = _run(data_specs, tmp, config, include_adult, limit, log, stages, notes, previous)
        outdir.swap_in(tmp, out, key)
    except OSError as e:
        outdir.discard(tmp)
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise InputError(f"cannot write the site: {e.strerror}", e.filename or str(out)) from None
        raise
    except BaseException:
        outdir.discard(tmp)
        raise
    finally:
        log.end()
    log.note(f"cache: {cache.hits} hit(s), {cache.misses} miss(es)")
    return result


def _run(
    data_specs: Sequence[str],
    tmp: Path,
    config: Config,
    include_adult: bool,
    limit: int | None,
    log: StageLog,
    stages: _Stages,
    notes: list[str],
    previous: Path | None = None,
) -> BuildResult:
    """The stages of :func:`run_build` after the up-to-date check, writing into ``tmp``
    (``previous``: the site being replaced, whose unchanged title pages are carried over)."""
    from .evaluation import evaluate, evaluation_of
    from .loaders import load_catalog

    with log.stage("load"):
        catalog = load_catalog(
            list(data_specs),
            include_adult=include_adult,
            adult_tags=config.catalog.adult_tags,
            min_tags=config.catalog.min_tags,
            limit=limit,
        )
    if len(catalog) < 2:
        raise InputError(
            f"the catalog has {len(catalog)} item(s) after filtering: at least 2 are needed", ", ".join(data_specs)
        )
    date = build_date(catalog)

    def note(message: str) -> None:
        notes.append(message)
        log.note(message)

    names, left_out = available(catalog, config.site.models)
    for name, why in left_out.items():
        note(f"model {name} left out: {why}")
    if not names:
        raise InputError(
            f"none of the models in site.models ({', '.join(config.site.models)}) can run on this "
            f"catalog: {'; '.join(f'{n}: {w}' for n, w in left_out.items())}"
        )
    from . import night as warm

    night = warm.active(config, stages.cache, catalog, log)
    fitted, model_keys = _fit_all(catalog, names, config, stages, night=night)
    embeddings = {n: fitted[n] for n in names}
    neighbours, nb_keys = _neighbours_all(catalog, embeddings, model_keys, config, stages)

    eval_seed = derive_seed(config.seed, "evaluate")
    held_emb, held_nb, heldout_keys = _heldout_fits(catalog, names, fitted, model_keys, config, stages, eval_seed)
    _, cold_nb, cold_keys = _heldout_fits(catalog, names, fitted, model_keys, config, stages, eval_seed, cold=True)
    # the hybrid is refitted too (it depends on colike), but only rating-trained models fold visitors in
    held_trained = {n: e for n, e in held_emb.items() if spec(n).trained_on_ratings}
    candidates = _content_candidates(catalog, embeddings, held_trained)
    eval_key = make_key(
        "evaluate",
        [nb_keys[n] for n in names],
        heldout_keys,
        cold_keys,
        sorted(model_keys[n] for n in candidates),
        catalog.fingerprint,
        config.evaluation,
        config.seed,
        module_digest("mangarec.evaluation"),
    )
    eval_key, kept = night.evaluation_key(eval_key, names, date) if night is not None else (eval_key, None)
    # the evaluation (one core) runs in a forked worker beside the maps (two at a time)
    evaluated = stages.start(
        "evaluate",
        eval_key,
        lambda: evaluate(
            catalog,
            neighbours,
            config.evaluation,
            eval_seed,
            heldout_embeddings=held_trained,
            heldout_neighbours=held_nb,
            cold_neighbours=cold_nb,
            candidates=candidates,
        ),
    )
    if night is not None:
        umap = replace(config.umap, warm_epochs=config.night.map_epochs or config.umap.warm_epochs)
        maps = night.maps(
            embeddings, model_keys, stages, lambda e: _maps_all(e, model_keys, replace(config, umap=umap), stages)
        )
    else:
        maps = _maps_all(embeddings, model_keys, config, stages)
    evaluation = evaluation_of(evaluated())
    if night is not None:  # what the models page says of a warm night
        evaluation = replace(evaluation, notes=(*evaluation.notes, *night.notes(kept, embeddings)))

    from .compact import CompactOptions
    from .publish import write_collect
    from .published import write_published

    published_model, why = _publish_choice(config, names, evaluation)
    fold = embeddings[published_model].foldin
    with log.stage("write:embeddings"):
        sizes = write_published(
            tmp,
            catalog,
            embeddings[published_model],
            reg=fold.reg,
            mode=fold.mode,
            alpha=fold.alpha,
            schedule=fold.schedule,
            build_date=date or "unknown",
            top_n=config.publish.top_n,
            compact=CompactOptions.of(config.publish, published_model),
        )
        if config.privacy.collect_url:
            sizes |= write_collect(tmp, catalog, config.privacy.collect_url, config.privacy.min_cohort)
    for n in stages.cache.notes:
        log.note(n)  # about this run, not the site: printed, not published
    report = make_report(
        catalog,
        config,
        embeddings,
        neighbours,
        evaluation,
        date=date,
        left_out=left_out,
        published=Published(model=published_model, mode=fold.mode, sizes=sizes, why=why),
        notes=notes,
        stages=stages.runs,
    )
    result = BuildResult(
        catalog=catalog,
        embeddings=embeddings,
        neighbours=neighbours,
        maps=maps,
        report=report,
        config=config,
        build_date=date,
    )
    _write_output(tmp, result, log, stages.cache, previous)
    return result


def make_report(
    catalog: Catalog,
    config: Config,
    embeddings: Mapping[str, Embedding],
    neighbours: Mapping[str, Neighbours],
    evaluation: Evaluation,
    *,
    date: str | None,
    left_out: Mapping[str, str] | None = None,
    published: Published | None = None,
    notes: Sequence[str] = (),
    stages: Sequence[StageRun] = (),
) -> Report:
    """The build's :class:`~mangarec.report.Report` from its stages' results."""
    return Report(
        build=BuildInfo(version=__version__, seed=config.seed, date=date),
        catalog=_catalog_info(catalog),
        models=tuple(
            ModelInfo(
                name=n,
                label=spec(n).label,
                summary=spec(n).summary,
                dim=embeddings[n].dim,
                info=_public_info(embeddings[n].info, config.site.show_timings),
                neighbours=NeighbourInfo(
                    method=nb.method, k=nb.k, recall=nb.info.get("recall"), reason=nb.info.get("reason")
                ),
            )
            for n, nb in neighbours.items()
        ),
        left_out=dict(left_out or {}),
        evaluation=evaluation,
        published=published,
        notes=tuple(notes),
        stages=tuple(stages),
    )


def _public_info(info: Mapping[str, Any], show_timings: bool) -> Mapping[str, Any]:
    """A model's ``info`` for the report; keys holding timings (``*seconds*``) only with show_timings."""
    return {k: v for k, v in info.items() if show_timings or "seconds" not in k}


#: The cache's pointer to the last build's title-page digests (:mod:`mangarec.site.carry`).
PAGES_POINTER = "pages"


def _write_output(tmp: Path, result: BuildResult, log: StageLog, cache: Cache, previous: Path | None) -> None:
    """The site into ``tmp``; title pages whose inputs did not change since the last build
    (its digests in ``cache``, its site ``previous``) are copied from it rather than rendered."""
    from .site import write_site
    from .site.carry import Carry
    from .site.neighbour_csv import write_csv

    last = cache.pointer(PAGES_POINTER)
    old = cache.get(str(last.get("key"))) if last and previous is not None else None
    carry = Carry(previous, old) if isinstance(old, dict) else Carry()

    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    c = result.config.site.csv_neighbours
    if c:
        (data / "neighbours").mkdir(exist_ok=True)
    with log.stage("write:neighbours"):
        for name, nbr in result.neighbours.items() if c else ():
            write_csv(
                replace(nbr, indices=nbr.indices[:, :c], scores=nbr.scores[:, :c]),
                data / "neighbours" / f"{name}.csv.gz",
            )
    with log.stage("write:site"):
        site_stats = write_site(result, tmp, carry=carry)
    digests = site_stats["digests"]
    if cache.directory is not None and digests:
        key = make_key("pages", sorted(digests.items()))
        if cache.get(key) is None:
            cache.put(key, digests)
        cache.set_pointer(PAGES_POINTER, {"key": key})
    if site_stats["carried"]:
        log.note(f"write:site: {site_stats['carried']:,} of {len(digests):,} title pages unchanged, carried over")
    for remark in site_stats.get("notes", ()):
        log.note(remark)
    doc = result.report.to_json(timings=result.config.site.show_timings)
    (data / "report.json").write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    size, warning = size_report(tmp, len(result.catalog), result.config.site.max_bytes)
    log.note(size)
    if warning:
        log.warn(warning)


#: Share of ``site.max_bytes`` from which the build warns.
WARN_SHARE = 0.9


def site_size(root: Path) -> tuple[int, int]:
    """``(bytes, files)`` of the site under ``root`` as GitHub Pages counts it: what
    ``actions/upload-pages-artifact`` packs, i.e. every file with links followed (its tar
    dereferences symbolic and hard links: each copy counts) and hidden names (``.*``, e.g. the
    build's ``.mangarec-stamp``) left out with everything under them."""
    total = files = 0
    for dirpath, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith("."):
                total += os.stat(os.path.join(dirpath, name)).st_size
                files += 1
    return total, files


def size_report(root: Path, titles: int, max_bytes: int) -> tuple[str, str | None]:
    """The build's size note (bytes, files, bytes per title of the site in ``root``) and a
    one-line warning when the site is within ``1 - WARN_SHARE`` of ``max_bytes``
    (``site.max_bytes``) or over it (``None`` otherwise)."""
    total, files = site_size(root)
    note = f"site: {total / 1e6:.1f} MB in {files} files, {total / max(titles, 1) / 1024:.1f} KB per title"
    mb, limit = total / 1e6, max_bytes / 1e6
    if total > max_bytes:
        return note, f"the site ({mb:.1f} MB) is over site.max_bytes ({limit:.1f} MB): the host will refuse it"
    if total >= WARN_SHARE * max_bytes:
        share = total / max_bytes
        return note, f"the site ({mb:.1f} MB) is {share:.0%} of site.max_bytes ({limit:.1f} MB): near the host's limit"
    return note, None


__all__ = ["build_date", "inputs_digest", "make_report", "run_build", "site_size", "size_report", "stamp_key"]
