"""Reading the per-title form, embeddings versions 5 and 6 (:mod:`mangarec.kernel`): the
document (fold-in block, code steps, Gram diagonal) and the files of the rated titles, each
with its code and candidate list; only they are known to the fit."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..compact import gram_matrix, qmax
from ..errors import InputError
from ..kernel import KERNEL_BITS, TITLE_PATH, TITLE_SCHEMA, TitleRow
from ..lean import read_lean_title
from .fields import fold_fields
from .model import PublishedModel
from .names import NameTable
from .source import read_json, sibling


def read_title(f: Mapping[str, Any], doc: Mapping[str, Any], scale: np.ndarray, bound: int) -> TitleRow:
    """A version-5 or 6 title file checked against its document (same version; raises
    ``ValueError``)."""
    version = doc.get("version")
    if f.get("schema") != TITLE_SCHEMA or f.get("version") != version:
        raise ValueError(f"not a {TITLE_SCHEMA} version {version} document")
    if f.get("catalog_hash") != doc.get("catalog_hash"):
        raise ValueError(f"title file {f.get('id')!r} belongs to another catalog")
    q = np.frombuffer(base64.b64decode(f["vector"], validate=True), dtype=np.int8)
    if q.size != len(scale):
        raise ValueError(f"title {f['id']!r}: vector holds {q.size} codes, expected {len(scale)}")
    if q.size and int(np.abs(q.astype(np.int16)).max()) > bound:
        raise ValueError(f"title {f['id']!r}: a code exceeds ±{bound}")
    near = f["near"]
    ids, names, ks, steps = list(near["ids"]), list(near["titles"]), list(near["k"]), list(near["step"])
    T = len(doc["fold_in"].get("kernel_reg") or [0])
    if not (len(ks) == len(steps) == T and all(len(ids) == len(names) == len(k) for k in ks)):
        raise ValueError(f"title {f['id']!r}: near.k needs one list per anchor, each as long as near.ids")
    floor = near["floor"] if version == 6 else None
    if floor is not None and len(floor) != T:
        raise ValueError(f"title {f['id']!r}: near.floor needs one value per anchor")
    kb = (1 << (KERNEL_BITS - 1)) - 1
    if any(isinstance(v, bool) or not isinstance(v, int) or abs(v) > kb for k in [*ks, floor or []] for v in k):
        raise ValueError(f"title {f['id']!r}: near.k and near.floor must hold integers within ±{kb}")
    step = np.asarray(steps, dtype=np.float64)
    if not (np.isfinite(step).all() and (step >= 0).all()):
        raise ValueError(f"title {f['id']!r}: near.step must be finite and >= 0")
    return TitleRow(
        id=str(f["id"]),
        title=str(f["title"]),
        vector=q.astype(np.float64) * scale,
        near=tuple(str(i) for i in ids),
        near_titles=tuple(str(t) for t in names),
        kernel=np.asarray(ks, dtype=np.float64).reshape(T, len(ids)) * step[:, None],
        works=tuple(str(m) for m in f.get("works") or ()),
        floor=None if floor is None else np.asarray(floor, dtype=np.float64) * step,
    )


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
