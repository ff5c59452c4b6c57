"""The models: each turns a :class:`~mangarec.catalog.Catalog` into an
:class:`~mangarec.embedding.Embedding`.

Every model is a module with a ``SPEC`` (:class:`~.base.ModelSpec`): its name, label,
parameter section, ``fit``, fold-in solve, tuning grid and what it needs. :data:`REGISTRY` holds
them all, ordered by ``SPEC.order``: the modules of this package, and the specs other packages
declare under the entry-point group :data:`ENTRY_POINTS` (as MkDocs finds its plugins), so a
model from outside is one module and one line of its ``pyproject.toml``::

    [project.entry-points."mangarec.models"]
    toy = "toy_model:SPEC"

The configuration, pipeline, evaluation, tuning and pages read the specs. Heavy libraries
(gensim, scikit-learn) are imported inside ``fit``, so reading the registry is cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ..foldin import Foldin
from ..seeds import derive_seed
from .base import (
    Configured,
    Deps,
    ModelParams,
    ModelSpec,
    Tuning,
    VisitorCandidate,
    catalog_has,
    missing_reason,
)

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..embedding import Embedding

__all__ = [
    "ENTRY_POINTS",
    "REGISTRY",
    "Deps",
    "Foldin",
    "ModelParams",
    "ModelSpec",
    "Tuning",
    "VisitorCandidate",
    "available",
    "catalog_has",
    "fit_model",
    "fit_order",
    "params_of",
    "spec",
    "uses_ratings",
]


#: The entry-point group under which other packages declare models (each a :class:`ModelSpec`).
ENTRY_POINTS = "mangarec.models"


def _plugins() -> list[ModelSpec[Any]]:
    """The specs declared under :data:`ENTRY_POINTS` by installed packages."""
    out: list[ModelSpec[Any]] = []
    for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        s = ep.load()
        if not isinstance(s, ModelSpec):
            raise RuntimeError(f"entry point {ep.name} = {ep.value!r} ({ENTRY_POINTS}) is not a ModelSpec")
        if s.name != ep.name:
            raise RuntimeError(f"entry point {ep.name} = {ep.value!r} ({ENTRY_POINTS}): its SPEC.name is {s.name!r}")
        out.append(s)
    return out


def _discover() -> dict[str, ModelSpec[Any]]:
    specs: list[ModelSpec[Any]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        s = getattr(module, "SPEC", None)
        if isinstance(s, ModelSpec):
            if s.name != info.name:
                raise RuntimeError(f"mangarec.models.{info.name}: SPEC.name is {s.name!r}, not the module name")
            specs.append(s)
    own = {s.name for s in specs}
    for s in _plugins():
        if s.name in own:
            raise RuntimeError(f"entry point {s.name} ({ENTRY_POINTS}) has the name of a model of mangarec")
        specs.append(s)
    specs.sort(key=lambda s: (s.order, s.name))
    registry = {s.name: s for s in specs}
    for s in specs:
        for d in s.depends:
            if d not in registry:
                raise RuntimeError(f"model {s.name!r} depends on unknown model {d!r}")
    return registry


#: ``{name: ModelSpec}`` of every model, in display order.
REGISTRY: Mapping[str, ModelSpec[Any]] = _discover()


def spec(name: str) -> ModelSpec[Any]:
    """The spec of model ``name``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(REGISTRY)})") from None


def params_of(config: Configured, name: str) -> Any:
    """Model ``name``'s parameter section of ``config`` (``config.models.of(spec(name))``; with
    a spec in hand, ``config.models.of(SPEC)`` is typed as its ``params``)."""
    return config.models.of(spec(name))


def fit_order(names: Iterable[str]) -> list[str]:
    """``names`` plus the models they depend on, each after its dependencies.

    Dependencies that were not asked for come first (they are fitted, cached, but not shown).
    """
    out: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in out:
            return
        if name in path:
            raise RuntimeError(f"models depend on each other in a cycle: {' -> '.join(path + (name,))}")
        for d in spec(name).depends:
            visit(d, path + (name,))
        out.append(name)

    for n in names:
        visit(n, ())
    return out


def uses_ratings(name: str) -> bool:
    """Whether model ``name``'s fit reads the ratings: it is trained on them, or a model it
    depends on is (the evaluation refits it without the held-out ratings)."""
    return any(spec(d).trained_on_ratings for d in fit_order([name]))


def available(catalog: Catalog, names: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The models of ``names`` that can run on ``catalog``, and why the others cannot.

    A model is left out when the catalog lacks one of its ``needs`` or when a model it
    depends on is left out.

    Returns
    -------
    (list of str, dict)
        The kept names in the given order, and ``{left-out name: reason}``.
    """
    names = list(names)
    kept: list[str] = []
    reasons: dict[str, str] = {}
    for name in fit_order(names):
        s = spec(name)
        why = missing_reason(s, catalog)
        if why is None:
            lost = [d for d in s.depends if d in reasons]
            if lost:
                why = f"it needs the {lost[0]} model, which was left out"
        if why is None:
            kept.append(name)
        else:
            reasons[name] = why
    return [n for n in names if n in kept], reasons


def fit_model(name: str, catalog: Catalog, config: Configured, seed: int, deps: Deps | None = None) -> Embedding:
    """Fit one model with its configured parameters.

    Parameters
    ----------
    name:
        A key of :data:`REGISTRY`.
    catalog, config:
        The catalog and the build's configuration (``config.models.<name>`` is used).
    seed:
        The build seed; the model gets ``derive_seed(seed, "model", name)``.
    deps:
        The embeddings of the models ``name`` depends on; missing ones are fitted here with
        :func:`fit_model` (exactly as the stand-alone models).

    Raises
    ------
    ValueError
        For an unknown model name.
    """
    s = spec(name)
    given = dict(deps or {})
    full = {d: given[d] if d in given else fit_model(d, catalog, config, seed) for d in s.depends}
    return s.fit(catalog, params_of(config, name), derive_seed(seed, "model", name), full)
