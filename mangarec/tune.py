"""``mangarec tune``: choose a model's settings on the validation split and write them to the config.

    mangarec tune --data DIR_OR_FILE [--data ...] --config site_src/site.toml [--model NAME]
                  [--max-fits 16] [--users 1000] [--dry-run] [--report tune.json]

The model is any whose spec declares a grid (:attr:`mangarec.models.ModelSpec.tuning`; by
default the first such model of the registry), so this module names no model. The protocol is
the evaluation's (:mod:`mangarec.evaluation.protocol`): candidates are fitted on the *fit*
ratings (train without the validation likes) and scored by nDCG@10 on the *validation* likes of
the evaluated users, their users folded in by the model's own solve; the test likes are never
read. The search is a coordinate descent from the configured values: each round tries, one
setting at a time, the values of the spec's grid around the current best and keeps a change when
it raises validation nDCG. It stops after a round without a gain or at ``--max-fits`` fits (each
fit on anime-recdb takes seconds to tens of seconds, so the default bound runs in minutes). Then,
when the spec declares visitor fold-ins, each is scored by P@10 of validation visitors.

The chosen values are written into the model's ``[models.<name>]`` of the TOML file, keeping its
comments (``tomlkit``), with a comment line giving their validation score. Prints every
candidate's score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    from .models import ModelSpec, VisitorCandidate

#: Default bound on the number of fits.
MAX_FITS = 16


@dataclass(frozen=True)
class Candidate:
    """One tried setting and its validation figures."""

    params: dict
    ndcg: float
    precision: float
    seconds: float


@dataclass(frozen=True)
class TuneResult:
    """The search: every candidate in the order tried, the best one, and the visitor fold-ins
    (``{label: validation P@10}`` and the best, ``None`` without a visitor search)."""

    best: Candidate
    tried: tuple[Candidate, ...]
    users: int
    validation_likes: int
    visitor: dict = field(default_factory=dict)
    visitor_choice: VisitorCandidate | None = None


def _key(params: Any, grid: Any) -> tuple:
    return tuple(sorted((k, v) for k, v in asdict(params).items() if k in grid))


def tunable() -> list[str]:
    """The models whose spec declares a tuning grid, in registry order."""
    from .models import REGISTRY

    return [n for n, s in REGISTRY.items() if s.tuning is not None]


def search(
    catalog: Any,
    model: ModelSpec[Any],
    start: Any,
    evaluation: Any,
    seed: int,
    *,
    max_fits: int = MAX_FITS,
    users: int = 1000,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Coordinate descent over ``model.tuning.grid`` from its params ``start`` (see the module
    docstring); ``evaluation`` is the ``[evaluation]`` section (the split's definition)."""
    from .evaluation.protocol import canonical, make_split
    from .evaluation.ranking import evaluate_scorer
    from .evaluation.runner import foldin_scorer, training_values

    tuning = model.tuning
    if tuning is None or model.solve is None or model.depends:
        raise InputError(f"tune: model {model.name!r} declares no tuning grid (tunable: {', '.join(tunable())})")
    if catalog.ratings is None or catalog.ratings.nnz == 0:
        raise InputError("tune needs ratings, but the catalog has none", ", ".join(catalog.sources) or None)
    split = make_split(catalog.ratings, replace(evaluation, max_users=min(evaluation.max_users, users)), seed)
    if split.empty:
        raise InputError("tune: no user has enough likes to hold any out (see [evaluation] scale and like_threshold)")
    fit_cat = replace(catalog, ratings=split.fit)
    exclude = canonical(split.fit.matrix)
    tried: dict[tuple, Candidate] = {}
    last: dict[str, Any] = {}  # the embedding of the latest fit (only the best one is kept)

    def score(p: Any) -> Candidate:
        k = _key(p, tuning.grid)
        if k in tried:
            return tried[k]
        t = time.perf_counter()
        emb = model.fit(fit_cat, p, seed, {})
        last["emb"] = emb
        m = evaluate_scorer(
            foldin_scorer(emb, training_values(emb, split.fit.matrix), split.users),
            exclude,
            split.validation,
            split.users,
            catalog.tie_order,
            seed,
        )
        c = Candidate(
            params={k2: v for k2, v in k},
            ndcg=m.ndcg.mean,
            precision=m.precision.mean,
            seconds=round(time.perf_counter() - t, 1),
        )
        tried[k] = c
        log(
            f"  {len(tried):2d}. nDCG@10 {c.ndcg:.4f}  P@10 {c.precision:.4f}  {c.seconds:5.1f} s  "
            + ", ".join(f"{a}={b}" for a, b in k)
        )
        return c

    best_p, best = start, score(start)
    best_emb = last["emb"]
    improved = True
    while improved and len(tried) < max_fits:
        improved = False
        for name, values in tuning.grid.items():
            cur = getattr(best_p, name)
            relative = name in tuning.relative
            options = [type(cur)(cur * v) for v in values] if relative else [v for v in values if v != cur]
            for v in options:
                if len(tried) >= max_fits:
                    break
                p = replace(best_p, **{name: v})
                c = score(p)
                if c.ndcg > best.ndcg + 1e-4:
                    best_p, best, best_emb, improved = p, c, last["emb"], True
    visitor, choice = _visitor_search(catalog, split, model, best_p, best_emb, seed, log)
    return TuneResult(
        best=best,
        tried=tuple(tried.values()),
        users=int(len(split.users)),
        validation_likes=int(split.validation.nnz),
        visitor=visitor,
        visitor_choice=choice,
    )


