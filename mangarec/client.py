"""A Python client for a site's published embeddings (``data/embeddings.json``).

It does what the visitor's browser does (``site_src/static/js/taste.js``): dequantise in
float64, fold the ratings in (:mod:`mangarec.foldin`), rank with the same tie-break (score, then
the row order of the JSON, which is most popular first). Nothing but the JSON is fetched.

>>> model = load("output/data/embeddings.json.gz")            # doctest: +SKIP
>>> model.recommend({"a5114": "like", "a9253": 9, "a1535": 4})  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .compact import SHARD_SCHEMA, gram_matrix, qmax, shard_of
from .errors import InputError
from .foldin import LEGACY, Schedule, ValueMap, cholesky_solve, fold_in, gram, implicit_reg, rank, rated_rows, to_values
from .kernel import TITLE_PATH, TitleRow, anchor_weights, contributions, ranked, read_title, scores, weights_z
from .publish import READABLE_VERSIONS, SCHEMA_NAME, decode, dequantise

#: Largest document :func:`load` accepts (bytes, after gunzip).
MAX_BYTES = 64 * 1024 * 1024
#: Most shards a version-4 document may name.
MAX_SHARDS = 100_000


@dataclass(frozen=True, eq=False)
class PublishedModel:
    """A loaded embeddings JSON.

    ``vectors`` is ``(n_items, dim)`` float64 (dequantised), rows in the JSON's order (most
    popular first); ``tag_vectors`` is ``(n_tags, dim)`` float64 or ``None``.
    """

    model: str
    dim: int
    ids: tuple[str, ...]
    vectors: np.ndarray
    mode: str
    reg: float
    alpha: float
    values: ValueMap = LEGACY
    nu: float = 0.0
    reg_cols: int = 1
    tag_ids: tuple[str, ...] = ()
    tag_vectors: np.ndarray | None = None
    titles: tuple[str, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    works: tuple[tuple[str, ...], ...] = ()
    schedule: Schedule | None = None
    #: Version 4: the rows that may be recommended (the first ones; the others came from shards
    #: and only enter fits). ``None``: every row.
    recommendable: int | None = None
    #: Version 4: the published ``YᵀY`` over every title ``(dim, dim)`` (``None``: computed
    #: from ``vectors``).
    published_gram: np.ndarray | None = None
    #: Version 5: the read title files ``{id: TitleRow}`` (their candidate lists rank; the
    #: titles not read are unknown to the fit). ``None``: rank every row.
    lists: Mapping[str, TitleRow] | None = None
    #: Version 5, implicit: the kernel's anchors ``μ_t`` (``fold_in.kernel_reg``).
    kernel_regs: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(self.ids)})
        object.__setattr__(self, "_work", {m: g for g in self.works for m in g})
        G = self.published_gram if self.published_gram is not None else gram(self.vectors)
        object.__setattr__(self, "_gram", G)

    @property
    def n_recommendable(self) -> int:
        """How many rows (the first ones) may be recommended."""
        return len(self.ids) if self.recommendable is None else int(self.recommendable)

    @property
    def index(self) -> dict[str, int]:
        """``{item id: row}``."""
        return self._index  # type: ignore[attr-defined]

    @property
    def like(self) -> float:
        """The value of a like."""
        return self.values.like

    @property
    def dislike(self) -> float | None:
        """The value of a dislike (``None``: left out of the fit)."""
        return self.values.dislike

    def _values(self, ratings: Mapping[str, float | str]) -> tuple[np.ndarray, np.ndarray]:
        return to_values(ratings, self.index, self.values)

    def settings(self, count: int) -> tuple[float, float]:
        """``(alpha, λ)`` of a fold-in with ``count`` ratings in the fit (``fold_in.schedule``)."""
        if self.schedule is None:
            return float(self.alpha), float(self.reg)
        return self.schedule.at(count, self.alpha, self.reg)

    def _system(self, idx: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The fold-in matrix ``A`` ``(dim, dim)`` and right-hand-side weights ``w`` ``(m,)``
        (``A x = Σ w_j y_j``), float64."""
        Ys = self.vectors[idx]
        alpha, reg = self.settings(int(idx.size))
        if self.mode == "explicit":
            return Ys.T @ Ys + reg * idx.size * np.eye(self.dim), vals
        c = 1.0 + alpha * np.abs(vals)
        mu = implicit_reg(reg, vals, alpha, self.nu, self.reg_cols)
        A = self._gram + (Ys.T * (c - 1.0)) @ Ys + mu * np.eye(self.dim)  # type: ignore[attr-defined]
        return A, c * (vals >= 0)

    def fit(self, ratings: Mapping[str, float | str]) -> np.ndarray:
        """The taste vector ``(dim,)`` float64 for ``{id: "like" | "dislike" | number}``.

        Unknown ids are ignored; with no known id the taste is the zero vector.
        """
        idx, vals = self._values(ratings)
        alpha, reg = self.settings(int(idx.size))
        return fold_in(
            self.vectors,
            idx,
            vals,
            reg,
            self.mode,
            alpha=alpha,
            YtY=self._gram,  # type: ignore[attr-defined]
            nu=self.nu,
            reg_cols=self.reg_cols,
        )

    def fit_many(self, profiles: Sequence[Mapping[str, float | str]], block: int = 256) -> np.ndarray:
        """``(len(profiles), dim)`` float64: :meth:`fit` of each profile, solved in batches
        (``numpy.linalg.solve`` on stacked systems; equal to :meth:`fit` to rounding, tested).
        For evaluating many simulated visitors; a browser computes one :meth:`fit`."""
        out = np.zeros((len(profiles), self.dim))
        d, Y = self.dim, self.vectors
        for a in range(0, len(profiles), block):
            chunk = profiles[a : a + block]
            A = np.zeros((len(chunk), d, d))
            b = np.zeros((len(chunk), d))
            live = np.zeros(len(chunk), dtype=bool)
            for r, p in enumerate(chunk):
                idx, vals = self._values(p)
                if idx.size == 0:
                    continue
                live[r] = True
                A[r], w = self._system(idx, vals)
                b[r] = Y[idx].T @ w
            if live.any():
                out[a : a + len(chunk)][live] = np.linalg.solve(A[live], b[live][:, :, None])[:, :, 0]
        return out

    def recommend(
        self, ratings: Mapping[str, float | str], n: int = 20, exclude_rated: bool = True
    ) -> list[tuple[str, float]]:
        """The ``n`` best titles as ``(id, score)``, best first (ties: earlier row first).

        Every rated title is excluded (with ``exclude_rated``), also those the value mapping
        leaves out of the fit (a dislike under ``feedback = "likes"``)."""
        if self.lists is not None:
            return self._recommend_lists(ratings, n, exclude_rated)
        taste = self.fit(ratings)
        exclude = self.excluded(ratings) if exclude_rated else ()
        ex = np.asarray(exclude, dtype=np.int64)
        rows, scores = rank(self.vectors[: self.n_recommendable], taste, ex[ex < self.n_recommendable], n=n)
        return [(self.ids[r], float(s)) for r, s in zip(rows, scores)]

    def _kernel(self, ratings: Mapping[str, float | str]) -> tuple[list[TitleRow], np.ndarray, float, np.ndarray]:
        """Version 5: the rated titles in the fit, their weights ``z`` ``(m,)``, the score
        scale and the anchors' weights ``β`` (:mod:`mangarec.kernel`: ``(I + Γ K_SS) z = w``,
        ``K_SS`` from their vectors)."""
        idx, vals = self._values(ratings)
        rows = [self.lists[self.ids[i]] for i in idx]  # type: ignore[index]
        if idx.size == 0 or self.mode == "explicit":
            m = max(int(idx.size), 1)
            scale = 1.0 / (self.settings(m)[1] * m)
            Ys = self.vectors[idx]
            return rows, weights_z(scale * (Ys @ Ys.T), np.ones(idx.size), vals), scale, np.ones(1)
        alpha, reg = self.settings(int(idx.size))
        Ys = self.vectors[idx]
        c = 1.0 + alpha * np.abs(vals)
        mu = implicit_reg(reg, vals, alpha, self.nu, self.reg_cols)
        g = np.diag(self._gram)  # type: ignore[attr-defined]
        beta = anchor_weights(g, self.kernel_regs, mu)
        z = weights_z((Ys * (1.0 / (g + mu))[None, :]) @ Ys.T, c - 1.0, c * (vals >= 0))
        return rows, z, 1.0, beta

    def candidate_scores(self, ratings: Mapping[str, float | str]) -> dict[str, float]:
        """Version 5: ``{candidate id: score}`` over the union of the rated titles' lists, the
        excluded titles left out (:func:`mangarec.kernel.scores`)."""
        rows, z, scale, beta = self._kernel(ratings)
        return scores(rows, z, scale, self.excluded_ids(ratings), beta)

    def _recommend_lists(
        self, ratings: Mapping[str, float | str], n: int, exclude_rated: bool
    ) -> list[tuple[str, float]]:
        rows, z, scale, beta = self._kernel(ratings)
        got = scores(rows, z, scale, self.excluded_ids(ratings) if exclude_rated else set(), beta)
        return ranked(got, n)

    def excluded_ids(self, ratings: Mapping[str, float | str]) -> set[str]:
        """The ids never recommended: the rated titles and the other formats of their works."""
        out = {str(i) for i in ratings}
        for iid in ratings:
            out.update(self._work.get(iid, ()))  # type: ignore[attr-defined]
            if self.lists is not None and iid in self.lists:
                out.update(self.lists[iid].works)
        return out

    def excluded(self, ratings: Mapping[str, float | str]) -> np.ndarray:
        """Rows never recommended: the rated titles and the other formats of their works
        (``works``: an anime and its manga are one work). Sorted ``(m,)`` int64."""
        rows = set(rated_rows(ratings, self.index).tolist())
        for iid in ratings:
            for other in self._work.get(iid, ()):  # type: ignore[attr-defined]
                if other in self.index:
                    rows.add(self.index[other])
        return np.array(sorted(rows), dtype=np.int64)

    def explain(self, ratings: Mapping[str, float | str], item_id: str, n: int = 3) -> list[tuple[str, float]]:
        """Which rated titles push ``item_id``'s score up most: ``(rated id, contribution)``.

        The score is exactly the sum of the contributions ``w_j · y_iᵀ A⁻¹ y_j`` over the rated
        titles ``j`` (``A`` the fold-in matrix, ``w_j`` the right-hand-side weight).
        """
        if self.lists is not None:
            parts = contributions(*self._kernel(ratings), item_id)
            return sorted(parts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        idx, vals = self._values(ratings)
        if item_id not in self.index or idx.size == 0:
            return []
        Y = self.vectors
        Ys = Y[idx]
        A, w = self._system(idx, vals)
        z = cholesky_solve(A, Y[self.index[item_id]])
        contrib = w * (Ys @ z)
        order = np.lexsort((idx, -contrib))[:n]
        return [(self.ids[idx[k]], float(contrib[k])) for k in order]

    def place_from_tags(self, tags: Iterable[str]) -> np.ndarray:
        """A title's vector from its tags: the sum of the tag vectors, ``(dim,)`` float64.

        Unknown tags are ignored; raises :class:`InputError` when the JSON has no tag vectors.
        """
        if self.tag_vectors is None:
            raise InputError("these embeddings have no tag vectors", self.meta.get("source"))
        pos = {t: k for k, t in enumerate(self.tag_ids)}
        out = np.zeros(self.dim)
        for t in sorted(set(tags)):
            if t in pos:
                out += self.tag_vectors[pos[t]]
        return out


def _read(path_or_url: str, what: str = "embeddings", binary: bool = False) -> bytes:
    """The JSON's bytes from a path or an http(s) URL, gunzipped (``binary``: as they are); at
    most ``MAX_BYTES`` (after decompression), a URL within a 120 s overall deadline. ``what``
    names it in errors."""
    from .loaders.httpget import DeadlineExceeded, ResponseTooLarge, get
    from .loaders.io import sniff_bytes

    if path_or_url.startswith(("http://", "https://")):
        try:
            resp = get(path_or_url, headers={"Accept-Encoding": "identity"}, max_bytes=MAX_BYTES)
        except DeadlineExceeded:
            raise InputError(f"cannot fetch {what}: no complete answer within 120 s", path_or_url) from None
        except ResponseTooLarge:
            raise InputError(f"{what} JSON larger than {MAX_BYTES} bytes", path_or_url) from None
        except (OSError, http.client.HTTPException) as exc:
            raise InputError(f"cannot fetch {what}: {exc}", path_or_url) from None
        if resp.status != 200:
            raise InputError(f"cannot fetch {what}: HTTP {resp.status} {resp.reason}", path_or_url)
        data = resp.body
    else:
        try:
            data = Path(path_or_url).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", path_or_url) from None
    if not binary and sniff_bytes(data) == "gzip":
        try:  # bounded: a small gzip bomb does not fill the memory
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(data, MAX_BYTES + 1)
        except zlib.error as exc:
            raise InputError(f"bad gzip data: {exc}", path_or_url) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{what} JSON larger than {MAX_BYTES} bytes", path_or_url)
    return data


def parse(
    doc: Mapping[str, Any],
    source: str = "embeddings JSON",
    shards: Iterable[Mapping[str, Any]] = (),
    codes: bytes | None = None,
    title_files: Iterable[Mapping[str, Any]] = (),
) -> PublishedModel:
    """Build a :class:`PublishedModel` from a decoded embeddings document.

    ``shards``: decoded shard documents of a version-4 document (``docs/embeddings-json.md``);
    their titles enter fits but are never recommended. ``codes``: the bytes of the file a
    version-4 document's ``items.vectors`` names (``"encoding": "int8-file"``). ``title_files``: the
    decoded per-title files of a version-5 document (the rated titles', or any); only they are
    known to the fit, and their candidate lists rank (:mod:`mangarec.kernel`).
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
        if doc["version"] in (5, 6):
            return _parse5(doc, source, title_files)
        v4 = doc["version"] == 4
        Y = _decode4(items, items, dim, codes) if v4 else decode(items, dim, source)
        ids = tuple(items["ids"])
        recommendable = None
        G = None
        if v4:
            recommendable = len(ids)
            G = gram_matrix(fo["gram"], dim) if fo.get("gram") is not None else None
            extra_ids, extra = _shard_rows(doc, items, shards, dim, source)
            ids, Y = ids + extra_ids, np.vstack([Y, *extra]) if extra else Y
        tags = doc.get("tags")
        T = decode(tags, dim, source) if tags else None
        titles = tuple(items["titles"]) if "titles" in items else None
        return PublishedModel(
            model=str(doc["model"]),
            dim=dim,
            ids=ids,
            vectors=Y,
            **_fold_fields(fo),
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


def _parse5(doc: Mapping[str, Any], source: str, titles: Iterable[Mapping[str, Any]]) -> PublishedModel:
    """A version-5 document with the given title files (``docs/embeddings-json.md``)."""
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
    for f in titles:
        r = read_title(f, doc, scale, qmax(int(items["bits"])))
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
        **_fold_fields(fo),
        titles=tuple(r.title for r in rows.values()),
        meta={k: doc[k] for k in ("build_date", "catalog_hash", "count", "titles") if k in doc} | {"source": source},
        recommendable=0,
        published_gram=gram_matrix(fo["gram"], dim) if implicit else np.zeros((dim, dim)),
        lists=rows,
        kernel_regs=tuple(float(a) for a in fo["kernel_reg"]) if implicit else (),
    )


def _decode4(block: Mapping[str, Any], items: Mapping[str, Any], dim: int, codes: bytes | None = None) -> np.ndarray:
    """A version-4 block's vectors ``(n, dim)`` float64: int8 codes (base64 text, or the bytes of
    the file it names) within ``±(2^(bits−1) − 1)``, times ``items.scale``."""
    enc = block.get("encoding")
    if enc == "int8-base64":
        raw = base64.b64decode(block["vectors"], validate=True)
    elif enc == "int8-file" and block is items:
        if codes is None:
            raise ValueError(f"the codes file {block['vectors']!r} was not read")
        raw = codes
    else:
        raise ValueError(f"version 4 vectors are int8-base64 or (items) int8-file, not {enc!r}")
    bound = qmax(int(items["bits"]))
    q = np.frombuffer(raw, dtype=np.int8)
    n = len(block["ids"])
    if q.size != n * dim or len(items["scale"]) != dim:
        raise ValueError(f"vectors hold {q.size} values, expected {n}×{dim}")
    if q.size and int(np.abs(q.astype(np.int16)).max()) > bound:
        raise ValueError(f"a code exceeds ±{bound} ({items['bits']} bits)")
    return dequantise(q.reshape(n, dim), np.asarray(items["scale"], dtype=np.float64))


def _shard_rows(
    doc: Mapping[str, Any], items: Mapping[str, Any], shards: Iterable[Mapping[str, Any]], dim: int, source: str
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """The ids and vectors of the given shards of a version-4 document (checked against it)."""
    info = doc.get("shards")
    ids: list[str] = []
    out = []
    seen = set(items["ids"])
    for sh in shards:
        if info is None:
            raise ValueError("shards given for a document without shards")
        if sh.get("schema") != SHARD_SCHEMA or sh.get("version") != 4:
            raise ValueError(f"not a {SHARD_SCHEMA} version 4 document")
        if sh.get("catalog_hash") != doc.get("catalog_hash"):
            raise ValueError(f"shard {sh.get('shard')!r} belongs to another catalog")
        s = int(sh["shard"])
        if not 0 <= s < int(info["count"]) or any(shard_of(i, int(info["count"])) != s for i in sh["ids"]):
            raise ValueError(f"shard {s} holds titles of another shard")
        fresh = [i for i in sh["ids"] if i not in seen]
        if len(fresh) != len(sh["ids"]):
            raise ValueError(f"shard {s} repeats a title")
        seen.update(fresh)
        ids.extend(str(i) for i in fresh)
        out.append(_decode4(sh, items, dim))
    return tuple(ids), out


def _fold_fields(fo: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`PublishedModel` fields read from a ``fold_in`` block (every version)."""
    return {
        "mode": str(fo["mode"]),
        "reg": float(fo["reg"]),
        "alpha": float(fo["alpha"]),
        "values": _value_map(fo),
        "nu": float(fo.get("reg_exponent", 0.0)),
        "reg_cols": int(fo.get("reg_cols", 1)),
        "schedule": _schedule(fo.get("schedule")),
    }


