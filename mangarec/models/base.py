"""The contract every model declares: :class:`ModelSpec`.

A model is one module (of :mod:`mangarec.models`, or of another package declaring it under the
``mangarec.models`` entry-point group) with a ``Params`` section (its configuration keys, made
with :func:`mangarec.schema.key`), a ``fit`` function and a module-level ``SPEC``. The registry
(:data:`mangarec.models.REGISTRY`) collects the specs; the configuration schema, the pipeline,
the evaluation, ``mangarec tune``, the published-model choice and the pages read them, so adding
a model is one new file (plus its documentation) and nothing else (``docs/architecture.md``
works an example through).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from ..catalog import FIELDS

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

    from ..catalog import Catalog
    from ..embedding import Embedding

#: The embeddings of the models a model depends on, by name.
Deps = Mapping[str, "Embedding"]

#: A model's parameter section (a frozen dataclass of :func:`mangarec.schema.key` fields).
P = TypeVar("P")


class Configured(Protocol):
    """What the registry reads of a configuration (:class:`mangarec.config.Config`): its
    ``models`` section (:class:`ModelParams`). A protocol, so that the registry does not import
    the configuration, which is built from the registry's specs."""

    @property
    def models(self) -> ModelParams: ...


class ModelParams:
    """The ``[models]`` section: one parameter section per registered model (the configuration
    generates the subclass with one field per spec, :data:`mangarec.config.ModelsSection`).
    ``of(spec)`` is that model's section, typed as the spec's ``params``."""

    def of(self, spec: ModelSpec[P]) -> P:
        """The parameter section of the model ``spec``."""
        return cast(P, getattr(self, spec.name))


#: Catalog inputs a model can need (see :func:`catalog_has`).
INPUTS: tuple[str, ...] = ("tags", "descriptions", "ratings")


@dataclass(frozen=True)
class VisitorCandidate:
    """One visitor fold-in ``mangarec tune`` scores: its α and λ, and the parameter values
    (``{key: value}`` of the model's section) that give them."""

    alpha: float
    reg: float
    keys: Mapping[str, Any]


@dataclass(frozen=True)
class Tuning(Generic[P]):
    """How ``mangarec tune`` searches a model's parameters on the validation split (the way an
    estimator declares its parameter grid).

    Attributes
    ----------
    grid:
        ``{parameter: candidate values}`` of the coordinate descent (see :mod:`mangarec.tune`).
    relative:
        Parameters whose candidates are factors of the current value.
    visitor:
        ``visitor(params) -> (likes, candidates)``: after the search, the visitor fold-ins to
        score with validation visitors who give ``likes`` ratings (``None`` or no candidates:
        no visitor search).
    """

    grid: Mapping[str, tuple[Any, ...]]
    relative: frozenset[str] = frozenset()
    visitor: Callable[[P], tuple[int, Sequence[VisitorCandidate]]] | None = None


