"""The models: each turns a :class:`~mangarec.catalog.Catalog` into an
:class:`~mangarec.embedding.Embedding`.

Every model module has ``fit(catalog, params, seed) -> Embedding`` where ``params`` is its
section of the configuration (``config.models.<name>``). :data:`FITTERS` maps names to those
functions; model modules are imported on first use (gensim and sklearn are slow to import).
:func:`fit_model` picks the parameters from a :class:`~mangarec.config.Config` and derives the
model's seed with ``derive_seed(seed, "model", name)``.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from ..catalog import Catalog
from ..config import MODEL_NAMES, Config
from ..embedding import Embedding
from ..seeds import derive_seed

__all__ = ["FITTERS", "fit_model"]


def _lazy(module: str) -> Callable[..., Embedding]:
    """``mangarec.models.<module>.fit``, imported when first called."""

    def fit(catalog: Catalog, params: Any, seed: int, **kwargs: Any) -> Embedding:
        return importlib.import_module(f"{__name__}.{module}").fit(catalog, params, seed, **kwargs)

    fit.__name__ = f"{module}_fit"
    fit.__qualname__ = fit.__name__
    fit.__doc__ = f"Lazily imported ``mangarec.models.{module}.fit``."
    return fit


#: ``{model name: fit(catalog, params, seed) -> Embedding}`` in :data:`MODEL_NAMES` order.
FITTERS: dict[str, Callable[..., Embedding]] = {name: _lazy(name) for name in MODEL_NAMES}


def fit_model(name: str, catalog: Catalog, config: Config, seed: int, **kwargs: Any) -> Embedding:
    """Fit one model with its configured parameters.

    Parameters
    ----------
    name:
        A key of :data:`FITTERS`.
    catalog, config:
        The catalog and the build's configuration (``config.models.<name>`` is used).
    seed:
        The build seed; the model gets ``derive_seed(seed, "model", name)``.
    kwargs:
        For ``"hybrid"``: ``tags=`` and ``text=`` embeddings already fitted (e.g. from the
        cache). When absent they are fitted here with ``fit_model("lsi" / "text", ...)``, i.e.
        exactly as the stand-alone models.

    Raises
    ------
    ValueError
        For an unknown model name.
    """
    if name not in FITTERS:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(FITTERS)})")
    params = getattr(config.models, name)
    if name == "hybrid":
        if kwargs.get("tags") is None:
            kwargs["tags"] = fit_model("lsi", catalog, config, seed)
        if kwargs.get("text") is None:
            kwargs["text"] = fit_model("text", catalog, config, seed)
    return FITTERS[name](catalog, params, derive_seed(seed, "model", name), **kwargs)