def _schedule(s: Any) -> Schedule | None:
    """The ``fold_in.schedule`` block (version 3; absent or ``null``: none)."""
    if s is None:
        return None
    sched = Schedule.from_dict(s)
    if not (sched.active and sched.alpha_many >= 0 and sched.reg_many > 0):
        raise ValueError(f"fold_in.schedule needs 0 < few < many and reg_many > 0, not {s!r}")
    return sched


def _value_map(fo: Mapping[str, Any]) -> ValueMap:
    """The ``fold_in`` block's value mapping (version 1: likes, dislikes, centred numbers)."""
    dislike = fo.get("dislike")
    return ValueMap(
        feedback=str(fo.get("feedback", "explicit")),
        threshold=float(fo.get("threshold", 0.0)),
        step=float(fo.get("step", 1.0)),
        like=float(fo["like"]),
        dislike=None if dislike is None else float(dislike),
    )


def load(path_or_url: str, shards: bool = True, rated: Iterable[str] | None = None) -> PublishedModel:
    """Load an embeddings JSON from a file path (``.json`` or ``.gz``) or an http(s) URL.

    A version-4 document's shards (beside it, ``shards.path``) are read too unless ``shards``
    is false (then only the titles up front can be rated). A version-5 document's title files
    (``titles.path``): those of the ``rated`` ids (an id without a file is unknown), or, with
    ``rated=None`` and a local path, every one in the folder."""
    doc = _json(str(path_or_url))
    if isinstance(doc, Mapping) and doc.get("version") in (5, 6):
        return parse(doc, str(path_or_url), title_files=_title_files(str(path_or_url), rated))
    parts = []
    v4 = isinstance(doc, Mapping) and doc.get("version") == 4
    info = doc.get("shards") if v4 else None
    codes = None
    items = doc.get("items") if v4 else None
    if isinstance(items, Mapping) and items.get("encoding") == "int8-file":
        name = items.get("vectors")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", name) or name.startswith("."):
            raise InputError("items.vectors must name a file beside the document", str(path_or_url))
        codes = _read(_sibling(str(path_or_url), name), binary=True)
    if shards and isinstance(info, Mapping):
        try:
            count, pattern = int(info["count"]), str(info["path"])
        except (KeyError, TypeError, ValueError):
            raise InputError("malformed shards block", str(path_or_url)) from None
        if not 0 < count <= MAX_SHARDS or "{}" not in pattern or ".." in pattern or pattern.startswith("/"):
            raise InputError(
                f"shards.count must be 1..{MAX_SHARDS} and shards.path relative with {{}}", str(path_or_url)
            )
        parts = [_json(_sibling(str(path_or_url), pattern.format(k))) for k in range(count)]
    return parse(doc, str(path_or_url), parts, codes)


