"""Evaluation stage: see :mod:`mangarec.evaluation` (split into a package by concern)."""

from __future__ import annotations

from .evaluation import (  # noqa: F401
    K,
    evaluate,
    evaluation_split,
    jaccard_rows,
    make_split,
    run_evaluation,
)
