"""Where things are: the site sources, the templates, the bundled catalog, the shared datasets.

In a source checkout (or an editable install) ``templates/`` and ``site_src/`` are the
repository's own folders; an installed wheel carries copies under ``mangarec/_data/`` (see
``setup.py``), so ``pip install .`` builds the bundled site from any directory.
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent
_PACKAGED = _PKG / "_data"

#: The repository root when running from a checkout (the folder holding ``build.py``).
ROOT = _PKG.parent


def is_checkout() -> bool:
    """Whether the package runs from a source checkout (not from an installed wheel)."""
    return not _PACKAGED.is_dir() and (ROOT / "pyproject.toml").is_file() and (ROOT / "templates").is_dir()


_BASE = ROOT if is_checkout() else _PACKAGED
SITE_SRC = _BASE / "site_src"
TEMPLATES = _BASE / "templates"
DEFAULT_CATALOG = SITE_SRC / "catalog" / "default.jsonl"
DEFAULT_CONFIG = SITE_SRC / "site.toml"


def shared_data_dir() -> Path:
    """The shared datasets: ``$MANGAREC_SHARED_DATA`` or ``../shared/data`` beside the repo."""
    env = os.environ.get("MANGAREC_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"
