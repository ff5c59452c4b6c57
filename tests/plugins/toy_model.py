"""A model from outside mangarec: the worked example of ``docs/architecture.md``.

The whole model is this file plus one entry point in its package's ``pyproject.toml``::

    [project.entry-points."mangarec.models"]
    toy = "toy_model:SPEC"

Each title is the unit vector of its tags among the catalog's ``top_tags`` most common ones, and
titles are ranked by the cosine of those vectors. ``tests/test_plugin_model.py`` installs it
(an entry point in a temporary ``.dist-info``) and builds a site with it, changing nothing under
``mangarec/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mangarec.catalog import Catalog
from mangarec.embedding import Embedding
from mangarec.models.base import ModelSpec
from mangarec.schema import bounded, key


@dataclass(frozen=True)
class Params:
    """``[models.toy]``: unit vectors over the most common tags."""

    top_tags: int = key(8, "How many of the catalog's most common tags the vectors span.", bounded(1, 10_000))


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Embedding]) -> Embedding:
    """``(n_items, min(top_tags, n_tags))`` float32 unit rows of the binary tag matrix restricted
    to the most common tags (ties: the earlier tag); zero rows for titles with none of them."""
    b = catalog.tag_matrix.tocsc()
    counts = np.diff(b.indptr)
    keep = np.sort(np.argsort(-counts, kind="stable")[: params.top_tags])
    dense = np.asarray(b[:, keep].toarray(), dtype=np.float64)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    unit = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    return Embedding(
        model="toy",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(unit, dtype=np.float32),
        info={"tags": [catalog.tag_vocabulary[k] for k in keep.tolist()]},
    )


SPEC = ModelSpec(
    name="toy",
    label="Toy (common tags)",
    summary="Cosine over each title's share of the catalog's most common tags.",
    params=Params,
    fit=fit,
    needs=frozenset({"tags"}),
    order=200,
    mapped=False,
)
