"""MangaDex BBCode (and HTML entities) to plain text.

:func:`to_plain_text` is what the MangaDex loaders apply to descriptions (and titles get
:func:`unescape`). Rules:

- ``\\r\\n`` and ``\\r`` become ``\\n``; paragraphs are separated by exactly one blank line;
  single line breaks inside a paragraph are kept; runs of spaces become one space and lines
  are trimmed.
- ``[spoiler]…[/spoiler]`` is **dropped with its contents** (no marker): the descriptions are
  shown to people choosing what to read. An unclosed ``[spoiler]`` drops the rest of the text
  (on MangaDex they are the translated sections at the end).
- ``[img]…[/img]`` is dropped with its contents (the image URL).
- ``[url=X]text[/url]`` becomes ``text``; ``[url]X[/url]`` becomes ``X``.
- ``[b] [i] [u] [s] [sub] [sup] [center] [left] [right] [color] [size] [font] [code]
  [quote]`` lose their tags and keep their contents.
- ``[list] [ul] [ol]`` start a new line; each ``[*]`` / ``[li]`` starts a line ``• ``.
  ``[hr]`` is a paragraph break. HTML ``<br>`` is a line break.
- Any other bracketed text (``[Part 1]``, ``[RUS]``) is kept as written.
- Then HTML entities are decoded (``&amp;`` → ``&``, ``&hearts;`` → ``♥``, ``&#039;`` → ``'``),
  non-breaking spaces become spaces and soft hyphens / zero-width spaces are removed.
- Last, the text cleaning rules of :mod:`mangarec.textclean` (control characters, lone
  surrogates, bidi overrides, invisible characters; Windows-1252 C1 mojibake mapped back).
- Optionally (``drop_language_headers``, on in the loaders) a line that is only a language
  heading such as ``Russian / Русский:`` or ``[RUS]`` is removed; the translated text itself is
  usually inside a spoiler and already gone.
- Optionally (``drop_link_lists``, on in the loaders) a **link list** is removed: a line that is
  only a links heading (``Links:``, ``Link:``, ``Other links:``, ``Official links``, ``External
  links`` …) and the lines after it up to the next blank line. Their URLs are already gone (a
  ``[url=X]text[/url]`` keeps only ``text``), so what is left is a list of site names
  ("AnimeNewsNetwork (anime)", "Author's Twitter") that says nothing about the story. So is a
  ``Descriptions in other languages:`` (or ``Other languages:``) heading and the rest of its
  paragraph (the list of languages whose texts were in spoilers).
"""

from __future__ import annotations

import html
import re

from .textclean import clean_text

_TAG = re.compile(r"\[(/?)([a-zA-Z]+|\*)(?:=([^\]]{0,500}))?\]|<br\s*/?>", re.IGNORECASE)

_KEEP_CONTENT = frozenset(
    "b i u s sub sup center left right color colour size font code quote strike em strong".split()
)
_DROP_CONTENT = frozenset(("spoiler", "img"))
_LIST = frozenset(("list", "ul", "ol"))
_ITEM = frozenset(("*", "li"))
_KNOWN = _KEEP_CONTENT | _DROP_CONTENT | _LIST | _ITEM | {"url", "hr"}

