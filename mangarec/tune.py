"""``mangarec tune``: choose ALS's settings on the validation split and write them to the config.

    mangarec tune --data DIR_OR_FILE [--data ...] --config site_src/site.toml [--max-fits 16]
                  [--users 1000] [--dry-run] [--report tune.json]

The protocol is the evaluation's (:mod:`mangarec.evaluation.protocol`): candidates are fitted
on the *fit* ratings (train without the validation likes) and scored by nDCG@10 on the
*validation* likes of the evaluated users; the test likes are never read. The search is a
coordinate descent from the configured values: each round tries, one setting at a time, the
values of :data:`SEARCH` around the current best and keeps a change when it raises validation
nDCG. It stops after a round without a gain or at ``--max-fits`` fits (each fit on anime-recdb
takes seconds to tens of seconds, so the default bound runs in minutes).

The chosen values are written into ``[models.als]`` of the TOML file, keeping its comments
(``tomlkit``), with a comment line giving their validation score. Prints every candidate's score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import InputError

#: What the search varies, and the candidate values (``None``: relative to the current value).
SEARCH: dict[str, tuple[Any, ...]] = {
    "feedback": ("likes", "likes-dislikes", "graded", "raw"),
    "factors": (64, 128, 192, 256),
    "regularization": (0.5, 2.0),  # times the current value
    "alpha": (0.5, 2.0),  # times the current value
    "reg_exponent": (0.0, 0.5, 1.0),
}
RELATIVE = ("regularization", "alpha")
#: Visitor fold-in λ candidates, times the chosen training λ (scored by visitors with 12 likes).
VISITOR_FACTORS = (1.0, 4.0, 16.0, 64.0)
#: Visitor fold-in α candidates, times the chosen training α (the grid is α × λ).
VISITOR_ALPHAS = (1.0, 10.0, 100.0)
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
    """The search: every candidate in the order tried, and the best one."""

    best: Candidate
    tried: tuple[Candidate, ...]
    users: int
    validation_likes: int
    visitor: dict = field(default_factory=dict)
    visitor_regularization: float = 0.0
    visitor_alpha: float = 0.0


def _key(params: Any) -> tuple:
    return tuple(sorted((k, v) for k, v in asdict(params).items() if k in SEARCH))


def search(
    catalog: Any,
    start: Any,
    evaluation: Any,
    seed: int,
    *,
    max_fits: int = MAX_FITS,
    users: int = 1000,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Coordinate descent over :data:`SEARCH` from the ALS params ``start`` (see the module
    docstring); ``evaluation`` is the ``[evaluation]`` section (the split's definition)."""
    from .evaluation.protocol import canonical, make_split
    from .evaluation.ranking import evaluate_scorer
    from .evaluation.runner import foldin_scorer, training_values
    from .models import als

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
        k = _key(p)
        if k in tried:
            return tried[k]
        t = time.perf_counter()
        emb = als.fit(fit_cat, p, seed)
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
        for name, values in SEARCH.items():
            cur = getattr(best_p, name)
            options = [type(cur)(cur * v) for v in values] if name in RELATIVE else [v for v in values if v != cur]
            for v in options:
                if len(tried) >= max_fits:
                    break
                p = replace(best_p, **{name: v})
                c = score(p)
                if c.ndcg > best.ndcg + 1e-4:
                    best_p, best, best_emb, improved = p, c, last["emb"], True
    visitor, v_alpha, v_reg = _visitor_search(catalog, split, best_p, best_emb, seed, log)
    return TuneResult(
        best=best,
        tried=tuple(tried.values()),
        users=int(len(split.users)),
        validation_likes=int(split.validation.nnz),
        visitor=visitor,
        visitor_regularization=v_reg,
        visitor_alpha=v_alpha,
    )


def _visitor_search(
    catalog: Any, split: Any, params: Any, emb: Any, seed: int, log: Callable[[str], None]
) -> tuple[dict, float, float]:
    """The visitor fold-in α and λ: the grid :data:`VISITOR_ALPHAS` × the training α by
    :data:`VISITOR_FACTORS` × the training λ, scored by P@10 of validation users who give
    ``visitor_few_likes`` (12) of their *fit* likes through the published JSON (the test likes
    are never read): the values a visitor with that many likes or fewer gets. Returns
    ``({"α=…, λ=…": P@10}, best α, best λ)``; ties go to the smaller α, then the smaller λ."""
    from .evaluation.visitor import evaluate_visitor

    if params.feedback == "explicit":
        return {}, 0.0, 0.0
    as_test = replace(split, train=split.fit, test=split.validation)
    likes = int(params.visitor_few_likes)
    out: dict[str, float] = {}
    grid: dict[str, tuple[float, float]] = {}
    for fa in VISITOR_ALPHAS:
        alpha = float(params.alpha) * fa
        for f in VISITOR_FACTORS:
            lam = float(params.regularization) * f
            v = evaluate_visitor(
                catalog,
                as_test,
                emb,
                reg=lam,
                mode="implicit",
                alpha=alpha,
                like_counts=[likes],
                seed=seed,
            )
            name = f"α={alpha:g}, λ={lam:g}"
            out[name] = v.likes[f"{likes} likes"].precision.mean
            grid[name] = (alpha, lam)
            log(f"  visitor fold-in {name}: P@10 {out[name]:.4f} with {likes} likes (validation)")
    best = max(out, key=lambda k: (out[k], -grid[k][0], -grid[k][1]))
    return out, grid[best][0], grid[best][1]


def write_config(path: Path, chosen: dict, note: str) -> None:
    """Set ``[models.als]`` keys of the TOML file ``path`` to ``chosen``, keeping its comments,
    with ``note`` as a comment above the section's first changed key."""
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = tomlkit.parse(text)
    models = doc.get("models")
    if models is None:
        models = tomlkit.table(is_super_table=True)
        doc["models"] = models
    sec = models.get("als")
    if sec is None:
        sec = tomlkit.table()
        models["als"] = sec
    for k, v in chosen.items():
        sec[k] = v
    first = next(iter(chosen))
    sec[first].comment(note)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    from .arguments import Parser, int_in

    p = Parser(
        prog="mangarec tune",
        description="Choose ALS's settings on the validation split (never the test "
        "split) and write them into the configuration's [models.als].",
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
    start = config.models.als
    print(
        f"tune: {len(catalog)} titles, {catalog.ratings.nnz if catalog.ratings else 0} ratings; "
        f"validation nDCG@10 of ALS (at most {args.max_fits} fits)"
    )
    # The evaluation's split seed, so tuning and the build's figures share one protocol.
    res = search(
        catalog,
        start,
        config.evaluation,
        derive_seed(config.seed, "evaluate"),
        max_fits=args.max_fits,
        users=args.users,
    )
    chosen = {k: v for k, v in res.best.params.items() if getattr(start, k) != v}
    v_reg = 0.0 if res.visitor_regularization == res.best.params.get("regularization") else res.visitor_regularization
    if res.visitor and v_reg != start.visitor_regularization:
        chosen["visitor_regularization"] = v_reg
    v_alpha = 0.0 if res.visitor_alpha == res.best.params.get("alpha") else res.visitor_alpha
    if res.visitor and v_alpha != start.visitor_alpha:
        chosen["visitor_alpha"] = v_alpha
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
                    "visitor_regularization": res.visitor_regularization,
                    "visitor_alpha": res.visitor_alpha,
                },
                indent=1,
                default=float,
            ),
            encoding="utf-8",
        )
    if chosen and not args.dry_run:
        write_config(
            args.config,
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
