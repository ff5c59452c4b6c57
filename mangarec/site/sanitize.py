"""Untrusted text to safe HTML: descriptions, URLs.

Descriptions are plain text (the loaders strip BBCode and Markdown). They become an allow-list
of HTML: ``<p>`` per paragraph (blank-line separated) and ``<br>`` for single line breaks;
every character of the text itself is escaped. URLs from the catalog are only ever used as
links when they are absolute ``http(s)`` URLs.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

_PARAGRAPHS = re.compile(r"\n\s*\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters at a word boundary, with an ellipsis."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def description_html(text: str, max_chars: int = 4000) -> Markup:
    """Plain-text description to allow-listed HTML (``<p>``, ``<br>``), everything escaped.

    Parameters
    ----------
    text:
        Untrusted plain text; paragraphs separated by blank lines.
    max_chars:
        Longer text is cut at a word boundary (see :func:`truncate`).
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        return Markup("")
    text = truncate(text, max_chars)
    paras = []
    for para in _PARAGRAPHS.split(text):
        lines = [str(escape(line.strip())) for line in para.strip().split("\n")]
        paras.append("<p>" + "<br>".join(lines) + "</p>")
    return Markup("\n".join(paras))


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host, else ``None`` (no ``javascript:``)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if not url[:8].lower().startswith(("http://", "https://")):
        return None
    if _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url
