"""Network deconvolution of the item network ``G = B Bᵀ`` (the MangaDex study, at full scale).

``G_dir = G (I + G)⁻¹`` removes the indirect effects of a network whose observed edges are the
sum of direct paths of every length (Feizi et al. 2013). On ``G = B Bᵀ`` it is the rank-``r``
score ``U diag(λ / (c + λ)) Uᵀ`` from the SVD of ``B`` (:mod:`._indirect`): no ``n × n`` matrix,
seconds instead of the study's aborted 8-hour eigendecomposition. Neighbours rank the
off-diagonal ``G_dir`` (negative values count as 0, ties to the more popular item).

``beta`` rescales ``G`` first so that the largest direct eigenvalue is ``beta`` (Feizi's
scaling); without it the formula's ``c = 1`` turns every eigenvalue of ``B Bᵀ`` (the smallest
is ~37 on MangaDex) into ~1, i.e. the projection ``U Uᵀ``. The default was chosen on the
validation half (``benchmarks/bench_content.py``). ``vectors`` (maps) are
``U diag(√(λ / (c + λ)))``, whose dot products are ``G_dir``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..catalog import Catalog
from ..embedding import Embedding, FitState
from ..schema import bounded, key
from ..similarity import Bilinear
from ._indirect import deconvolution_scale, project_rows, spectrum_basis
from ._warm import Rows, same_tags
from .base import ModelSpec


@dataclass(frozen=True)
class Params:
    """``[models.deconvolution]``: network deconvolution of the tag network B Bᵀ."""

    beta: float = key(
        0.5,
        "Largest direct eigenvalue after Feizi's rescaling (1 > beta > 0); 1 means the formula unscaled (c = 1).",
        bounded(1e-6, 1),
    )


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """The deconvolved network as a :class:`~mangarec.similarity.Bilinear` scorer."""
    U, lam, W = spectrum_basis(catalog.tag_matrix)
    c = deconvolution_scale(lam, None if params.beta >= 1 else params.beta)
    f = lam / (c + lam) if lam.size else lam
    r = U.shape[1]
    vectors = U * np.sqrt(f)[None, :] if r else np.zeros((len(catalog), 1))
    return Embedding(
        model="deconvolution",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        similarity=Bilinear(U, f, np.zeros(r), np.zeros(len(catalog)), clip=True) if r else None,
        info={
            "rank": int(r),
            "scale": c,
            "beta": float(params.beta),
            "direct_eigenvalues": [round(float(v), 6) for v in f[:8]],
        },
        state=FitState({"W": W, "lam": lam}, {"tags": list(catalog.tag_vocabulary)}) if r else None,
    )


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's spectrum ``(W, λ)`` and direct eigenvalues: a changed title's row of ``U``
    is ``b_i W / √λ``, every other row last night's; ``None`` when the tags changed."""
    sim = previous.similarity
    if previous.state is None or not isinstance(sim, Bilinear) or not same_tags(previous, catalog):
        return None
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    u = project_rows(catalog.tag_matrix[rows.todo], previous.state.arrays["W"], previous.state.arrays["lam"])
    U = rows.dense(sim.U, u)
    f = sim.a
    n = len(catalog)
    vectors = rows.dense(previous.vectors, u * np.sqrt(f)[None, :])
    bilinear = Bilinear(U, f, np.zeros(len(f)), np.zeros(n), clip=True)
    return replace(previous, item_ids=catalog.ids, vectors=vectors, similarity=bilinear)


SPEC = ModelSpec(
    name="deconvolution",
    label="Network deconvolution",
    summary="The tag network B Bᵀ with indirect paths removed, G (I + G)⁻¹, from the SVD of B.",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"tags"}),
    order=80,
    mapped=False,
)
