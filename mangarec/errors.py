"""Errors that reach the user as one clear line.

Every problem with the user's input (a data file, the configuration, a command-line option)
is raised as :class:`InputError`. ``build.py`` catches it, prints ``error: <message>`` on one
line and exits with status 2, so nothing is half-written and no traceback is shown.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a file, a line, a field or an option.

    Parameters
    ----------
    message:
        What is wrong, in one line.
    source:
        The file (or URL, or config key) it concerns, if any.
    line:
        1-based line number within ``source``, if any.
    """

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}:{self.line}: " if self.line is not None else f"{self.source}: "
        return where + self.message.replace("\n", " ")


class ConfigError(InputError):
    """A configuration key has a bad value or is unknown."""
