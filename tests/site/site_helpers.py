"""Hand-made BuildResults for site tests and benchmarks (no model fitting)."""
from __future__ import annotations

import numpy as np

from mangarec.catalog import Catalog
from mangarec.config import Config, SiteSection
from mangarec.embedding import Embedding, Map, Neighbours
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


def make_result(catalog: Catalog, *, models=MODELS, site_url: str = "https://example.org/mangarec/",
                seed: int = 0, k: int = 10, **site) -> BuildResult:
    """Tiny hand-made embeddings (tag incidence + a model-specific random projection), exact
    cosine neighbours, 2-D maps and a report in the shape of report.json."""
    rng = np.random.default_rng(seed)
    ids = catalog.ids
    B = catalog.tag_matrix.toarray().astype(np.float64)
    T = B.shape[1]
    embeddings, neighbours, maps = {}, {}, {}
    for j, m in enumerate(models):
        proj = np.eye(T) + 0.3 * rng.standard_normal((T, T))
        vec = (B @ proj).astype(np.float32)
        tag_vec = proj.astype(np.float32)
        embeddings[m] = Embedding(m, ids, vec, catalog.tag_vocabulary, tag_vec, {"dim": T})
        neighbours[m] = exact_neighbours(m, ids, vec, k)
        xy = vec[:, :2] + 0.01 * rng.standard_normal((len(ids), 2)).astype(np.float32)
        maps[m] = Map(m, ids, xy.astype(np.float32), catalog.tag_vocabulary, tag_vec[:, :2].copy(), {})
    n = len(models)
    mean = [[1.0 if a == b else round(0.2 + 0.1 * (a + b), 3) for b in range(n)] for a in range(n)]
    report = {
        "schema": 1,
        "build": {"seed": 42, "date": "2026-11-23T00:00:00Z", "version": "0.1.0"},
        "catalog": {"items": len(catalog), "tags": T, "sources": list(catalog.sources), "skipped": {"adult": 3},
                    "ratings": None},
        "models": {m: {"dim": T, "info": {}, "neighbours": {"method": "exact", "k": k, "seconds": 0.01,
                                                            "recall": None}} for m in models},
        "jaccard": {"models": list(models), "mean": mean, "p_value": [[0.0] * n for _ in range(n)], "k": k},
        "null": {m: {"mean_jaccard": 0.3, "model_vs_null": 12.5, "null_mean": 0.024, "null_sd": 0.004,
                     "p_value": 0.004975, "permutations": 200} for m in models},
        "hit_rate": {"k": 10, "users": 50, "scores": {**{m: 0.3 for m in models}, "popularity": 0.2,
                                                      "random": 0.01}},
        "timings": {"load": 0.1, **{f"model:{m}": 0.2 for m in models}},
    }
    config = Config(site=SiteSection(site_url=site_url, models=list(models), **site))
    return BuildResult(catalog=catalog, embeddings=embeddings, neighbours=neighbours, maps=maps, report=report,
                       config=config, build_date="2026-11-23T00:00:00Z", published={})
