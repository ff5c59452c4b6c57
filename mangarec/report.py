"""The build report: what was built, from what, and how well it does (``data/report.json``).

The pipeline builds a :class:`Report`; the site's contexts, the tests and the benchmarks read
it; :meth:`Report.to_json` is the published ``report.json`` (keys sorted, floats rounded, so
its bytes are deterministic). Everything here is a frozen dataclass: one definition of the
report, no hand-written dicts in its shape elsewhere.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from .evaluation.results import Evaluation

T = TypeVar("T")

#: Version of the report's JSON layout.
SCHEMA = 2
#: Decimals kept for floats in report.json.
DECIMALS = 6


@dataclass(frozen=True)
class BuildInfo:
    """The build itself: package version, seed, date (``None`` when the data carry none)."""

    version: str
    seed: int
    date: str | None


@dataclass(frozen=True)
class RatingsInfo:
    """The ratings a catalog carries."""

    users: int
    ratings: int
    implicit: bool


@dataclass(frozen=True)
class CatalogInfo:
    """The published catalog: size, sources (file names only), items left out by reason."""

    items: int
    tags: int
    sources: tuple[str, ...]
    skipped: Mapping[str, int]
    ratings: RatingsInfo | None
    kinds: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NeighbourInfo:
    """How a model's neighbour lists were searched."""

    method: str
    k: int
    recall: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """One built model: its spec's label and summary, dimension, fit facts, neighbour search."""

    name: str
    label: str
    summary: str
    dim: int
    info: Mapping[str, Any]
    neighbours: NeighbourInfo


@dataclass(frozen=True)
class Published:
    """The published embeddings JSON: which model, how it folds a visitor in, file sizes."""

    model: str
    mode: str
    sizes: Mapping[str, int]
    why: str = ""  # why this model: the held-out visitor figures, or the configuration


@dataclass(frozen=True)
class StageRun:
    """One stage of the build: computed now (``cached`` false) or read from the cache."""

    name: str
    cached: bool
    seconds: float


@dataclass(frozen=True)
class Report:
    """The whole report.

    Attributes
    ----------
    models:
        The built models in display order.
    left_out:
        ``{model: reason}`` for configured models the catalog could not feed.
    evaluation:
        The evaluation's typed results (:class:`mangarec.evaluation.Evaluation`).
    notes:
        What the maintainer should know about this build (one sentence each).
    stages:
        Every stage with whether it ran or came from the cache (in ``report.json`` only with
        ``site.show_timings``).
    """

    build: BuildInfo
    catalog: CatalogInfo
    models: tuple[ModelInfo, ...]
    left_out: Mapping[str, str]
    evaluation: Evaluation
    published: Published | None = None
    notes: tuple[str, ...] = ()
    stages: tuple[StageRun, ...] = ()
    schema: int = SCHEMA

    def model(self, name: str) -> ModelInfo:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_json(self, *, timings: bool = False) -> dict[str, Any]:
        """The JSON-able report. The stages (what ran, what came from the cache, how long it
        took) only with ``timings``: they differ between a cold and a cached build of the same
        inputs, and the published tree must not."""
        out = jsonable(self)
        out["models"] = {m["name"]: m for m in out["models"]}
        if not timings:
            del out["stages"]
        return out


def jsonable(obj: Any) -> Any:
    """Dataclasses, mappings, sequences and numpy scalars as plain JSON values (floats rounded)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return round(x, DECIMALS) + 0.0 if math.isfinite(x) else None
    return obj


def from_jsonable(cls: type[T], data: Any) -> T:
    """The typed value of :func:`jsonable`'s output ``data`` for the annotation ``cls``: frozen
    dataclasses (fields by their type hints; a missing key takes the field's default), ``X | None``,
    ``Mapping[K, V]``, ``tuple[X, ...]``, ``list[X]``; numbers, strings and ``None`` as they are
    (``jsonable`` wrote non-finite floats as ``None``). A key an older or partial document lacks
    takes the field's default, or ``None`` (the reader then says "not computed"). The stage cache
    stores a typed result as JSON, and this gives it back (``from_jsonable(T, jsonable(x))``
    equals ``x`` up to rounding)."""
    return typing.cast(T, _decode(cls, data))


def _decode(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(options[0], data) if len(options) == 1 else data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        given = {
            f.name: _decode(hints[f.name], data[f.name]) if f.name in data else None
            for f in dataclasses.fields(tp)
            if f.name in data or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        }
        return tp(**given)
    if origin in (Mapping, dict, typing.Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp)
        value = args[1] if len(args) == 2 else Any
        return {k: _decode(value, v) for k, v in data.items()}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in data)
        return tuple(_decode(a, v) for a, v in zip(args, data, strict=True)) if args else tuple(data)
    if origin is list:
        (arg,) = typing.get_args(tp) or (Any,)
        return [_decode(arg, v) for v in data]
    return data
