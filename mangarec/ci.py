"""``mangarec ci init``: write the GitHub Actions workflow that rebuilds and deploys the site nightly.

The workflow (``.github/workflows/site.yml`` of the maintainer's repository, never overwritten):

- runs every night (``schedule``) and on demand (``workflow_dispatch``, with a ``full`` input
  for a full listing that drops titles gone from MangaDex);
- restores four caches with rolling keys (a new entry each run, the newest restored by
  prefix; saved at the end of a successful job only): the catalog store (``.cache/fetch``),
  the stage cache (:data:`STAGES`: ``.cache/??`` and ``.cache/pointers``), numba's cache
  (``.cache/numba``) and the previous site (:data:`SITE`), which the build reads to carry
  unchanged title pages over (:mod:`mangarec.site.carry`) before it swaps the new site in;
- fetches (``mangarec fetch mangadex``: only the delta on most nights), builds from the store
  without another request (``build --fetch mangadex --no-refresh``), uploads ``_site`` with
  ``actions/upload-pages-artifact`` and deploys it with ``actions/deploy-pages``;
- has least permissions (none at the top, ``contents: read`` to build, ``pages: write`` and
  ``id-token: write`` to deploy), actions pinned by full commit SHA (:data:`ACTIONS`), one
  concurrency group and a timeout per job.

A failed fetch or build deploys nothing: the last good site stays online and the caches of the
last good night are restored the next night. ``docs/deploy.md`` walks through the set-up.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from . import __version__
from .errors import InputError
from .fsutil import atomic_write

#: ``{action: (commit SHA, the release tag it is)}``: read from each action's repository tags.
ACTIONS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/upload-pages-artifact": ("fc324d3547104276b827a68afc52ff2a11cc49c9", "v5.0.0"),
    "actions/deploy-pages": ("cd2ce8fcbc39b97be8ca5fce6e763baed58fa128", "v5.0.0"),
}
WORKFLOW = Path(".github/workflows/site.yml")
#: The build's ``--out`` in the workflow: uploaded to Pages, and cached for the next night.
SITE = "_site"
#: What the stage cache keeps under ``--cache-dir``: its entries (two-hex-digit folders) and its
#: pointers to last night's results (lists to update, a map to warm-start, the pages' digests).
STAGES = ".cache/??\n.cache/pointers"
DEFAULT_CRON = "17 3 * * *"
API = "https://api.mangadex.org"


def _uses(action: str) -> str:
    sha, tag = ACTIONS[action]
    return f"{action}@{sha} # {tag}"


def _cache(name: str, path: str, prefix: str) -> str:
    """An ``actions/cache`` step; ``path`` holds one path or glob per line."""
    paths = path.split("\n")
    path = paths[0] if len(paths) == 1 else "|\n" + "".join(f"            {p}\n" for p in paths).rstrip("\n")
    return f"""      - name: Restore the {name}
        uses: {_uses("actions/cache")}
        with:
          path: {path}
          key: {prefix}${{{{ github.run_id }}}}
          restore-keys: {prefix}
"""


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def installed_spec(dist: str = "mangarec") -> str:
    """What ``pip install`` needs to get the mangarec that runs now, pinned (PEP 610).

    Installed from a git URL: ``mangarec @ git+URL@COMMIT``; from a remote archive: its URL;
    from a package index: ``mangarec==VERSION``. A local directory or file (an editable
    checkout, a wheel built here) cannot be installed by a CI runner: one line asking for
    ``--package``.
    """
    try:
        d = metadata.distribution(dist)
        raw = d.read_text("direct_url.json")
        version = d.version
    except metadata.PackageNotFoundError:
        raw, version = None, __version__
    if raw is None:
        return f"{dist}=={version}"
    try:
        info = json.loads(raw)
        url = str(info["url"])
    except (ValueError, KeyError, TypeError):
        info, url = {}, ""
    vcs = info.get("vcs_info") if isinstance(info, dict) else None
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and vcs.get("commit_id") and not url.startswith("file:"):
        return f"{dist} @ git+{url}@{vcs['commit_id']}"
    if url.startswith("https://") and "archive_info" in info:
        return f"{dist} @ {url}"
    raise InputError(
        f"this mangarec was installed from {url or 'a local path'}, which a CI runner cannot reach: "
        "pass --package 'mangarec @ git+https://…/mangarec@<commit>' (or install mangarec from its git URL first)",
        "--package",
    )


def workflow(
    *, cron: str = DEFAULT_CRON, package: str | None = None, config: str | None = None, warm_night: bool = False
) -> str:
    """The text of ``site.yml``. ``package`` is what ``pip install`` gets (default:
    :func:`installed_spec`, the mangarec that runs now, pinned); ``config`` a configuration file
    of the repository for fetch and build; ``warm_night``: the value of its switch
    ``MANGAREC_WARM_NIGHT``, which ``mangarec build`` reads as ``--warm-night`` (docs/deploy.md,
    "What a night recomputes")."""
    package = package or installed_spec()
    conf = f' --config "{config}"' if config else ""
    return f"""# Written by `mangarec ci init` (mangarec {__version__}): rebuilds the site every night from
# the live MangaDex API and deploys it to GitHub Pages. Set-up and upkeep: mangarec's docs/deploy.md.
name: site

