"""The build: catalog → models → neighbours → maps → evaluation → site + published JSON.

Every stage's artefact is cached by a hash of (its inputs, parameters, code version), so an
unchanged rebuild recomputes nothing; the output tree is written to a temporary directory
beside ``out_dir`` and swapped in only when complete, so a failed build leaves the previous
site intact.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .cache import Cache, code_version, make_key
from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Map, Neighbours
from .errors import InputError
from .fsutil import DIR_MODE
from .progress import StageLog
from .result import BuildResult
from .seeds import derive_seed

STAMP = ".mangarec-stamp"


def _spec_path(spec: str) -> Path:
    head, sep, tail = spec.partition(":")
    if sep and head and "/" not in head and "\\" not in head and not Path(spec).exists():
        return Path(tail)
    return Path(spec)


def inputs_digest(specs: Sequence[str]) -> str:
    """SHA-256 over the bytes of every input file (a directory: its files, sorted)."""
    h = hashlib.sha256()
    for spec in specs:
        p = _spec_path(spec)
        h.update(spec.encode() + b"\0")
        files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
        for f in files:
            try:
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError as e:
                raise InputError(f"cannot read: {e.strerror}", str(f)) from None
            h.update(b"\0")
    return h.hexdigest()


def build_date(specs: Sequence[str], config_path: Path | None) -> str:
    """The build's timestamp, ISO 8601 UTC.

    ``SOURCE_DATE_EPOCH`` when set (reproducible builds); otherwise the newest modification
    time among the inputs, so the same inputs give the same date and the same bytes.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            ts = int(epoch)
        except ValueError:
            raise InputError(f"SOURCE_DATE_EPOCH = {epoch!r}: must be an integer") from None
    else:
        paths = [_spec_path(s) for s in specs] + ([config_path] if config_path else [])
        ts = int(max((p.stat().st_mtime for p in paths if p.exists()), default=0))
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Stages:
    """Runs cached stages; remembers each stage's compute time (stored with its artefact)."""

    def __init__(self, cache: Cache, log: StageLog):
        self.cache = cache
        self.log = log
        self.seconds: dict[str, float] = {}

    def run(self, name: str, key: str, compute):
        with self.log.stage(name):
            value = self.cache.get_or_compute(key, compute)
        self.seconds[name] = self.cache.seconds.get(key, 0.0)
        return value

    def run_parallel(self, jobs: list[tuple[str, str, Callable[..., Any], tuple]], workers: int) -> dict[str, Any]:
        """Like :meth:`run` for independent stages ``(name, key, fn, args)``; cache misses run in
        up to ``workers`` forked processes (``fn(*args)`` must be deterministic on its own)."""
        out: dict[str, Any] = {}
        todo = []
        for name, key, fn, args in jobs:
            value = self.cache.get(key)
            if value is None:
                todo.append((name, key, fn, args))
                continue
            self.cache.hits += 1
            out[name] = value
            self.seconds[name] = self.cache.seconds.get(key, 0.0)
            self.log.record(name, 0.0)
        if len(todo) > 1 and workers > 1 and "fork" in mp.get_all_start_methods():
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
                futures = [pool.submit(_timed, fn, *args) for _, _, fn, args in todo]
                results = [f.result() for f in futures]
        else:
            results = [_timed(fn, *args) for _, _, fn, args in todo]
        for (name, key, _, _), (value, seconds) in zip(todo, results):
            self.cache.misses += 1
            self.cache.put(key, value, seconds)
            self.seconds[name] = self.cache.seconds[key]
            self.log.record(name, seconds)
            out[name] = value
        return {name: out[name] for name, *_ in jobs}


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t0


def _fit_all(catalog: Catalog, config: Config, stages: _Stages, base: str) -> dict[str, Embedding]:
    from .models import fit_model

    embeddings: dict[str, Embedding] = {}
    for name in config.site.models:
        if name == "als" and catalog.ratings is None:
            stages.log.note("model als left out: the catalog has no ratings")
            continue
        deps = config.models if name == "hybrid" else getattr(config.models, name)
        # the hybrid combines the LSI and text models: reuse them when they were just built
        kw = {k: embeddings[m] for k, m in (("tags", "lsi"), ("text", "text"))
              if name == "hybrid" and m in embeddings}
        embeddings[name] = stages.run(f"model:{name}", make_key("model", name, base, deps, config.seed),
                                      lambda n=name, kw=kw: fit_model(n, catalog, config, config.seed, **kw))
    return embeddings


