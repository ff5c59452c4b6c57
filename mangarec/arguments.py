"""Argument helpers shared by every command line (``mangarec`` and its subcommands, ``mangarec
tune``): a parser whose errors are one line and exit 2, and bounded integer options.

Its own module so that :mod:`mangarec.cli` (which dispatches to :mod:`mangarec.tune`) and the
commands it runs import the helpers from here, not from each other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .errors import InputError


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number between ``lo`` and ``hi`` (one-line error otherwise)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is not between {lo} and {hi:,}")
        return v

    return parse


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line and exit 2 (as every other input error)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message, self.prog)


__all__ = ["Parser", "int_in"]
