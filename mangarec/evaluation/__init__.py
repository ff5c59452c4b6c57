"""Evaluation of the models' neighbour lists (the ``jaccard``, ``null`` and ``hit_rate`` parts
of ``report.json``).

* ``jaccard``: mean Jaccard index of every pair of models' top-k lists, with a permutation
  p-value (:mod:`.jaccard`).
* ``null``: each model against random neighbour lists, with the exact hypergeometric
  expectation next to the simulated null distribution (:mod:`.null`).
* ``hit_rate``: item-kNN hit rate@10 on held-out likes, next to popularity and random
  (:mod:`.hitrate`); ``None`` without ratings.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..catalog import Catalog
from ..config import EvaluationSection
from ..embedding import Neighbours
from ..seeds import derive_seed
from .hitrate import HIT_K, evaluation_split, hit_rate, split_ratings
from .jaccard import PAIR_TEST_ITEMS, check_lists, jaccard_matrix, jaccard_rows, pair_tests, test_items
from .null import expected_jaccard, null_means, null_test, random_lists

__all__ = [
    "HIT_K", "PAIR_TEST_ITEMS", "evaluate", "evaluation_split", "expected_jaccard", "hit_rate",
    "jaccard_matrix", "jaccard_rows", "null_means", "null_test", "random_lists", "split_ratings",
]

DECIMALS = 6


def _r(x: float | None) -> float | None:
    """Round for the report (and turn -0.0 into 0.0), so the JSON is deterministic."""
    return None if x is None else round(float(x), DECIMALS) + 0.0


def _rounded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _r(obj)
    return obj


def evaluate(catalog: Catalog, neighbours: Mapping[str, Neighbours], config: EvaluationSection,
             seed: int, *, hit_rate_neighbours: Mapping[str, Neighbours] | None = None) -> dict:
    """The ``jaccard``, ``null`` and ``hit_rate`` parts of ``report.json``.

    Parameters
    ----------
    neighbours:
        ``{model: Neighbours}`` over ``catalog``'s items, in report order.
    hit_rate_neighbours:
        Replacements used for the hit rate only, e.g. ``{"als": ...}`` fitted on
        :func:`evaluation_split`'s training ratings (the notes then say so).

    Returns
    -------
    dict
        JSON-able, floats rounded to 6 decimals:
        ``{"jaccard": {"models", "mean", "p_value", "k", "test_items"},
        "null": {model: {"mean_jaccard", "model_vs_null", "null_mean", "null_sd", "p_value",
        "permutations", "expected", "expected_sd"}}, "hit_rate": None | {"k", "users", "scores",
        "notes", ...}}``.
    """
    if not neighbours:
        raise ValueError("evaluate needs at least one model's neighbours")
    for name, nb in neighbours.items():
        if tuple(nb.item_ids) != tuple(catalog.ids):
            raise ValueError(f"{name}: neighbour lists are not over the catalog's items")
    names, mean, _ = jaccard_matrix(neighbours)
    lists = {name: check_lists(nb) for name, nb in neighbours.items()}
    p = pair_tests(names, lists, config.permutations, derive_seed(seed, "evaluation", "pairs"))
    ks = sorted({nb.k for nb in neighbours.values()})
    null = {
        name: null_test(lists[name], config.permutations,
                        np.random.default_rng(derive_seed(seed, "evaluation", "null", name)))
        for name in names
    }
    hr_nb = dict(neighbours)
    hr_nb.update(hit_rate_neighbours or {})
    hr = hit_rate(catalog, hr_nb, config, seed, fitted_on_train=tuple(hit_rate_neighbours or ()))
    return _rounded({
        "jaccard": {"models": names, "mean": mean.tolist(), "p_value": p.tolist(),
                    "k": ks[0] if len(ks) == 1 else ks, "test_items": test_items(len(catalog))},
        "null": null,
        "hit_rate": hr,
    })
