"""Where things are: the repository, the shared datasets, the bundled catalog."""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``build.py``).
ROOT = Path(__file__).resolve().parents[1]
SITE_SRC = ROOT / "site_src"
TEMPLATES = ROOT / "templates"
DEFAULT_CATALOG = SITE_SRC / "catalog" / "default.jsonl"
DEFAULT_CONFIG = SITE_SRC / "site.toml"


def shared_data_dir() -> Path:
    """The shared datasets: ``$MANGAREC_SHARED_DATA`` or ``../shared/data`` beside the repo."""
    env = os.environ.get("MANGAREC_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"
