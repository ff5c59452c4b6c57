"""The command line: ``mangarec <command>`` (also ``python -m mangarec`` and ``build.py``).

Commands: ``build`` (the default), ``serve``, ``fetch``, ``config``, ``privacy``, ``ci``, ``tune``.
Every problem with the user's input ends in one line ``error: <where>: <what>`` and exit
status 2, never a traceback; ``SOURCE_DATE_EPOCH`` is checked before any heavy import.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from .arguments import Parser, int_in
from .dates import source_date_epoch
from .errors import InputError

#: Bounds of numeric options.
MAX_LIMIT = 10_000_000


def _formats_epilog() -> str:
    from .loaders import formats_help

    return f"Formats for --data: {formats_help()}. 'mangarec build --help-config' lists every configuration key."


def build_parser(prog: str = "mangarec build") -> argparse.ArgumentParser:
    from .paths import DEFAULT_CONFIG

    p = Parser(
        prog=prog,
        description="Compute item embeddings and neighbour lists for an anime/manga catalog and render the "
        "static site into --out.",
        epilog=_formats_epilog(),
    )
    p.add_argument(
        "--data",
        action="append",
        metavar="[FORMAT:]PATH",
        default=None,
        help="input catalog or ratings file (repeatable; format detected unless given as FORMAT:PATH). "
        "Default: the bundled catalog",
    )
    p.add_argument(
        "--fetch",
        choices=["mangadex"],
        default=None,
        help="download the catalog from the live MangaDex API first (rate limited, retried, resumable "
        "from --cache-dir) and build from it",
    )
    p.add_argument(
        "--fetch-url",
        default="https://api.mangadex.org",
        metavar="URL",
        help="API base URL for --fetch (default: %(default)s)",
    )
    p.add_argument(
        "--fetch-limit",
        type=int_in(1, MAX_LIMIT),
        default=None,
        metavar="N",
        help="with --fetch: a first or full listing keeps N titles (for trials)",
    )
    _fetch_options(p, "--fetch-full")
    p.add_argument(
        "--no-refresh",
        action="store_true",
        help="with --fetch: build from the catalog store as the last fetch left it (no request)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("output"),
        metavar="DIR",
        help="output directory: new, empty or a previous build (replaced atomically; default: output/)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"configuration file (default: {DEFAULT_CONFIG.name}, the bundled defaults)",
    )
    p.add_argument(
        "--seed",
        type=int_in(0, 2**63 - 1),
        default=None,
        metavar="N",
        help="random seed for every stage (default: the config's seed, 42)",
    )
    p.add_argument(
        "--limit",
        type=int_in(2, MAX_LIMIT),
        default=None,
        metavar="N",
        help="keep only the first N items (after filtering), for quick runs",
    )
    p.add_argument(
        "--include-adult", action="store_true", help="keep adult titles (R18 flag or an adult tag; off by default)"
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where stage artefacts are cached (default: .cache/; env MANGAREC_CACHE_DIR)",
    )
    p.add_argument("--no-cache", action="store_true", help="compute everything, store nothing")
    p.add_argument(
        "--warm-night",
        action="store_true",
        help="a warm night ([night] warm = true: last night's global fits updated, not refitted; "
        "env MANGAREC_WARM_NIGHT=true; docs/deploy.md)",
    )
    p.add_argument("--force", action="store_true", help="rebuild the output even if it is up to date")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.add_argument(
        "--help-config",
        action="store_true",
        help="print every configuration key with its default and meaning, then exit",
    )
    return p


def _fetch_options(p: argparse.ArgumentParser, full_flag: str) -> None:
    p.add_argument(
        full_flag,
        dest="full",
        action="store_true",
        help="list every id again and drop titles the API no longer returns (also every fetch.full_every_days)",
    )
    p.add_argument(
        "--contact",
        default=None,
        metavar="TEXT",
        help="a URL or e-mail for the API's operators, sent in the User-Agent (default: the config's fetch.contact)",
    )


def _refresh(url: str, cache_dir: Path, config, args, limit: int | None) -> Path:
    """Refresh the catalog store (or, with --no-refresh, find it); the folder to build from."""
    from .loaders import store
    from .loaders.fetch import user_agent

    root = cache_dir / "fetch" / "mangadex"
    if getattr(args, "no_refresh", False):
        return store.current_folder(store.store_dir(root, url))
    f = config.fetch
    quiet = getattr(args, "quiet", False)
    last = [-1e9]

    def progress(line: str) -> None:  # a line every 10 s at most: a first night takes minutes
        import time

        if not quiet and time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            print(f"fetch: {line}", file=sys.stderr, flush=True)

    r = store.refresh(
        url,
        root,
        full=args.full,
        full_every_days=f.full_every_days,
        overlap=f.overlap_minutes * 60,
        feed_pages=f.feed_pages,
        limit=limit,
        rate_per_second=f.rate_per_second,
        deadline=f.deadline,
        max_retry_after=f.max_wait,
        user_agent=user_agent(args.contact if args.contact is not None else f.contact),
        progress=progress,
    )
    if not quiet:
        print(store.describe(r), file=sys.stderr)
    return r.folder


def _cache_dir(arg: Path | None) -> Path:
    return arg if arg is not None else Path(os.environ.get("MANGAREC_CACHE_DIR", ".cache"))


def _protected(specs: Sequence[str], extra: Sequence[Path]) -> list[tuple[str, Path]]:
    from .paths import ROOT, is_checkout
    from .pipeline import _spec_path

    out = [("the current directory", Path.cwd()), ("your home directory", Path.home())]
    if is_checkout():
        out.append(("the project", ROOT))
    out += [("a data input", _spec_path(s)) for s in specs]
    out += [("the configuration or cache", p) for p in extra]
    return out


def cmd_build(argv: Sequence[str], prog: str = "mangarec build") -> int:
    args = build_parser(prog).parse_args(list(argv))
    from .config import describe, load_config, with_seed

    if args.help_config:
        print("\n".join(describe()))
        return 0
    cache_dir = _cache_dir(args.cache_dir)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir / "numba"))
    from .paths import DEFAULT_CATALOG
    from .pipeline import run_build
    from .progress import StageLog

    config = with_seed(load_config(args.config), args.seed)
    warm = os.environ.get("MANGAREC_WARM_NIGHT", "false").strip().lower()
    if warm not in ("true", "false"):
        raise InputError(f"MANGAREC_WARM_NIGHT = {warm!r}: must be true or false")
    if args.warm_night or warm == "true":
        config = replace(config, night=replace(config.night, warm=True))
    log = StageLog(quiet=args.quiet)
    specs = list(args.data or [])
    if args.fetch == "mangadex":
        with log.stage("fetch"):
            pages = _refresh(args.fetch_url, cache_dir, config, args, args.fetch_limit)
        specs.append(f"mangadex-v5:{pages}")
    if not specs:
        specs = [f"generic:{DEFAULT_CATALOG}"]
    extra = [p for p in (args.config, cache_dir) if p is not None]
    result = run_build(
        specs,
        args.out,
        config,
        include_adult=args.include_adult,
        limit=args.limit,
        cache_dir=None if args.no_cache else cache_dir,
        log=log,
        force=args.force,
        protected=_protected(specs, extra),
    )
    if not args.quiet and result is not None:
        print(f"built {args.out}: {len(result.catalog)} titles, models {', '.join(result.models)}", file=sys.stderr)
    return 0


def cmd_serve(argv: Sequence[str], prog: str = "mangarec serve") -> int:
    p = Parser(prog=prog, description="Serve the built site on 127.0.0.1 for local viewing.")
    p.add_argument(
        "--out", type=Path, default=Path("output"), metavar="DIR", help="directory to serve (default: output/)"
    )
    p.add_argument("--port", type=int_in(0, 65535), default=8000, help="port (default: %(default)s; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument(
        "--public",
        action="store_true",
        help="allow a --host that other machines can reach (off: only loopback addresses)",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="rebuild (default build options, into --out) when site_src/ or templates/ change",
    )
    args = p.parse_args(list(argv))
    from .site.serve import serve

    if not (args.out / "index.html").is_file():
        raise InputError("no site here: run 'mangarec build' first", str(args.out))
    rebuild = None
    if args.watch:

        def rebuild() -> int:
            try:
                return cmd_build(["--out", str(args.out), "-q"])
            except InputError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2

    serve(args.out, host=args.host, port=args.port, rebuild=rebuild, allow_public=args.public)
    return 0


def cmd_fetch(argv: Sequence[str], prog: str = "mangarec fetch") -> int:
    p = Parser(
        prog=prog,
        description="Refresh the catalog store from a live API (the first run lists everything, later ones "
        "only what changed; resumable); prints the folder to pass to 'mangarec build --data "
        "mangadex-v5:FOLDER' (or build with 'mangarec build --fetch mangadex --no-refresh').",
    )
    p.add_argument("source", choices=["mangadex"], help="which API")
    p.add_argument(
        "--url", default="https://api.mangadex.org", metavar="URL", help="API base URL (default: %(default)s)"
    )
    p.add_argument(
        "--limit", type=int_in(1, MAX_LIMIT), default=None, metavar="N", help="a first or full listing keeps N titles"
    )
    _fetch_options(p, "--full")
    p.add_argument("--config", type=Path, default=None, metavar="FILE", help="configuration file (its [fetch] keys)")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="cache folder (default: .cache/)")
    args = p.parse_args(list(argv))
    from .config import load_config

    print(_refresh(args.url, _cache_dir(args.cache_dir), load_config(args.config), args, args.limit))
    return 0


def cmd_config(argv: Sequence[str], prog: str = "mangarec config") -> int:
    p = Parser(prog=prog, description="Print the configuration schema, or the default configuration as TOML.")
    p.add_argument("--defaults", action="store_true", help="print the default site.toml (commented TOML)")
    p.add_argument("--check", type=Path, metavar="FILE", help="validate FILE and exit (one line per problem)")
    args = p.parse_args(list(argv))
    from .config import check_config, default_toml, describe

    if args.check is not None:
        problems = check_config(args.check)
        for e in problems:
            print(f"error: {e}", file=sys.stderr)
        if problems:
            return 2
        print(f"{args.check}: ok")
    elif args.defaults:
        sys.stdout.write(default_toml())
    else:
        print("\n".join(describe()))
    return 0


def cmd_privacy(argv: Sequence[str], prog: str = "mangarec privacy") -> int:
    from .privacy.__main__ import main as privacy_main

    return int(privacy_main(list(argv)) or 0)


def cmd_tune(argv: Sequence[str], prog: str = "mangarec tune") -> int:
    from .tune import main as tune_main

    return int(tune_main(list(argv)) or 0)


def cmd_ci(argv: Sequence[str], prog: str = "mangarec ci") -> int:
    from .ci import main as ci_main

    return ci_main(list(argv), prog=prog)


#: ``{command: (function, one-line help)}``; ``build`` is also the default command.
COMMANDS: dict[str, tuple[Callable[..., int], str]] = {
    "build": (cmd_build, "build the site (the default command)"),
    "serve": (cmd_serve, "serve a built site on 127.0.0.1"),
    "fetch": (cmd_fetch, "download a catalog from a live API into the cache"),
    "config": (cmd_config, "print or check the configuration"),
    "privacy": (cmd_privacy, "private rating collection (simulate, serve, join)"),
    "ci": (cmd_ci, "write the GitHub Actions workflow: nightly fetch, build and deploy"),
    "tune": (cmd_tune, "choose a model's settings on the validation split and write them into the config"),
}


def _usage(prog: str) -> str:
    lines = [f"usage: {prog} [COMMAND] [OPTIONS]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", f"'{prog} COMMAND --help' documents a command; without a command, '{prog}' builds."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "mangarec") -> int:
    """Run a command; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        source_date_epoch()  # before numpy & co: f2py reads it at import
        if argv[:1] in (["-h"], ["--help"]):
            print(_usage(prog))
            return 0
        if argv[:1] == ["--version"]:
            from . import __version__

            print(f"{prog} {__version__}")
            return 0
        name = argv[0] if argv and argv[0] in COMMANDS else "build"
        rest = argv[1:] if argv and argv[0] in COMMANDS else argv
        fn = COMMANDS[name][0]
        with warnings.catch_warnings():
            if "-q" in rest or "--quiet" in rest:
                warnings.simplefilter("ignore")
            return fn(rest, prog=f"{prog} {name}")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
