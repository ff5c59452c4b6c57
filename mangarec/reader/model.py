"""The published model as a reader holds it (:class:`PublishedModel`): dequantised vectors, the
fold-in settings, and (versions 5 and 6) the rated titles' candidate lists; it fits a taste,
ranks and explains exactly as ``taste.js`` does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..foldin import (
    LEGACY,
    Schedule,
    ValueMap,
    cholesky_solve,
    fold_in,
    gram,
    implicit_reg,
    rank,
    rated_rows,
    to_values,
)
from ..kernel import TitleRow, anchor_weights, contributions, ranked, scores, weights_z


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
    #: Versions 5 and 6: the read title files ``{id: TitleRow}`` (their candidate lists rank; the
    #: titles not read are unknown to the fit). ``None``: rank every row.
    lists: Mapping[str, TitleRow] | None = None
    #: Versions 5 to 7, implicit: the kernel's anchors ``μ_t`` (``fold_in.kernel_reg``).
    kernel_regs: tuple[float, ...] = ()
    #: Version 7: the rows' ids and names (:class:`~mangarec.reader.names.NameTable`): the lists
    #: rank rows, the picks are named after ranking.
    names: Any = None

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
        """Versions 5 and 6: the rated titles in the fit, their weights ``z`` ``(m,)``, the score
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
        """Versions 5 and 6: ``{candidate id: score}`` over the union of the rated titles' lists, the
        excluded titles left out (:func:`mangarec.kernel.scores`)."""
        rows, z, scale, beta = self._kernel(ratings)
        got = scores(rows, z, scale, self.excluded_ids(ratings), beta)
        if self.names is None:
            return got
        named = self.names.lookup(got)  # version 7: rows to ids
        return {named[r][0]: s for r, s in got.items()}

    def _recommend_lists(
        self, ratings: Mapping[str, float | str], n: int, exclude_rated: bool
    ) -> list[tuple[str, float]]:
        rows, z, scale, beta = self._kernel(ratings)
        got = scores(rows, z, scale, self.excluded_ids(ratings) if exclude_rated else set(), beta)
        if self.names is None:
            return ranked(got, n)
        top = ranked(got, n, by_key=True)  # version 7: rows, named now
        named = self.names.lookup(r for r, _ in top)
        return [(named[r][0], s) for r, s in top]

    def excluded_ids(self, ratings: Mapping[str, float | str]) -> set[Any]:
        """The ids never recommended: the rated titles and the other formats of their works
        (version 7: their rows)."""
        if self.names is not None and self.lists is not None:
            out: set[Any] = set()
            for iid in ratings:
                if iid in self.lists:
                    out.add(self.lists[iid].row)
                    out.update(self.lists[iid].works)
            return out
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
            key: Any = item_id if self.names is None else self.names.row_of(item_id)
            parts = contributions(*self._kernel(ratings), key)
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