_LANGUAGES = (
    "english|eng|en|russian|rus|ru|русский|polish|polski|pl|portuguese|português|portugues|"
    "pt-br|ptbr|pt|br|brazilian|spanish|español|espanol|esp|es|french|français|francais|fr|"
    "italian|italiano|it|german|deutsch|de|indonesian|indonesia|bahasa indonesia|ind|id|"
    "ukrainian|українська|turkish|türkçe|tr|arabic|العربية|vietnamese|tiếng việt|vi|thai|"
    "chinese|中文|korean|한국어|japanese|日本語|filipino|tagalog|hungarian|magyar|czech|"
    "swedish|dutch|nederlands|romanian|română|catalan|català|greek|persian|mongolian|"
    "malay|bengali|hindi|hebrew|lithuanian|bulgarian|serbian|finnish|norwegian|danish"
)
_LANG_HEADER = re.compile(
    rf"^[\s\[\(\-–—*•:|]*(?:{_LANGUAGES})(?:\s*[/|,(-]\s*[^\n]{{0,30}})?[\s\]\):.\-–—*|]*$",
    re.IGNORECASE,
)
_LINK_HEADING = re.compile(
    r"^[\s*•\-–—]*(?:(?:other|official|useful|related|external|more|some|author'?s?)\s+)*links?\s*:?\s*$"
    r"|^[\s*•\-–—]*(?:descriptions?\s+in\s+other\s+languages|other\s+languages)\s*:?.{0,80}$",
    re.IGNORECASE,
)
_DOUBLE = re.compile(r"&amp;(?:#[0-9]{1,6}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_INVISIBLE = str.maketrans({"\xa0": " ", "\u00ad": None, "\u200b": None})


def unescape(text: str) -> str:
    """Decode HTML entities (also double-escaped ``&amp;quot;``) and normalise odd spaces."""
    if "&" not in text:
        return text.translate(_INVISIBLE) if "\xa0" in text else text
    out = html.unescape(text)
    if _DOUBLE.search(text):
        out = html.unescape(out)
    if "\xa0" in out or "\u00ad" in out or "\u200b" in out:
        out = out.translate(_INVISIBLE)
    return out


def strip_bbcode(text: str) -> str:
    """Remove BBCode markup following the module's rules (entities are left alone)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "[" not in text and "<" not in text:
        return text
    out: list[str] = []
    pos = 0
    drop_depth = 0
    for m in _TAG.finditer(text):
        closing, name = m.group(1), m.group(2)
        if name is None:  # <br>
            if not drop_depth:
                out.append(text[pos : m.start()])
                out.append("\n")
            pos = m.end()
            continue
        tag = name.lower()
        if tag not in _KNOWN:
            continue
        if not drop_depth:
            out.append(text[pos : m.start()])
        pos = m.end()
        if tag in _DROP_CONTENT:
            drop_depth += -1 if closing else 1
            drop_depth = max(drop_depth, 0)
            continue
        if drop_depth:
            continue
        if tag == "hr":
            out.append("\n\n")
        elif tag in _LIST:
            out.append("\n")
        elif tag in _ITEM:
            if not closing:
                last = next((c for c in reversed(out) if c), "")
                out.append("• " if last.endswith("\n") else "\n• ")
        # url, quote and the _KEEP_CONTENT tags: the tag goes, the contents stay
        # ([url=X]text[/url] keeps text, [url]X[/url] keeps X)
    if not drop_depth:
        out.append(text[pos:])
    return "".join(out)


def tidy(text: str, *, drop_language_headers: bool = False) -> str:
    """Normalise line breaks, white space, blank lines and invisible characters
    (:func:`mangarec.textclean.clean_text`); optionally drop language-heading lines."""
    return clean_text(text, _is_language_header if drop_language_headers else None)


def _is_language_header(line: str) -> bool:
    return len(line) <= 60 and _LANG_HEADER.match(line) is not None


def drop_link_lists(text: str) -> str:
    """Remove link lists and "descriptions in other languages" sections (module rules).

    ``text`` is tidied plain text (paragraphs separated by one blank line).
    """
    if "ink" not in text and "anguage" not in text:
        return text
    out: list[str] = []
    skipping = False
    for ln in text.split("\n"):
        if not ln.strip():
            skipping = False
            out.append(ln)
            continue
        if skipping:
            continue
        if len(ln) <= 120 and _LINK_HEADING.match(ln):
            skipping = True
            continue
        out.append(ln)
    return tidy("\n".join(out))


def to_plain_text(text: str, *, drop_language_headers: bool = True, drop_links: bool = True) -> str:
    """BBCode + HTML entities → plain text (see the module docstring for every rule).

    >>> to_plain_text("[b]Hi[/b] &amp; bye[spoiler]secret[/spoiler]\\r\\n\\r\\n[url=http://x]link[/url]")
    'Hi & bye\\n\\nlink'
    """
    if not text:
        return ""
    plain = strip_bbcode(text)
    for _ in range(3):  # malformed nesting such as "[*[u]]" leaves a tag behind: strip again
        if not any(_is_known(m) for m in _TAG.finditer(plain)):
            break
        plain = strip_bbcode(plain)
    plain = tidy(unescape(plain), drop_language_headers=drop_language_headers)
    return drop_link_lists(plain) if drop_links else plain


def _is_known(m: re.Match) -> bool:
    return m.group(2) is None or m.group(2).lower() in _KNOWN
