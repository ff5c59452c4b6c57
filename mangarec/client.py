"""A Python client for a site's published embeddings (``data/embeddings.json``).

It does what the visitor's browser does (``site_src/static/js/taste.js``): dequantise in
float64, fold the ratings in (:mod:`mangarec.foldin`), rank with the same tie-break (score, then
the row order of the JSON, which is most popular first). Nothing but the JSON is fetched.
One reader module per published form is under :mod:`mangarec.reader` (the full file here, the
compact form, the per-title form); this module is their one entry point.

>>> model = load("output/data/embeddings.json.gz")            # doctest: +SKIP
>>> model.recommend({"a5114": "like", "a9253": 9, "a1535": 4})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .compact import gram_matrix
from .errors import InputError
from .publish import READABLE_VERSIONS, SCHEMA_NAME, decode
from .reader.compact import MAX_SHARDS, compact_parts, decode4, shard_rows
from .reader.fields import fold_fields
from .reader.model import PublishedModel
from .reader.source import MAX_BYTES, read_json
from .reader.titles import parse_titles, title_files

__all__ = ["MAX_BYTES", "MAX_SHARDS", "PublishedModel", "load", "parse"]


def parse(
    doc: Mapping[str, Any],
    source: str = "embeddings JSON",
    shards: Iterable[Mapping[str, Any]] = (),
    codes: bytes | None = None,
    title_files: Iterable[Mapping[str, Any]] = (),
    names: Iterable[Mapping[str, Any]] = (),
    names_from: str | None = None,
) -> PublishedModel:
    """Build a :class:`PublishedModel` from a decoded embeddings document.

    ``shards``: decoded shard documents of a version-4 document (``docs/embeddings-json.md``);
    their titles enter fits but are never recommended. ``codes``: the bytes of the file a
    version-4 document's ``items.vectors`` names (``"encoding": "int8-file"``). ``title_files``: the
    decoded per-title files of a version-5 or 6 document (the rated titles', or any); only they are
    known to the fit, and their candidate lists rank (:mod:`mangarec.kernel`). ``names``: decoded
    name blocks of a version-7 document (:mod:`mangarec.lean`); the others are read beside
    ``names_from`` (the document's path or URL) when a pick needs them.
    """
    if not isinstance(doc, Mapping) or doc.get("schema") != SCHEMA_NAME:
        raise InputError(f"not a {SCHEMA_NAME} document", source)
    if doc.get("version") not in READABLE_VERSIONS:
        raise InputError(
            f"unsupported version {doc.get('version')!r} (this client reads {', '.join(map(str, READABLE_VERSIONS))})",
            source,
        )
    try:
        dim = int(doc["dim"])
        fo = doc["fold_in"]
        items = doc["items"]
        if doc["version"] in (5, 6, 7):
            return parse_titles(doc, source, title_files, names, names_from)
        v4 = doc["version"] == 4
        Y = decode4(items, items, dim, codes) if v4 else decode(items, dim, source)
        ids = tuple(items["ids"])
        recommendable = None
        G = None
        if v4:
            recommendable = len(ids)
            G = gram_matrix(fo["gram"], dim) if fo.get("gram") is not None else None
            extra_ids, extra = shard_rows(doc, items, shards, dim, source)
            ids, Y = ids + extra_ids, np.vstack([Y, *extra]) if extra else Y
        tags = doc.get("tags")
        T = decode(tags, dim, source) if tags else None
        titles = tuple(items["titles"]) if "titles" in items else None
        return PublishedModel(
            model=str(doc["model"]),
            dim=dim,
            ids=ids,
            vectors=Y,
            **fold_fields(fo),
            tag_ids=tuple(tags["ids"]) if tags else (),
            tag_vectors=T,
            titles=titles,
            works=tuple(tuple(str(m) for m in g) for g in doc.get("works") or ()),
            meta={k: doc[k] for k in ("build_date", "catalog_hash", "subset", "count", "shards") if k in doc}
            | {"source": source},
            recommendable=recommendable,
            published_gram=G,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed embeddings document ({type(exc).__name__}: {exc})", source) from None


def load(path_or_url: str, shards: bool = True, rated: Iterable[str] | None = None) -> PublishedModel:
    """Load an embeddings JSON from a file path (``.json`` or ``.gz``) or an http(s) URL.

    A version-4 document's shards (beside it, ``shards.path``) are read too unless ``shards``
    is false (then only the titles up front can be rated). A version-5 to 7 document's title files
    (``titles.path``): those of the ``rated`` ids (an id without a file is unknown), or, with
    ``rated=None`` and a local path, every one in the folder."""
    doc = read_json(str(path_or_url))
    if isinstance(doc, Mapping) and doc.get("version") in (5, 6, 7):
        files = title_files(str(path_or_url), rated)
        return parse(doc, str(path_or_url), title_files=files, names_from=str(path_or_url))
    parts, codes = compact_parts(doc, str(path_or_url), shards)
    return parse(doc, str(path_or_url), parts, codes)
