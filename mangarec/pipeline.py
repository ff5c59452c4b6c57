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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import dates, outdir
from .build_output import content_candidates, make_report, publish_choice, site_size, size_report, write_output
from .build_stages import MAP_CODE, NEIGHBOURS_CODE, StageRunner, add_fits, add_heldout, add_maps, add_neighbours
from .cache import Cache, code_version, make_key, module_digest, tree_digest
from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Map, Neighbours
from .errors import InputError
from .loaders.inputs import is_dir, is_regular_file, list_directory, open_input
from .models import available, spec
from .paths import SITE_SRC, TEMPLATES
from .progress import StageLog
from .report import Published
from .result import BuildResult
from .schedule import Job, Scheduler, Stages, default_workers
from .seeds import derive_seed

if TYPE_CHECKING:
    from .evaluation.results import Evaluation


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
    workers: int | None = None,
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
    workers:
        Stages computed at a time, in forked workers (:mod:`mangarec.schedule`; 1: one after
        another in this process); default :func:`mangarec.schedule.default_workers`. The output
        does not depend on it.

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
    stages = Stages(cache, log)
    workers = default_workers() if workers is None else max(1, workers)
    log.begin(2 + 3 * len(config.site.models) + 4)
    try:
        previous = out if old is not None else None  # a previous build (outdir.check refused anything else)
        result = _run(data_specs, tmp, config, include_adult, limit, log, stages, notes, previous, workers)
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
    stages: Stages,
    notes: list[str],
    previous: Path | None = None,
    workers: int = 1,
) -> BuildResult:
    """The stages of :func:`run_build` after the up-to-date check, writing into ``tmp``
    (``previous``: the site being replaced, whose unchanged title pages are carried over)."""
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
    embeddings, neighbours, maps, evaluation = _stages(catalog, names, config, stages, log, date, workers)

    from .compact import CompactOptions
    from .publish import write_collect
    from .published import write_published

    published_model, why = publish_choice(config, names, evaluation)
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
            cache=stages.cache,
            previous=previous,
            note=log.note,
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
    write_output(tmp, result, log, stages.cache, previous)
    return result


def _stages(
    catalog: Catalog,
    names: Sequence[str],
    config: Config,
    stages: Stages,
    log: StageLog,
    date: str | None,
    workers: int,
) -> tuple[dict[str, Embedding], dict[str, Neighbours], dict[str, Map], Evaluation]:
    """The models, their lists, maps and evaluation, each stage started on ``workers`` forked
    workers as soon as its inputs are ready (:mod:`mangarec.schedule`) and recorded in this
    order: fits, lists, held-out fits and their lists, maps, the evaluation."""
    from . import night as warm
    from .evaluation import evaluate, evaluation_of

    _ = (catalog.tie_order, catalog.tag_matrix)  # computed once here, inherited by every worker
    night = warm.active(config, stages.cache, catalog, log)
    sched = Scheduler(stages, workers)
    fits = add_fits(sched, catalog, names, config, night=night)
    lists = add_neighbours(sched, catalog, fits, names, config)
    eval_seed = derive_seed(config.seed, "evaluate")
    held_fits, held_lists = add_heldout(sched, catalog, names, fits, config, eval_seed)
    cold_fits, cold_lists = add_heldout(sched, catalog, names, fits, config, eval_seed, cold=True)
    embeddings = {n: sched.value(fits[n]) for n in names}
    if night is not None:
        umap = replace(config.umap, warm_epochs=config.night.map_epochs or config.umap.warm_epochs)
        cfg = replace(config, umap=umap)

        def cold_maps(e: Mapping[str, Embedding]) -> dict[str, Map]:
            return {n: sched.value(s) for n, s in add_maps(sched, e, fits, cfg).items()}

        model_keys = {n: sched.key(fits[n]) for n in names}
        maps = night.maps(embeddings, model_keys, StageRunner(sched), cold_maps)
    else:
        map_stages = add_maps(sched, embeddings, fits, config)
    # the hybrid is refitted too (it depends on colike), but only rating-trained models fold visitors in
    held_trained = [n for n in held_fits if spec(n).trained_on_ratings]
    needs = [*lists.values(), *held_fits.values(), *held_lists.values(), *cold_fits.values(), *cold_lists.values()]
    kept: list[str | None] = [None]

    def prepare(values: Mapping[str, Any]) -> Job:
        held = {n: values[held_fits[n]] for n in held_trained}
        candidates = content_candidates(catalog, embeddings, held)
        key = make_key(
            "evaluate",
            [sched.key(lists[n]) for n in names],
            [sched.key(s) for n in held_fits for s in (held_fits[n], held_lists[n])],
            [sched.key(s) for n in cold_fits for s in (cold_fits[n], cold_lists[n])],
            sorted(sched.key(fits[n]) for n in candidates),
            catalog.fingerprint,
            config.evaluation,
            config.seed,
            module_digest("mangarec.evaluation"),
        )
        if night is not None:
            key, kept[0] = night.evaluation_key(key, names, date)
        compute = functools.partial(
            evaluate,
            catalog,
            {n: values[lists[n]] for n in names},
            config.evaluation,
            eval_seed,
            heldout_embeddings=held,
            heldout_neighbours={n: values[s] for n, s in held_lists.items()},
            cold_neighbours={n: values[s] for n, s in cold_lists.items()},
            candidates=candidates,
        )
        return Job(key, compute)

    sched.add("evaluate", needs, prepare)
    values = sched.finish()
    if night is None:
        maps = {n: values[s] for n, s in map_stages.items()}
    neighbours = {n: values[lists[n]] for n in names}
    evaluation = evaluation_of(values["evaluate"])
    if night is not None:  # what the models page says of a warm night
        evaluation = replace(evaluation, notes=(*evaluation.notes, *night.notes(kept[0], embeddings)))
    return embeddings, neighbours, maps, evaluation


__all__ = [
    "MAP_CODE",
    "NEIGHBOURS_CODE",
    "build_date",
    "inputs_digest",
    "make_report",
    "run_build",
    "site_size",
    "size_report",
    "stamp_key",
]