def _neighbours_all(catalog: Catalog, embeddings: dict[str, Embedding], config: Config, stages: _Stages,
                    base: str) -> dict[str, Neighbours]:
    from . import neighbours as nb

    return {
        name: stages.run(
            f"neighbours:{name}",
            make_key("neighbours", name, base, config.models, config.neighbours, config.seed),
            lambda e=emb, n=name: nb.compute(e, config.neighbours, catalog.tie_order,
                                             derive_seed(config.seed, "neighbours", n)))
        for name, emb in embeddings.items()
    }


def _maps_all(embeddings: dict[str, Embedding], config: Config, stages: _Stages, base: str) -> dict[str, Map]:
    """UMAP maps; each is single-threaded (seeded UMAP), so they run side by side on the cores."""
    from .models.umap_map import fit_map

    jobs = [(f"map:{name}", make_key("map", name, base, config.models, config.umap, config.seed), fit_map,
             (emb, config.umap, derive_seed(config.seed, "map", name))) for name, emb in embeddings.items()]
    maps = stages.run_parallel(jobs, workers=min(2, os.cpu_count() or 1))
    return {name: maps[f"map:{name}"] for name in embeddings}


def _heldout_neighbours(catalog: Catalog, embeddings: dict[str, Embedding], config: Config, stages: _Stages,
                        base: str, eval_seed: int) -> dict[str, Neighbours] | None:
    """ALS refitted without the held-out likes, so its hit rate is not measured on its training data."""
    if "als" not in embeddings or catalog.ratings is None:
        return None
    from dataclasses import replace

    from . import neighbours as nb
    from .evaluate import evaluation_split
    from .models import fit_model

    def compute() -> Neighbours:
        train, _ = evaluation_split(catalog.ratings, config.evaluation, eval_seed)
        emb = fit_model("als", replace(catalog, ratings=train), config, config.seed)
        return nb.compute(emb, config.neighbours, catalog.tie_order, derive_seed(config.seed, "neighbours", "als"))

    key = make_key("als-heldout", base, config.models.als, config.neighbours, config.evaluation, config.seed)
    return {"als": stages.run("model:als (held-out fit)", key, compute)}


def _report(catalog: Catalog, embeddings, neighbours, evaluation: dict, config: Config, date: str,
            log: StageLog) -> dict[str, Any]:
    r = catalog.ratings
    return {
        "schema": 1,
        "build": {"seed": config.seed, "date": date, "version": __version__},
        "catalog": {
            "items": len(catalog),
            "tags": len(catalog.tag_vocabulary),
            "sources": [Path(s).name for s in catalog.sources],
            "skipped": dict(sorted(catalog.skipped.items())),
            "ratings": None if r is None else {"users": r.n_users, "ratings": r.nnz, "implicit": r.implicit},
        },
        "models": {
            name: {
                "dim": embeddings[name].dim,
                "info": _public_info(embeddings[name].info, config.site.show_timings),
                "neighbours": {
                    "method": nbr.method,
                    "k": nbr.k,
                    "seconds": None,
                    "recall": nbr.info.get("recall"),
                    "reason": nbr.info.get("reason"),
                },
            }
            for name, nbr in neighbours.items()
        },
        **evaluation,
        "notes": list(log.notes),
        "timings": {},
    }


def _public_info(info: Any, show_timings: bool) -> Any:
    """A model's ``info`` for the report; keys holding timings (``*seconds*``) only with show_timings."""
    info = _jsonable(info)
    if not show_timings:
        info = {k: v for k, v in info.items() if "seconds" not in k}
    return info


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the complete tree ``tmp`` (same file system), old tree removed."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_build(data_specs: Sequence[str], out_dir: Path, config: Config, *, include_adult: bool = False,
              limit: int | None = None, cache_dir: Path | None = None, quiet: bool = True,
              config_path: Path | None = None, log: StageLog | None = None,
              force: bool = False) -> BuildResult | None:
    """Build the site from ``data_specs`` into ``out_dir``.

    Returns the :class:`BuildResult`, or ``None`` when ``out_dir`` is already up to date
    (same inputs, configuration, options and code: nothing to do) and ``force`` is false.

    Raises
    ------
    InputError
        Bad data or options (one line); ``out_dir`` is left as it was.
    """
    log = log or StageLog(quiet=quiet)
    out_dir = Path(out_dir)
    date = build_date(data_specs, config_path)
    with log.stage("inputs"):
        stamp = make_key("build", inputs_digest(data_specs), config, include_adult, limit, date,
                         code_version())
    stamp_file = out_dir / STAMP
    if not force and stamp_file.exists() and stamp_file.read_text().strip() == stamp:
        log.note(f"{out_dir} is up to date (same inputs, configuration and code): nothing rebuilt")
        return None

    cache = Cache(cache_dir)
    stages = _Stages(cache, log)
    n_models = len(config.site.models)
    log.begin(2 + 3 * n_models + 1 + 3 + ("als" in config.site.models))
    try:
        return _run(data_specs, out_dir, config, include_adult, limit, log, cache, stages, stamp, date)
    finally:
        log.end()


