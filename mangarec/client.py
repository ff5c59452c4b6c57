"""A Python client for a site's published embeddings (``data/embeddings.json``).

It does what the visitor's browser does (``site_src/static/js/taste.js``): dequantise in
float64, fold the ratings in (:mod:`mangarec.foldin`), rank with the same tie-break (score, then
the row order of the JSON, which is most popular first). Nothing but the JSON is fetched.

>>> model = load("output/data/embeddings.json.gz")            # doctest: +SKIP
>>> model.recommend({"a5114": "like", "a9253": 9, "a1535": 4})  # doctest: +SKIP
"""

from __future__ import annotations

import http.client
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .foldin import LEGACY, Schedule, ValueMap, cholesky_solve, fold_in, gram, implicit_reg, rank, rated_rows, to_values
from .publish import READABLE_VERSIONS, SCHEMA_NAME, decode

#: Largest document :func:`load` accepts (bytes, after gunzip).
MAX_BYTES = 64 * 1024 * 1024


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(self.ids)})
        object.__setattr__(self, "_work", {m: g for g in self.works for m in g})
        object.__setattr__(self, "_gram", gram(self.vectors))

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
        taste = self.fit(ratings)
        exclude = self.excluded(ratings) if exclude_rated else ()
        rows, scores = rank(self.vectors, taste, exclude, n=n)
        return [(self.ids[r], float(s)) for r, s in zip(rows, scores)]

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


def _read(path_or_url: str, what: str = "embeddings") -> bytes:
    """The JSON's bytes from a path or an http(s) URL, gunzipped; at most ``MAX_BYTES`` (after
    decompression), a URL within a 120 s overall deadline. ``what`` names it in errors."""
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
    if sniff_bytes(data) == "gzip":
        try:  # bounded: a small gzip bomb does not fill the memory
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(data, MAX_BYTES + 1)
        except zlib.error as exc:
            raise InputError(f"bad gzip data: {exc}", path_or_url) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{what} JSON larger than {MAX_BYTES} bytes", path_or_url)
    return data


def parse(doc: Mapping[str, Any], source: str = "embeddings JSON") -> PublishedModel:
    """Build a :class:`PublishedModel` from a decoded embeddings document."""
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
        Y = decode(items, dim, source)
        tags = doc.get("tags")
        T = decode(tags, dim, source) if tags else None
        titles = tuple(items["titles"]) if "titles" in items else None
        return PublishedModel(
            model=str(doc["model"]),
            dim=dim,
            ids=tuple(items["ids"]),
            vectors=Y,
            mode=str(fo["mode"]),
            reg=float(fo["reg"]),
            alpha=float(fo["alpha"]),
            values=_value_map(fo),
            nu=float(fo.get("reg_exponent", 0.0)),
            reg_cols=int(fo.get("reg_cols", 1)),
            tag_ids=tuple(tags["ids"]) if tags else (),
            tag_vectors=T,
            titles=titles,
            works=tuple(tuple(str(m) for m in g) for g in doc.get("works") or ()),
            schedule=_schedule(fo.get("schedule")),
            meta={k: doc[k] for k in ("build_date", "catalog_hash", "subset", "count") if k in doc}
            | {"source": source},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed embeddings document ({type(exc).__name__}: {exc})", source) from None


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


def load(path_or_url: str) -> PublishedModel:
    """Load an embeddings JSON from a file path (``.json`` or ``.gz``) or an http(s) URL."""
    data = _read(str(path_or_url))
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", str(path_or_url)) from None
    return parse(doc, str(path_or_url))
