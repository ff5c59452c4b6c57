"""Helpers of the models' warm updates (:attr:`mangarec.models.base.ModelSpec.update`).

A warm update keeps last night's global state (a basis, an idf, word vectors) and computes only
the rows of the titles that changed or are new; every other row is copied from last night's
embedding, bit for bit, so the night's neighbour update (:mod:`mangarec.neighbours_update`) ranks
few lists. :class:`Rows` says where each of tonight's rows comes from; the fitted tf-idf
vocabularies of the text fields (:class:`Vocabulary`) transform the changed titles' text with
last night's words and idf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..embedding import Embedding


@dataclass(frozen=True, eq=False)
class Rows:
    """Where tonight's rows come from.

    Attributes
    ----------
    source:
        ``(n,)`` int64: last night's row of each of tonight's titles, ``-1`` for a row computed
        tonight (a new or changed title).
    todo:
        ``(m,)`` int64: tonight's positions of the rows computed tonight (ascending).
    """

    source: np.ndarray
    todo: np.ndarray

    @classmethod
    def of(cls, previous_ids: Sequence[str], ids: Sequence[str], changed: np.ndarray) -> Rows:
        """Rows of ``ids`` from ``previous_ids``; ``changed`` (positions in ``ids``) and the
        titles last night did not have are computed."""
        old = {iid: p for p, iid in enumerate(previous_ids)}
        source = np.array([old.get(iid, -1) for iid in ids], dtype=np.int64)
        source[np.asarray(changed, dtype=np.int64)] = -1
        return cls(source, np.flatnonzero(source < 0))

    def dense(self, previous: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """``(n, d)``: last night's rows of ``previous`` and the ``fresh`` rows ``(m, d)`` of
        :attr:`todo`, in ``previous``'s dtype."""
        previous = np.asarray(previous)
        out = np.empty((len(self.source), *previous.shape[1:]), dtype=previous.dtype)
        keep = self.source >= 0
        out[keep] = previous[self.source[keep]]
        out[self.todo] = np.asarray(fresh).astype(previous.dtype, copy=False)
        return out

    def sparse(self, previous: sp.spmatrix, fresh: sp.spmatrix) -> sp.csr_matrix:
        """``(n, V)`` csr: last night's rows of ``previous`` and the ``fresh`` rows of :attr:`todo`."""
        previous = sp.csr_matrix(previous)
        fresh = sp.csr_matrix(fresh, dtype=previous.dtype)
        stacked = sp.vstack([previous, fresh], format="csr")
        order = self.source.copy()
        order[self.todo] = previous.shape[0] + np.arange(len(self.todo))
        return sp.csr_matrix(stacked[order])


def same_tags(previous: Embedding, catalog: Catalog) -> bool:
    """Whether tonight's tag vocabulary is last night's (a new or vanished tag changes every
    tag model's global state: no warm update). Last night's vocabulary is the embedding's
    ``tag_ids``, or its state's ``meta["tags"]`` for a model without tag vectors."""
    tags = previous.state.meta.get("tags") if previous.state is not None else None
    before = tuple(tags) if tags is not None else tuple(previous.tag_ids)
    return before == tuple(catalog.tag_vocabulary)


@dataclass(frozen=True)
class Vocabulary:
    """A fitted tf-idf field (sklearn ``TfidfVectorizer``, ``sublinear_tf``): its words in column
    order, their idf and the tokenising options, so that new text is weighted as last night's.

    ``options`` are the vectoriser's keyword arguments without the ones that choose the words
    (``min_df``, ``max_df``, ``max_features``).
    """

    words: tuple[str, ...]
    idf: np.ndarray
    options: Mapping[str, Any]

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``(len(texts), len(words))`` tf-idf rows (l2-normalised) with the fitted words and idf."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not self.words or not len(texts):
            return sp.csr_matrix((len(texts), len(self.words)))
        options = dict(self.options)
        if "ngram_range" in options:
            options["ngram_range"] = tuple(options["ngram_range"])
        vec = TfidfVectorizer(
            lowercase=True, sublinear_tf=True, dtype=np.float64, vocabulary=list(self.words), **options
        )
        vec.idf_ = self.idf
        return sp.csr_matrix(vec.transform(list(texts)))

    def meta(self) -> dict[str, Any]:
        """The JSON-able part (words, options); the idf goes in the state's arrays."""
        return {"words": list(self.words), "options": dict(self.options)}

    @classmethod
    def from_parts(cls, meta: Mapping[str, Any], idf: np.ndarray) -> Vocabulary:
        return cls(tuple(meta["words"]), np.asarray(idf, dtype=np.float64), dict(meta["options"]))


def fit_vocabulary(texts: Sequence[str], **kw: Any) -> tuple[sp.csr_matrix, Vocabulary]:
    """tf-idf rows of ``texts`` (``(n, V)`` csr, as ``TfidfVectorizer.fit_transform``) and the
    fitted :class:`Vocabulary` (empty when no word is left)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    options = {k: v for k, v in kw.items() if k not in ("min_df", "max_df", "max_features")}
    vec = TfidfVectorizer(lowercase=True, sublinear_tf=True, dtype=np.float64, **kw)
    try:
        x = vec.fit_transform(list(texts))
    except ValueError:  # empty vocabulary
        return sp.csr_matrix((len(texts), 0)), Vocabulary((), np.zeros(0), options)
    words = tuple(vec.get_feature_names_out().tolist())
    return sp.csr_matrix(x), Vocabulary(words, np.asarray(vec.idf_, dtype=np.float64), options)


def term(similarity: Any, label: str) -> Any | None:
    """The term labelled ``label`` of a :class:`~mangarec.similarity.Weighted` scorer (``None``
    when it has none)."""
    labels = getattr(similarity, "labels", ())
    if label not in labels:
        return None
    return similarity.terms[list(labels).index(label)][1]
