"""What a build writes besides the models: the report, the published choice, the site and its size.

* :func:`publish_choice`: which model the embeddings file publishes, and why;
* :func:`make_report`: the build's :class:`~mangarec.report.Report` from its stages' results;
* :func:`write_output`: the site, the optional neighbour tables and ``report.json``, carrying
  over the title pages whose inputs did not change since the last build;
* :func:`site_size`, :func:`size_report`: the site's bytes as GitHub Pages counts them, and the
  warning before ``site.max_bytes``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .cache import Cache, make_key
from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Neighbours
from .errors import InputError
from .models import spec
from .progress import StageLog
from .report import BuildInfo, CatalogInfo, ModelInfo, NeighbourInfo, Published, RatingsInfo, Report, StageRun
from .result import BuildResult

if TYPE_CHECKING:
    from .evaluation.results import Evaluation


def content_candidates(
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


def publish_choice(config: Config, built: Sequence[str], evaluation: Evaluation | None = None) -> tuple[str, str]:
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


def write_output(tmp: Path, result: BuildResult, log: StageLog, cache: Cache, previous: Path | None) -> None:
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


__all__ = ["content_candidates", "make_report", "publish_choice", "site_size", "size_report", "write_output"]