def _run(data_specs: Sequence[str], out_dir: Path, config: Config, include_adult: bool, limit: int | None,
         log: StageLog, cache: Cache, stages: _Stages, stamp: str, date: str) -> BuildResult:
    """The stages of :func:`run_build` after the up-to-date check."""
    from .loaders import load_catalog

    with log.stage("load"):
        catalog = load_catalog(list(data_specs), include_adult=include_adult,
                               adult_tags=config.catalog.adult_tags, min_tags=config.catalog.min_tags,
                               limit=limit)
    if len(catalog) < 2:
        raise InputError(f"the catalog has {len(catalog)} item(s) after filtering: at least 2 are needed",
                         ", ".join(data_specs))
    base = make_key(catalog.fingerprint, code_version())
    embeddings = _fit_all(catalog, config, stages, base)
    neighbours = _neighbours_all(catalog, embeddings, config, stages, base)
    maps = _maps_all(embeddings, config, stages, base)

    from .evaluate import evaluate

    eval_seed = derive_seed(config.seed, "evaluate")
    heldout = _heldout_neighbours(catalog, embeddings, config, stages, base, eval_seed)
    evaluation = stages.run(
        "evaluate", make_key("evaluate", base, config.models, config.neighbours, config.evaluation, config.seed),
        lambda: evaluate(catalog, neighbours, config.evaluation, eval_seed, hit_rate_neighbours=heldout))
    report = _report(catalog, embeddings, neighbours, evaluation, config, date, log)
    if config.site.show_timings:
        report["timings"] = dict(sorted(stages.seconds.items()))
        for name in neighbours:
            report["models"][name]["neighbours"]["seconds"] = stages.seconds[f"neighbours:{name}"]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    os.chmod(tmp, DIR_MODE)  # mkdtemp's 0700 would hide the published site from a web server
    try:
        result = _write_output(tmp, catalog, embeddings, neighbours, maps, report, config, date, log)
        (tmp / STAMP).write_text(stamp + "\n")
        swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.note(f"cache: {cache.hits} hit(s), {cache.misses} miss(es)")
    return result


def _write_output(tmp: Path, catalog: Catalog, embeddings, neighbours, maps, report, config: Config,
                  date: str, log: StageLog) -> BuildResult:
    from . import neighbours as nb
    from .publish import write_embeddings
    from .site import write_site

    data = tmp / "data"
    (data / "neighbours").mkdir(parents=True)
    with log.stage("write:neighbours"):
        for name, nbr in neighbours.items():
            nb.write_csv(nbr, data / "neighbours" / f"{name}.csv.gz")
    published_model = config.publish.model
    if published_model == "auto":
        published_model = "als" if "als" in embeddings else ("lsi" if "lsi" in embeddings else next(iter(embeddings)))
    if published_model not in embeddings:
        raise InputError(f"publish.model = {published_model!r}: that model was not built")
    with log.stage("write:embeddings"):
        mode = "implicit" if (published_model == "als" and config.models.als.implicit) else "explicit"
        sizes = write_embeddings(tmp, catalog, embeddings[published_model], reg=config.models.als.regularization,
                                 mode=mode, build_date=date, top_n=config.publish.top_n)
    published = {"model": published_model, "sizes": sizes}
    report["published"] = published
    result = BuildResult(catalog=catalog, embeddings=embeddings, neighbours=neighbours, maps=maps,
                         report=report, config=config, build_date=date, published=published)
    with log.stage("write:site"):
        site_stats = write_site(result, tmp)
    for remark in site_stats.get("notes", ()):
        log.note(remark)
    (data / "report.json").write_text(json.dumps(report, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    return result
