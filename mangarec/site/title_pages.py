"""Title pages and neighbour shards: rendered, or carried over from the last build, in forked
workers on a large catalog (the output is the same however many)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..workers import fork_pool
from . import context as C
from .carry import Carry, Digests, page_keys, shown_lists
from .data_files import neighbour_shards
from .prepare import Prepared
from .write import Writer

#: State the workers inherit when forked (set only while writing).
_TITLES: tuple | None = None

#: What the workers read of :class:`Prepared`, computed once before any fork.
_SHARED = (
    "neighbour_lists",
    "tag_masks",
    "esc_titles",
    "esc_ids",
    "slugs",
    "esc_tags",
    "item_tags",
    "score_deltas",
    "shard_of",
    "kind_labels",
    "esc_kind_labels",
    "alt_titles",
    "same_work",
    "labels",
)


def _task(task: tuple[str, int, int]) -> tuple[int, int, int, Digests, int]:
    """Write title pages (``("titles", start, stop)``), neighbour shards (``("nb", ...)``) or
    the files of one of ``also`` (``("also", k, 0)``); returns (pages, files, bytes, the title
    pages' digests, pages carried over)."""
    result, prep, assets, template, out_dir, carry, keys, also = _TITLES  # type: ignore[misc]
    kind, start, stop = task
    w = Writer(out_dir)
    digests: Digests = {}
    before = carry.carried
    if kind == "also":
        also[start](w)
    elif kind == "titles":
        for p in range(start, stop):
            rel = f"title/{prep.slugs[p]}/index.html"
            kept = carry.take(rel, keys[p])
            if kept is None:
                data = template.render(C.title_context(result, prep, p, assets)).encode("utf-8")
                w.bytes_(rel, data)
                sha = hashlib.sha256(data).hexdigest()
            else:
                w.link(rel, carry.source(rel), kept[0])
                sha = kept[1]
            digests[rel] = (keys[p], sha)
    else:
        for s, content in neighbour_shards(prep, range(start, stop)).items():
            w.json(f"data/nb/{s}.json", content, sort_keys=False)
    return w.pages, w.files, w.bytes, digests, carry.carried - before


def _workers(requested: int | None, n: int) -> int:
    if requested is not None:
        return max(1, requested)
    if n < 3000 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def write_titles(
    result,
    prep: Prepared,
    assets: Mapping[str, str],
    template,
    out_dir: Path,
    salt: str,
    carry: Carry | None,
    workers: int | None,
    also: Sequence[Callable[[Writer], None]] = (),
) -> tuple[int, int, int, Digests, int]:
    """Every title page and neighbour shard under ``out_dir``: a page whose inputs' key
    (:func:`~.carry.page_keys`, salted with ``salt``) is the one ``carry`` recorded is linked
    from the previous site, the others rendered with ``template``. Each of ``also`` (files
    that need none of these, e.g. the search index) writes its files with a writer of its own
    in the same workers, beside the pages. Returns (pages, files, bytes, ``{page: (key,
    sha256)}``, pages carried over)."""
    global _TITLES
    for attr in _SHARED:
        getattr(prep, attr)  # computed once, before any fork
    for m, _, scores in shown_lists(prep):
        if scores:
            prep.score_text[m]  # the lists whose scores the pages print
    keys = page_keys(result, prep, assets, salt)
    n = len(prep.items)
    _TITLES = (result, prep, assets, template, out_dir, carry or Carry(), keys, tuple(also))
    try:
        k = _workers(workers, n)
        parts = 4 * k if k > 1 else 1
        ns = prep.nb_shards
        tasks = [("titles", n * i // parts, n * (i + 1) // parts) for i in range(parts)]
        tasks += [("nb", ns * i // parts, ns * (i + 1) // parts) for i in range(parts)]
        tasks += [("also", i, 0) for i in range(len(also))]
        if k > 1:
            with fork_pool(k) as pool:  # forked workers that die with the build
                done = list(pool.map(_task, tasks, chunksize=1))
        else:
            done = [_task(t) for t in tasks]
    finally:
        _TITLES = None
    digests: Digests = {}
    for d in done:
        digests.update(d[3])
    return (
        sum(d[0] for d in done),
        sum(d[1] for d in done),
        sum(d[2] for d in done),
        digests,
        sum(d[4] for d in done),
    )
