"""Hand-made BuildResults for site tests and benchmarks (no model fitting; a real report)."""

from __future__ import annotations

import numpy as np

from mangarec.catalog import Catalog
from mangarec.config import Config, EvaluationSection, SiteSection
from mangarec.embedding import Embedding, Map, Neighbours
from mangarec.evaluation import evaluate, evaluation_of
from mangarec.pipeline import make_report
from mangarec.report import Published
from mangarec.result import BuildResult

MODELS = ("lsi", "word2vec", "network")


def exact_neighbours(model: str, ids: tuple[str, ...], vectors: np.ndarray, k: int) -> Neighbours:
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    k = min(k, len(ids) - 1)
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(sim, order, axis=1)
    return Neighbours(model, ids, order.astype(np.int32), scores.astype(np.float32), "exact", {})


def make_result(
    catalog: Catalog,
    *,
    models=MODELS,
    site_url: str = "https://example.org/mangarec/",
    seed: int = 0,
    k: int = 10,
    date: str | None = "2026-11-23",
    **site,
) -> BuildResult:
    """Tiny hand-made embeddings (tag incidence + a model-specific random projection), exact
    cosine neighbours, 2-D maps, and the report the pipeline makes of them (real evaluation)."""
    rng = np.random.default_rng(seed)
    ids = catalog.ids
    B = catalog.tag_matrix.toarray().astype(np.float64)
    T = B.shape[1]
    embeddings, neighbours, maps = {}, {}, {}
    for m in models:
        proj = np.eye(T) + 0.3 * rng.standard_normal((T, T))
        vec = (B @ proj).astype(np.float32)
        tag_vec = proj.astype(np.float32)
        embeddings[m] = Embedding(m, ids, vec, catalog.tag_vocabulary, tag_vec, {"dim": T})
        neighbours[m] = exact_neighbours(m, ids, vec, k)
        xy = vec[:, :2] + 0.01 * rng.standard_normal((len(ids), 2)).astype(np.float32)
        maps[m] = Map(m, ids, xy.astype(np.float32), catalog.tag_vocabulary, tag_vec[:, :2].copy(), {})
    config = Config(site=SiteSection(site_url=site_url, models=list(models), **site))
    evaluation = evaluation_of(evaluate(catalog, neighbours, EvaluationSection(permutations=20), seed))
    report = make_report(
        catalog,
        config,
        embeddings,
        neighbours,
        evaluation,
        date=date,
        published=Published(model=models[0], mode="explicit", sizes={}),
    )
    return BuildResult(
        catalog=catalog,
        embeddings=embeddings,
        neighbours=neighbours,
        maps=maps,
        report=report,
        config=config,
        build_date=date,
    )
