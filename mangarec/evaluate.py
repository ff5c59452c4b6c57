"""Evaluation stage: see :mod:`mangarec.evaluation` (split into a package by concern)."""
from __future__ import annotations

from .evaluation import (  # noqa: F401
    HIT_K,
    evaluate,
    evaluation_split,
    expected_jaccard,
    hit_rate,
    jaccard_matrix,
    jaccard_rows,
    null_means,
    null_test,
    random_lists,
    split_ratings,
)