@dataclass(frozen=True)
class ModelSpec(Generic[P]):
    """What a model is, needs and produces.

    Attributes
    ----------
    name:
        Its key: ``[models.<name>]`` in the configuration, the module's file name, the column
        id on the pages and in ``report.json``.
    label:
        Its name on the pages (``"LSI (tags)"``).
    summary:
        One sentence for the models page and ``--help-config``.
    params:
        Its parameter section: a frozen dataclass whose fields are documented keys.
    fit:
        ``fit(catalog, params, seed, deps) -> Embedding``; ``seed`` is already derived for
        this model, ``deps`` holds the embeddings named in ``depends``.
    needs:
        Catalog inputs it cannot do without (a subset of :data:`INPUTS`): without them the
        build leaves it out and says why.
    depends:
        Other models whose embeddings ``fit`` receives (fitted first, cached on their own).
    trained_on_ratings:
        Its vectors come from the ratings, so the evaluation refits it without the held-out
        ratings.
    order:
        Display order (the default ``site.models`` is the registry in this order).
    publish_rank:
        Preference for the published embeddings when ``publish.model = "auto"`` (lowest
        available wins); ``None``: never chosen automatically.
    published_as_fitted:
        Its vectors are designed for a visitor's fold-in and are published as fitted (the
        hybrid's unit tag block plus one prior coordinate); otherwise a content model's rows are
        published at unit length (:func:`mangarec.publish.published_vectors`). A model trained
        on ratings is always published as fitted.
    mapped:
        Whether the maps page draws it by default (``site.maps``): false for a model whose map
        would repeat another's (the same unit tag rows, or the same eigenvectors rescaled).
    reads:
        Catalog fields ``fit`` reads beyond its ``needs`` (names of
        :data:`mangarec.catalog.FIELDS`: ``titles``, ``links``, ``popularity`` ...). Its cache key
        holds the fingerprints of exactly :attr:`fields` (the contract suite checks that a change
        to any other field leaves its embedding unchanged), so a changed description does not
        refit a model that reads only tags.
    apart:
        Its list is shown apart from the similar-title columns (the pages' "Same series").
    role:
        What the models page says beside its figures (``"baseline: tag-set Jaccard"``), if anything.
    solve:
        "Solve these users" (as ``implicit``'s models own ``recalculate_user``):
        ``solve(embedding, values) -> X``, the ``(users, dim)`` factors of the users whose
        model-scale values are the rows of ``values`` (``(users, items)`` csr,
        :meth:`~mangarec.foldin.Foldin.training_values`), folded in exactly against the
        embedding's vectors with its :attr:`~mangarec.embedding.Embedding.foldin`. Required of a
        model trained on ratings: the evaluation scores its held-out fit with it.
    tuning:
        What ``mangarec tune`` searches (``None``: the model is not tuned).
    candidates:
        Candidates per title in the published per-title form (embeddings version 7, ``[publish]
        compact_candidates = -1``, the default) when this model is published: how many titles a
        visitor's rated title lists so that the visitor's figures stay within 0.98 of the full
        file's (``benchmarks/bench_foryou.py``): 50 for a content model (a one-like visitor's
        picks are its first 20), 200 for a rating model (anime-recdb's 12-like P@10 needs 150–200).
    update:
        A warm night's update (opt-in, ``[night] warm``, :mod:`mangarec.night`):
        ``update(previous, catalog, params, seed, deps, changed) -> Embedding | None``.
        ``previous`` is last night's embedding of this model (same parameters, seed and code;
        its :attr:`~mangarec.embedding.Embedding.state` holds the fit's global state),
        ``changed`` the ``(m,)`` positions in ``catalog`` of the titles whose fields changed
        (new titles are told apart by their ids; removed ones are dropped). It keeps the global
        state and recomputes only those rows: every other row bit-identical to ``previous``'s,
        an unchanged catalog gives ``previous`` back. ``None``: no warm update possible (a cold
        fit instead). ``None`` here: the model is always refitted (a model whose rows depend
        on their own title alone needs none: its cold fit keeps the unchanged rows).
    """

    name: str
    label: str
    summary: str
    params: type[P]
    fit: Callable[[Catalog, P, int, Deps], Embedding]
    needs: frozenset[str] = frozenset({"tags"})
    depends: tuple[str, ...] = ()
    trained_on_ratings: bool = False
    order: int = 100
    publish_rank: int | None = None
    published_as_fitted: bool = False
    mapped: bool = True
    reads: frozenset[str] = frozenset()
    apart: bool = False
    role: str = ""
    solve: Callable[[Embedding, sp.csr_matrix], np.ndarray] | None = None
    tuning: Tuning[P] | None = field(default=None)
    update: Callable[[Embedding, Catalog, P, int, Deps, np.ndarray], Embedding | None] | None = None
    candidates: int = 50

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(INPUTS)
        if unknown:
            raise ValueError(f"model {self.name!r}: unknown needs {sorted(unknown)} (known: {INPUTS})")
        unread = set(self.reads) - set(FIELDS)
        if unread:
            raise ValueError(f"model {self.name!r}: unknown reads {sorted(unread)} (known: {', '.join(FIELDS)})")
        if self.candidates < 1:
            raise ValueError(f"model {self.name!r}: candidates must be at least 1")
        if self.trained_on_ratings and self.solve is None:
            raise ValueError(f"model {self.name!r} is trained on ratings but declares no solve (see ModelSpec.solve)")

    @property
    def fields(self) -> frozenset[str]:
        """Every catalog field ``fit`` reads: ``ids``, its ``needs``, its ``reads`` and, for a
        model trained on ratings, ``ratings``."""
        return frozenset({"ids", *self.needs, *self.reads, *(("ratings",) if self.trained_on_ratings else ())})


def catalog_has(catalog: Catalog, need: str) -> bool:
    """Whether ``catalog`` holds the input ``need`` (one of :data:`INPUTS`)."""
    if need == "tags":
        return len(catalog.tag_vocabulary) > 0
    if need == "descriptions":
        return any(item.description.strip() for item in catalog.items)
    if need == "ratings":
        return catalog.ratings is not None and catalog.ratings.nnz > 0
    raise ValueError(f"unknown input {need!r}")


_NEED_TEXT = {"tags": "no tags", "descriptions": "no descriptions", "ratings": "no ratings"}


def missing_reason(spec: ModelSpec, catalog: Catalog) -> str | None:
    """Why ``spec`` cannot run on ``catalog`` (``None`` when it can)."""
    missing = [n for n in INPUTS if n in spec.needs and not catalog_has(catalog, n)]
    if not missing:
        return None
    return "the catalog has " + " and ".join(_NEED_TEXT[n] for n in missing)
