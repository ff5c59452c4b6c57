"""``python -m mangarec``: the command line (see :mod:`mangarec.cli`)."""

import sys

from .cli import main

sys.exit(main(prog="python -m mangarec"))