def _title_files(path_or_url: str, rated: Iterable[str] | None) -> list[Any]:
    """The decoded version-5 title files of ``rated`` (missing ones skipped), or every one."""
    from .catalog import ID_PATTERN

    if rated is None:
        if path_or_url.startswith(("http://", "https://")):
            raise InputError("a version-5 document over http needs the rated ids (load(url, rated=...))", path_or_url)
        folder = Path(_sibling(path_or_url, TITLE_PATH.format("x"))).parent
        rated = sorted(p.name[: -len(".json")] for p in folder.glob("*.json"))
    out = []
    for iid in rated:
        if not ID_PATTERN.match(str(iid)):
            continue
        try:
            out.append(_json(_sibling(path_or_url, TITLE_PATH.format(iid))))
        except InputError as exc:
            if "HTTP 404" not in str(exc) and "No such file" not in str(exc):
                raise
    return out


def _sibling(path_or_url: str, rel: str) -> str:
    """``rel`` resolved against the document's location (a URL or a path)."""
    if path_or_url.startswith(("http://", "https://")):
        from urllib.parse import urljoin

        return urljoin(path_or_url, rel)
    return str(Path(path_or_url).parent / rel)


def _json(path_or_url: str) -> Any:
    data = _read(path_or_url)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", path_or_url) from None