on:
  schedule:
    - cron: {_yaml_str(cron)}
  workflow_dispatch:
    inputs:
      full:
        description: "List every title again and drop those MangaDex no longer has (also weekly on its own)"
        type: boolean
        default: false

permissions: {{}}

concurrency:
  group: site-${{{{ github.ref }}}}
  cancel-in-progress: false

jobs:
  build:
    name: Fetch and build
    runs-on: ubuntu-latest
    timeout-minutes: 90
    permissions:
      contents: read # to check out the repository (its site.toml)
    env:
      MANGAREC_PACKAGE: {_yaml_str(package)}
      MANGAREC_API: {API}
      MANGAREC_CONTACT: ${{{{ github.server_url }}}}/${{{{ github.repository }}}}
      MANGAREC_FULL: ${{{{ inputs.full || false }}}}
      MANGAREC_WARM_NIGHT: {"true" if warm_night else "false"} # true: mangarec build --warm-night (docs/deploy.md)
      NUMBA_CACHE_DIR: .cache/numba
    steps:
      - uses: {_uses("actions/checkout")}
        with:
          persist-credentials: false
      - uses: {_uses("actions/setup-python")}
        with:
          python-version: "3.11"
      - name: Install mangarec
        run: python -m pip install "$MANGAREC_PACKAGE"
{_cache("catalog store", ".cache/fetch", "mangarec-store-")}{_cache("stage cache", STAGES, "mangarec-stages-")}\
{_cache("numba cache", ".cache/numba", "mangarec-numba-${{ runner.os }}-")}\
{_cache("previous site", SITE, "mangarec-site-")}\
      - name: Fetch what changed on MangaDex
        id: fetch
        run: |
          args=()
          if [ "$MANGAREC_FULL" = true ]; then args+=(--full); fi
          mangarec fetch mangadex --url "$MANGAREC_API" --contact "$MANGAREC_CONTACT" \\
            --cache-dir .cache{conf} "${{args[@]}}"
      - name: Build the site
        id: build
        run: |
          mangarec build --fetch mangadex --fetch-url "$MANGAREC_API" --no-refresh \\
            --cache-dir .cache --out {SITE}{conf}
      - uses: {_uses("actions/upload-pages-artifact")}
        with:
          path: {SITE}

  deploy:
    name: Deploy to GitHub Pages
    needs: build
    runs-on: ubuntu-latest
    timeout-minutes: 15
    permissions:
      pages: write # to deploy the uploaded site
      id-token: write # to prove to Pages that this workflow is the deployer (OIDC)
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: {_uses("actions/deploy-pages")}
"""


def _cron(text: str) -> str:
    fields = text.split()
    if len(fields) != 5 or not all(set(f) <= set("0123456789*/,-") for f in fields):
        raise argparse.ArgumentTypeError(f"{text!r} is not a cron schedule of 5 fields (e.g. '17 3 * * *')")
    return " ".join(fields)


def init(
    directory: Path,
    *,
    cron: str = DEFAULT_CRON,
    package: str | None = None,
    config: str | None = None,
    warm_night: bool = False,
) -> Path:
    """Write :data:`WORKFLOW` under ``directory``; refuse (one line) when it exists."""
    path = Path(directory) / WORKFLOW
    if path.exists() or path.is_symlink():
        raise InputError("a workflow is already there: not overwritten (delete or rename it first)", str(path))
    if package is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._@+:/=<>!~,#%-]{0,400}", package):
        raise InputError("must be one pip requirement (no quotes, no newlines)", "--package")
    if config is not None and not re.fullmatch(r"[A-Za-z0-9._/-]{1,200}", config):
        raise InputError("--config must be a plain relative path (letters, digits, . _ / -)", config)
    if config is not None and not (Path(directory) / config).is_file():
        raise InputError("no such configuration file in the repository", str(Path(directory) / config))
    text = workflow(cron=cron, package=package, config=config, warm_night=warm_night)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode("utf-8"))
    except OSError as e:
        raise InputError(f"cannot write the workflow: {e.strerror or e}", str(path)) from None
    return path


def main(argv: Sequence[str], prog: str = "mangarec ci") -> int:
    from .arguments import Parser

    p = Parser(prog=prog, description="Continuous deployment of the site.")
    sub = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    i = sub.add_parser("init", help=f"write {WORKFLOW} (nightly fetch, build and GitHub Pages deploy)")
    i.add_argument("--dir", type=Path, default=Path("."), metavar="DIR", help="the repository (default: .)")
    i.add_argument("--cron", type=_cron, default=DEFAULT_CRON, help="the nightly schedule, UTC (default: %(default)s)")
    i.add_argument("--package", default=None, metavar="SPEC", help="what pip installs (default: this mangarec, pinned)")
    i.add_argument("--config", default=None, metavar="FILE", help="the repository's site.toml, relative to --dir")
    i.add_argument("--warm-night", action="store_true", help="switch warm nights on (MANGAREC_WARM_NIGHT: true)")
    args = p.parse_args(list(argv))
    path = init(args.dir, cron=args.cron, package=args.package, config=args.config, warm_night=args.warm_night)
    print(f"wrote {path}: commit it, then set Settings → Pages → Source to 'GitHub Actions'")
    return 0


__all__ = ["ACTIONS", "WORKFLOW", "installed_spec", "workflow", "init", "main"]
