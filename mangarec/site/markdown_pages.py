"""Content pages: ``site_src/pages/*.md`` → HTML with raw HTML escaped.

The first ``# heading`` is the page's title. python-markdown's raw-HTML handling is removed
(the ``html_block`` preprocessor and the ``html`` inline pattern), so any ``<tag>`` in the
source is shown as text; links are kept only when relative or http(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element

import markdown
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

from ..paths import SITE_SRC

_SAFE_SCHEMES = ("http:", "https:", "mailto:")


class _LinkFilter(Treeprocessor):
    def run(self, root: Element) -> None:
        for el in root.iter():
            for attr in ("href", "src"):
                v = el.get(attr)
                if v is None:
                    continue
                low = v.strip().lower()
                if ":" in low.split("/")[0] and not low.startswith(_SAFE_SCHEMES):
                    del el.attrib[attr]


@dataclass(frozen=True)
class MarkdownPage:
    slug: str
    title: str
    html: Markup


def render_markdown(text: str) -> Markup:
    """Markdown → HTML with raw HTML escaped and unsafe link schemes dropped."""
    md = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_LinkFilter(md), "link_filter", 0)
    return Markup(md.convert(text))


def load_pages(pages_dir: Path = SITE_SRC / "pages") -> list[MarkdownPage]:
    """Every ``*.md`` page, sorted by slug."""
    out: list[MarkdownPage] = []
    if not pages_dir.is_dir():
        return out
    for path in sorted(pages_dir.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        title = path.stem.replace("-", " ").capitalize()
        for line in text.splitlines():
            if line.startswith("# "):
                title = line[2:].strip()
                break
        out.append(MarkdownPage(slug=path.stem, title=title, html=render_markdown(text)))
    return out