def _visitor_search(
    catalog: Any, split: Any, model: ModelSpec[Any], params: Any, emb: Any, seed: int, log: Callable[[str], None]
) -> tuple[dict[str, float], VisitorCandidate | None]:
    """The visitor fold-in: each candidate of ``model.tuning.visitor(params)`` scored by P@10 of
    validation users who give that many of their *fit* likes through the published JSON (the
    test likes are never read). Returns ``({"α=…, λ=…": P@10}, the best)``; ties go to the
    smaller α, then the smaller λ (``({}, None)`` when the model declares none)."""
    from .evaluation.visitor import evaluate_visitor

    declared = model.tuning.visitor if model.tuning is not None else None
    if declared is None:
        return {}, None
    likes, candidates = declared(params)
    if not candidates:
        return {}, None
    as_test = replace(split, train=split.fit, test=split.validation)
    out: dict[str, float] = {}
    grid: dict[str, VisitorCandidate] = {}
    for c in candidates:
        v = evaluate_visitor(
            catalog,
            as_test,
            emb,
            reg=c.reg,
            mode=emb.foldin.mode,
            alpha=c.alpha,
            like_counts=[likes],
            seed=seed,
        )
        name = f"α={c.alpha:g}, λ={c.reg:g}"
        out[name] = v.likes[f"{likes} likes"].precision.mean
        grid[name] = c
        log(f"  visitor fold-in {name}: P@10 {out[name]:.4f} with {likes} likes (validation)")
    best = max(out, key=lambda k: (out[k], -grid[k].alpha, -grid[k].reg))
    return out, grid[best]


def write_config(path: Path, model: str, chosen: dict, note: str) -> None:
    """Set ``[models.<model>]`` keys of the TOML file ``path`` to ``chosen``, keeping its
    comments, with ``note`` as a comment above the section's first changed key."""
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = tomlkit.parse(text)
    models = doc.get("models")
    if models is None:
        models = tomlkit.table(is_super_table=True)
        doc["models"] = models
    sec = models.get(model)
    if sec is None:
        sec = tomlkit.table()
        models[model] = sec
    for k, v in chosen.items():
        sec[k] = v
    first = next(iter(chosen))
    sec[first].comment(note)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    from .arguments import Parser, int_in

    p = Parser(
        prog="mangarec tune",
        description="Choose a model's settings on the validation split (never the test "
        "split) and write them into the configuration's [models.<name>].",
    )
    names = tunable()
    p.add_argument(
        "--model",
        choices=names,
        default=names[0] if names else None,
        help="The model to tune: one whose spec declares a grid (default %(default)s).",
    )
    p.add_argument(
        "--data",
        action="append",
        metavar="[FORMAT:]PATH",
        required=True,
        help="A catalog with ratings (as for build; repeatable).",
    )
    p.add_argument("--config", type=Path, required=True, help="The TOML configuration to read and update.")
    p.add_argument("--max-fits", type=int_in(1, 200), default=MAX_FITS, help="Bound on the fits (default %(default)s).")
    p.add_argument(
        "--users",
        type=int_in(10, 100_000),
        default=1000,
        help="Users scored on validation (fixed-seed sample; default %(default)s).",
    )
    p.add_argument("--include-adult", action="store_true", help="Keep adult titles (as for build).")
    p.add_argument("--dry-run", action="store_true", help="Print the search, change nothing.")
    p.add_argument("--report", type=Path, default=None, help="Also write the search as JSON here.")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mangarec tune``; returns the exit status (input errors raise :class:`InputError`)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from .config import load_config
    from .loaders import load_catalog
    from .seeds import derive_seed

    config = load_config(args.config if args.config.exists() else None)
    catalog = load_catalog(
        args.data,
        include_adult=args.include_adult,
        adult_tags=config.catalog.adult_tags,
        min_tags=config.catalog.min_tags,
    )
    from .models import spec

    model = spec(args.model)
    start = config.models.of(model)
    print(
        f"tune: {len(catalog)} titles, {catalog.ratings.nnz if catalog.ratings else 0} ratings; "
        f"validation nDCG@10 of {model.name} (at most {args.max_fits} fits)"
    )
    # The evaluation's split seed, so tuning and the build's figures share one protocol.
    res = search(
        catalog,
        model,
        start,
        config.evaluation,
        derive_seed(config.seed, "evaluate"),
        max_fits=args.max_fits,
        users=args.users,
    )
    chosen = {k: v for k, v in res.best.params.items() if getattr(start, k) != v}
    if res.visitor_choice is not None:
        chosen |= {k: v for k, v in res.visitor_choice.keys.items() if getattr(start, k) != v}
    print(
        f"best: nDCG@10 {res.best.ndcg:.4f}, P@10 {res.best.precision:.4f} on {res.validation_likes} validation "
        f"likes of {res.users} users; " + (", ".join(f"{k} = {v!r}" for k, v in chosen.items()) or "no change")
    )
    if args.report:
        args.report.write_text(
            json.dumps(
                {
                    "best": asdict(res.best),
                    "tried": [asdict(c) for c in res.tried],
                    "users": res.users,
                    "validation_likes": res.validation_likes,
                    "visitor": res.visitor,
                    "visitor_choice": asdict(res.visitor_choice) if res.visitor_choice else None,
                },
                indent=1,
                default=float,
            ),
            encoding="utf-8",
        )
    if chosen and not args.dry_run:
        write_config(
            args.config,
            model.name,
            chosen,
            f"mangarec tune: validation nDCG@10 {res.best.ndcg:.4f} (P@10 {res.best.precision:.4f}, {res.users} users)",
        )
        print(f"wrote {', '.join(chosen)} to {args.config}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from .errors import InputError as _E

    try:
        raise SystemExit(main())
    except _E as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
