#!/usr/bin/env python3
"""Build the mangarec static site.

    python build.py                                   # the bundled default catalog → output/
    python build.py --data ../shared/data/mangadex-v3/manga.jsonl.xz
    python build.py --data ../shared/data/anime-recdb/  # MyAnimeList anime + ratings
    python build.py serve                             # view output/ on http://127.0.0.1:8000/

Bad input ends with one line ``error: <file>:<line>: <what>`` and exit status 2; the previous
``output/`` is left untouched.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(os.environ.get("MANGAREC_CACHE_DIR", ROOT / ".cache"))


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build.py",
        description="Compute item embeddings and neighbour lists for an anime/manga catalog and "
        "render the static site. Subcommand: 'build.py serve' serves the output locally.",
        epilog="Formats for --data: mangadex-v3 (legacy JSONL, .xz/.gz), mangadex-v5 (API list "
        "responses: a JSONL file or a directory of pages), mal (anime.csv[.gz], or a folder holding "
        "anime.csv.gz and ratings.csv.gz), ratings (user,item,rating CSV: attaches ratings to the "
        "items of the other --data), generic (JSONL/CSV, see docs/catalog-formats.md). "
        "'python build.py --help-config' lists every configuration key.",
    )
    p.add_argument("--data", action="append", metavar="[FORMAT:]PATH", default=None,
                   help="input catalog or ratings file (repeatable; format detected unless given "
                   "as FORMAT:PATH). Default: the bundled catalog site_src/catalog/default.jsonl")
    p.add_argument("--fetch", choices=["mangadex"], default=None,
                   help="download the catalog from the live MangaDex API first (politely: rate "
                   "limited, retried, resumable from --cache-dir) and build from it")
    p.add_argument("--fetch-url", default="https://api.mangadex.org", metavar="URL",
                   help="API base URL for --fetch (default: %(default)s)")
    p.add_argument("--fetch-limit", type=int, default=None, metavar="N",
                   help="with --fetch: stop after N titles")
    p.add_argument("--out", type=Path, default=ROOT / "output", metavar="DIR",
                   help="output directory, replaced atomically (default: output/)")
    p.add_argument("--config", type=Path, default=ROOT / "site_src" / "site.toml", metavar="FILE",
                   help="configuration file (default: site_src/site.toml)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed for every stage (default: the config's seed, 42)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="keep only the first N items (after filtering), for quick runs")
    p.add_argument("--include-adult", action="store_true",
                   help="keep adult titles (R18 flag or an adult tag; off by default)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                   help="where model artefacts are cached (default: .cache/; env MANGAREC_CACHE_DIR)")
    p.add_argument("--no-cache", action="store_true", help="compute everything, store nothing")
    p.add_argument("--force", action="store_true",
                   help="rebuild the output even if it is up to date")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.add_argument("--help-config", action="store_true",
                   help="print every configuration key with its default and meaning, then exit")
    return p


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py serve",
                                description="Serve the built site on 127.0.0.1 for local viewing.")
    p.add_argument("--out", type=Path, default=ROOT / "output", metavar="DIR",
                   help="directory to serve (default: output/)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument("--watch", action="store_true",
                   help="rebuild (with the default options) when site_src/ or templates/ change")
    return p


def _serve(argv: list[str]) -> int:
    from mangarec.errors import InputError
    from mangarec.site.serve import serve

    args = _serve_parser().parse_args(argv)
    if not (args.out / "index.html").is_file():
        raise InputError("no site here: run 'python build.py' first", str(args.out))
    rebuild = None
    if args.watch:
        rebuild = lambda: main(["--out", str(args.out), "-q"])  # noqa: E731
    serve(args.out, host=args.host, port=args.port, rebuild=rebuild)
    return 0


def _build(argv: list[str]) -> int:
    args = _build_parser().parse_args(argv)
    from mangarec.config import describe, load_config, with_seed

    if args.help_config:
        print("\n".join(describe()))
        return 0
    if args.limit is not None and args.limit < 2:
        raise _input_error(f"--limit {args.limit}: must be at least 2")
    cache_dir = None if args.no_cache else args.cache_dir
    if cache_dir is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(cache_dir) / "numba"))

    from mangarec.pipeline import run_build
    from mangarec.progress import StageLog

    config_path = args.config if args.config.exists() or args.config != ROOT / "site_src" / "site.toml" else None
    config = with_seed(load_config(config_path), args.seed)
    log = StageLog(quiet=args.quiet)
    specs = list(args.data or [])
    if args.fetch == "mangadex":
        from mangarec.loaders.fetch import fetch_mangadex

        with log.stage("fetch"):
            pages = fetch_mangadex(args.fetch_url, Path(args.cache_dir) / "fetch" / "mangadex",
                                   limit=args.fetch_limit)
        specs.append(f"mangadex-v5:{pages}")
    if not specs:
        specs = [f"generic:{ROOT / 'site_src' / 'catalog' / 'default.jsonl'}"]
    result = run_build(specs, args.out, config, include_adult=args.include_adult, limit=args.limit,
                       cache_dir=cache_dir, config_path=config_path, log=log, force=args.force)
    if not args.quiet and result is not None:
        n = len(result.catalog)
        print(f"built {args.out}: {n} titles, models {', '.join(result.models)}", file=sys.stderr)
    return 0


def _input_error(message: str):
    from mangarec.errors import InputError

    return InputError(message)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, str(ROOT))
    from mangarec.errors import InputError

    try:
        if argv[:1] == ["serve"]:
            return _serve(argv[1:])
        return _build(argv)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
