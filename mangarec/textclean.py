"""Untrusted text to clean Unicode: the rules every loader applies to titles, tags, descriptions.

One set of rules (documented in ``docs/catalog-formats.md``, "Text cleaning"):

- **removed**: C0 control characters other than tab and line breaks (NUL, ``\\x01`` … ``\\x1f``,
  DEL), lone surrogates (``"\\ud800"`` escapes in JSON), the bidirectional embedding, override
  and isolate controls (U+202A–U+202E, U+2066–U+2069: they reorder the text shown after them),
  zero-width spaces and other invisible formatting (U+200B, U+2060–U+2064, U+206A–U+206F,
  U+FEFF, U+00AD soft hyphen, U+180E, U+FFF9–U+FFFB, the tag characters U+E0001 and
  U+E0020–U+E007F) and the noncharacters U+FFFE, U+FFFF;
- **C1 controls** (U+0080–U+009F) are what text decoded with the wrong code page looks like
  (MangaDex has ``\\x93castle\\x94``): each becomes the Windows-1252 character it stands for
  (``\\x92`` → ``’``, ``\\x85`` → ``…``); the five with no Windows-1252 meaning are removed;
- **kept**: the zero-width joiner and non-joiner (U+200D, U+200C: emoji sequences, Persian and
  Indic spelling) and the direction marks U+200E, U+200F, U+061C (they do not nest, so cannot
  spill into the rest of a page);
- **white space**: in one-line fields (titles, tags, ...) every run of white space, line
  breaks included, becomes one space and the ends are trimmed; in descriptions line breaks stay
  (``\\r\\n``, ``\\r``, U+2028 → ``\\n``, U+2029 → a paragraph break), each line is trimmed with
  its spaces collapsed and blank lines are collapsed to one;
- a string with **no visible character** (only white space, format characters, combining marks
  or blank letters such as U+3164 HANGUL FILLER and U+2800 BRAILLE PATTERN BLANK) is empty:
  ``""``. Loaders then reject an item whose title is empty and drop empty tags and alternative
  titles.

The functions are idempotent (cleaning clean text changes nothing) and cost one regular
expression search on text that needs no change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["clean_line", "clean_text", "has_visible", "is_clean_line", "is_clean_text", "needs_cleaning"]

#: Characters removed everywhere (see the module docstring), as regular expression ranges.
_REMOVED = (
    "\x00-\x08\x0e-\x1f\x7f"  # C0 controls but tab, line feed, vertical tab, form feed, CR; DEL
    "\ud800-\udfff"  # lone surrogates
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides, isolates
    "\u00ad\u180e\u200b\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb\ufffe\uffff"
    "\U000e0001\U000e0020-\U000e007f"
)
#: Anything that makes the slow path necessary: removed characters, C1 controls, odd line breaks.
_SUSPECT = re.compile(f"[{_REMOVED}\x80-\x9f\u2028\u2029]")
#: The same for ASCII text (``str.isascii`` is free): a much smaller class, searched faster.
_SUSPECT_ASCII = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_REMOVED_RE = re.compile(f"[{_REMOVED}]")

#: C1 control → the Windows-1252 character of the same byte ("" when that byte is undefined).
_C1 = {c: bytes([c]).decode("cp1252", errors="ignore") or None for c in range(0x80, 0xA0)}
_TEXT_TABLE = {**_C1, 0x2028: "\n", 0x2029: "\n\n", 0x0B: " ", 0x0C: " "}

#: Letters and symbols that render as nothing (fillers and blanks used for "invisible names").
_BLANK = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
_ASCII_VISIBLE = re.compile("[!-~]")
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"))


def needs_cleaning(text: str) -> bool:
    """True if :func:`clean_text` / :func:`clean_line` would remove or map a character of ``text``."""
    return (_SUSPECT_ASCII if text.isascii() else _SUSPECT).search(text) is not None


#: White space other than a space and a line feed (every ``str.isspace`` character but those).
_OTHER_SPACE = "\t\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: One character class: a character cleaning removes or maps, or odd white space. (A single
#: class is searched several times faster than alternatives.)
_SUSPECT_OR_SPACE = re.compile(f"[{_REMOVED}\x80-\x9f{_OTHER_SPACE}]")
_SUSPECT_OR_SPACE_ASCII = re.compile("[\x00-\x09\x0b-\x1f\x7f]")  # \n is allowed in text
_SUSPECT_OR_SPACE_ASCII_LINE = re.compile("[\x00-\x1f\x7f]")


def is_clean_text(text: str) -> bool:
    """Exactly ``clean_text(text) == text``, cheaply (a character class search and a few
    substring tests, no copy)."""
    if not text:
        return True
    if (_SUSPECT_OR_SPACE_ASCII if text.isascii() else _SUSPECT_OR_SPACE).search(text) is not None:
        return False
    if text[0] in " \n" or text[-1] in " \n" or "  " in text or " \n" in text or "\n " in text or "\n\n\n" in text:
        return False
    return text.isascii() or has_visible(text)


def is_clean_line(text: str) -> bool:
    """Exactly ``clean_line(text) == text`` for a non-empty ``text``, cheaply."""
    if text.isascii():
        if _SUSPECT_OR_SPACE_ASCII_LINE.search(text) is not None:
            return False
    elif _SUSPECT_OR_SPACE.search(text) is not None or "\n" in text:
        return False
    if text[0] == " " or text[-1] == " " or "  " in text:
        return False
    return text.isascii() or has_visible(text)


def _map(text: str) -> str:
    if not needs_cleaning(text):
        return text
    return _REMOVED_RE.sub("", text).translate(_TEXT_TABLE)


def has_visible(text: str) -> bool:
    """True if ``text`` has a character that shows (not white space, format, mark or blank)."""
    if text.isascii():
        return _ASCII_VISIBLE.search(text) is not None
    for c in text:
        if c not in _BLANK and unicodedata.category(c) not in _INVISIBLE_CATEGORIES:
            return True
    return False


def clean_line(text: str) -> str:
    """One-line field (title, tag, alternative title ...): the rules above, ``""`` if invisible.

    >>> clean_line(" Tom\\x00 &\\u202e Jerry\\n ")
    'Tom & Jerry'
    >>> clean_line("\\u200b\\u3164")
    ''
    """
    out = " ".join(_map(text).split())
    return out if out and has_visible(out) else ""


def clean_text(text: str, drop_line: Callable[[str], bool] | None = None) -> str:
    """Multi-line text (a description): the rules above, paragraphs kept, ``""`` if invisible.

    ``drop_line``, if given, is asked about every cleaned, non-blank line; a line it answers
    True for is removed (without leaving a blank line behind).

    >>> clean_text("First\\x92s line \\r\\n\\r\\n\\r\\n  second\\u2028third\\x00")
    'First’s line\\n\\nsecond\\nthird'
    """
    ascii_text = text.isascii()
    if not ascii_text:  # (ASCII control characters are found line by line below, for free)
        text = _map(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    blank = False
    for ln in text.split("\n"):
        # split + join only when needed: control characters and any white space but a space are
        # not printable
        if "  " in ln or not ln.isprintable():
            ln = " ".join((_map(ln) if ascii_text else ln).split())
        else:
            ln = ln.strip(" ")
        if not ln:
            blank = bool(out)
            continue
        if drop_line is not None and drop_line(ln):
            continue
        if blank:
            out.append("")
            blank = False
        out.append(ln)
    result = "\n".join(out)
    return result if result and has_visible(result) else ""
