"""Results passed between stages: item embeddings, neighbour lists, 2-D maps.

Every model returns an :class:`Embedding` whose rows follow ``item_ids`` (the catalog's
order); :mod:`mangarec.neighbours` turns one into :class:`Neighbours`; the UMAP stage turns
one into a :class:`Map`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .foldin import Foldin

if TYPE_CHECKING:
    from .similarity import Similarity


@dataclass(frozen=True, eq=False)
class FitState:
    """A fit's global state, kept so a warm night can place changed titles in the same space
    (:attr:`mangarec.models.base.ModelSpec.update`): the basis, the idf, the word vectors ...

    Attributes
    ----------
    arrays:
        ``{name: array}`` (stored in the stage cache's ``.npz``, never pickled).
    meta:
        JSON-able facts (vocabularies, parameters of the fitted vectorisers ...).
    """

    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Membership:
    """The series a list shown apart ("Same series", :attr:`~mangarec.models.base.ModelSpec.apart`)
    is made of: the rule that makes titles one series, which the models that leave the series out
    apply as this build's series model did, and the score that tells its members apart on the
    title pages.

    Attributes
    ----------
    title_threshold:
        The title-word cosine from which two titles are one series.
    max_hops:
        The longest path over related links that still makes two titles one series.
    member_score:
        The score from which a neighbour is a member: the page shows only those. ``None``: every
        neighbour is shown (a list whose members score nothing apart).
    """

    title_threshold: float
    max_hops: int
    member_score: float | None = None


@dataclass(frozen=True)
class WarmUpdate:
    """A warm night's update of a fit (:mod:`mangarec.night`): the rows it recomputed, and the
    day (``YYYY-MM-DD``, UTC) of the global state it kept."""

    rows_updated: int
    state_from: str


@dataclass(frozen=True, eq=False)
class Embedding:
    """Item vectors of one model.

    Attributes
    ----------
    model:
        The model's name (``"lsi"``, ``"word2vec"`` ...).
    item_ids:
        Item ids, one per row of ``vectors``, in catalog order.
    vectors:
        ``(n_items, dim)`` float32, finite.
    tag_ids:
        Tag names, one per row of ``tag_vectors`` (empty when the model has no tag vectors).
    tag_vectors:
        ``(n_tags, dim)`` float32 or ``None``: tags placed in the same space as items.
    info:
        JSON-able facts about the fit (explained variance, vocabulary size, timings ...): the
        report's record of it. No stage reads it: what crosses to another stage is a typed
        field (``foldin``, ``membership``, ``warm``).
    similarity:
        How neighbours are ranked when it is not the cosine of ``vectors``: a
        :class:`~mangarec.similarity.Similarity` scorer (sparse cosine, tag-set Jaccard, a
        low-rank score with a correction, a weighted sum ...). ``None``: cosine of ``vectors``.
        ``vectors`` are then the model's dense coordinates (for maps and the published JSON).
    foldin:
        How ratings are folded in against ``vectors`` (:class:`~mangarec.foldin.Foldin`): what
        the evaluation, ``mangarec tune`` and the published ``fold_in`` block read. Content
        models keep the default (explicit, λ 0.1); ALS records its training and visitor values.
    state:
        The fit's global state for a warm night's update (:class:`FitState`), ``None`` for a
        model without an update. Read by no stage but the next night's update.
    membership:
        The series this list is made of (:class:`Membership`), for a model whose list is shown
        apart (``ModelSpec.apart``); ``None`` for every other model.
    warm:
        How a warm night updated this fit (:class:`WarmUpdate`); ``None`` for a cold fit.
    """

    model: str
    item_ids: tuple[str, ...]
    vectors: np.ndarray
    tag_ids: tuple[str, ...] = ()
    tag_vectors: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    similarity: Similarity | None = None
    foldin: Foldin = field(default_factory=Foldin)
    state: FitState | None = None
    membership: Membership | None = None
    warm: WarmUpdate | None = None

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.item_ids):
            raise ValueError(f"{self.model}: vectors of shape {self.vectors.shape} for {len(self.item_ids)} items")
        if self.tag_vectors is not None and self.tag_vectors.shape[0] != len(self.tag_ids):
            raise ValueError(f"{self.model}: tag_vectors do not match tag_ids")
        if self.similarity is not None and self.similarity.n != len(self.item_ids):
            raise ValueError(f"{self.model}: similarity scores {self.similarity.n} items, not {len(self.item_ids)}")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Top-k neighbours of every item under one model.

    Attributes
    ----------
    model:
        The model's name.
    item_ids:
        Item ids in catalog order (row ``i`` of ``indices`` is the item ``item_ids[i]``).
    indices:
        ``(n_items, k)`` int32: positions (into ``item_ids``) of each item's neighbours, best
        first; never the item itself.
    scores:
        ``(n_items, k)`` float32: the model's similarity of each neighbour (cosine, unless the
        embedding has its own ``similarity``), non-increasing per row.
    method:
        ``"exact"`` or ``"nndescent"``.
    info:
        JSON-able facts (timing, recall against exact on a sample ...).
    """

    model: str
    item_ids: tuple[str, ...]
    indices: np.ndarray
    scores: np.ndarray
    method: str
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])


@dataclass(frozen=True, eq=False)
class Map:
    """2-D coordinates of items (and optionally tags) for one model's embedding plot.

    ``xy`` is ``(n_items, 2)`` float32; ``tag_xy`` is ``(n_tags, 2)`` float32 or ``None``.
    """

    model: str
    item_ids: tuple[str, ...]
    xy: np.ndarray
    tag_ids: tuple[str, ...] = ()
    tag_xy: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
