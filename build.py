#!/usr/bin/env python3
"""Build the mangarec static site: a thin entry point to ``mangarec`` (see mangarec/cli.py).

    python build.py                                   # the bundled catalog → output/
    python build.py --data ../shared/data/mangadex-v3/manga.jsonl.xz
    python build.py serve                             # view output/ on http://127.0.0.1:8000/
    python build.py --help                            # every command; 'build.py build --help'

Bad input ends with one line ``error: <where>: <what>`` and exit status 2; the previous
``output/`` is left untouched.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mangarec.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="build.py"))
