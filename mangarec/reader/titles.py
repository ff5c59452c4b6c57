"""Reading the per-title form, embeddings versions 5 and 6 (:mod:`mangarec.kernel`): the
document (fold-in block, code steps, Gram diagonal) and the files of the rated titles, each
with its code and candidate list; only they are known to the fit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..compact import gram_matrix, qmax
from ..errors import InputError
from ..kernel import TITLE_PATH, TitleRow, read_title
from ..lean import read_lean_title
from .fields import fold_fields
from .model import PublishedModel
from .names import NameTable
from .source import read_json, sibling


def parse_titles(
    doc: Mapping[str, Any],
    source: str,
    titles: Iterable[Mapping[str, Any]],
    names: Iterable[Mapping[str, Any]] = (),
    names_from: str | None = None,
) -> PublishedModel:
    """A version-5, 6 or 7 document with the given title files (``docs/embeddings-json.md``);
    version 7: the name blocks given, and those read beside ``names_from`` (the document's path or
    URL) when a pick needs one."""
    dim, fo, items = int(doc["dim"]), doc["fold_in"], doc["items"]
    path = doc["titles"]["path"]
    if not isinstance(path, str) or "{}" not in path or ".." in path or path.startswith("/"):
        raise ValueError("titles.path must be relative and hold {}")
    scale = np.asarray(items["scale"], dtype=np.float64)
    if len(scale) != dim:
        raise ValueError(f"items.scale holds {len(scale)} values, expected {dim}")
    rows: dict[str, TitleRow] = {}
    if str(fo["mode"]) == "implicit" and not isinstance(fo.get("kernel_reg"), list):
        raise ValueError("fold_in.kernel_reg must list the kernel's anchors (implicit mode)")
    lean = doc["version"] == 7
    read = read_lean_title if lean else read_title
    for f in titles:
        r = read(f, doc, scale, qmax(int(items["bits"])))
        if r.id in rows:
            raise ValueError(f"title file {r.id!r} given twice")
        rows[r.id] = r
    ids = tuple(rows)
    Y = np.vstack([r.vector for r in rows.values()]) if rows else np.zeros((0, dim))
    implicit = str(fo["mode"]) == "implicit"
    anchors = fo["kernel_reg"] if implicit else [0]
    if not (
        isinstance(anchors, list) and 1 <= len(anchors) <= 4 and all(float(a) > 0 or not implicit for a in anchors)
    ):
        raise ValueError("fold_in.kernel_reg must list 1 to 4 values > 0 (implicit mode)")
    return PublishedModel(
        model=str(doc["model"]),
        dim=dim,
        ids=ids,
        vectors=Y,
        **fold_fields(fo),
        titles=tuple(r.title for r in rows.values()),
        meta={k: doc[k] for k in ("build_date", "catalog_hash", "count", "titles") if k in doc} | {"source": source},
        recommendable=0,
        published_gram=gram_matrix(fo["gram"], dim) if implicit else np.zeros((dim, dim)),
        lists=rows,
        kernel_regs=tuple(float(a) for a in fo["kernel_reg"]) if implicit else (),
        names=NameTable(doc, names_from, names) if lean else None,
    )


def title_files(path_or_url: str, rated: Iterable[str] | None) -> list[Any]:
    """The decoded version-5, 6 or 7 title files of ``rated`` (missing ones skipped), or every one."""
    from ..catalog import ID_PATTERN

    if rated is None:
        if path_or_url.startswith(("http://", "https://")):
            raise InputError("a per-title document over http needs the rated ids (load(url, rated=...))", path_or_url)
        folder = Path(sibling(path_or_url, TITLE_PATH.format("x"))).parent
        rated = sorted(p.name[: -len(".json")] for p in folder.glob("*.json"))
    out = []
    for iid in rated:
        if not ID_PATTERN.match(str(iid)):
            continue
        where = sibling(path_or_url, TITLE_PATH.format(iid))
        try:
            f = read_json(where)
        except InputError as exc:
            if "HTTP 404" not in str(exc) and "No such file" not in str(exc):
                raise
            continue
        if not isinstance(f, Mapping) or f.get("id") != iid:
            raise InputError(f"the file of title {iid!r} names another title", where)
        out.append(f)
    return out
