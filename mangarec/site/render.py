"""The Jinja2 environment: autoescape everywhere, undefined names are errors."""

from __future__ import annotations

import json
import posixpath
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from ..paths import SITE_SRC, TEMPLATES

#: The Content-Security-Policy every page carries (``<meta http-equiv>``): everything from the
#: site itself (``script-src``, ``style-src`` and ``connect-src`` fall back to ``default-src``, so
#: they are written only where a page widens them: :func:`directive`), images also as ``data:``.
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'"


def directive(csp: str, name: str, *sources: str) -> str:
    """``csp`` with the directive ``name`` set to ``sources`` (replaced if ``csp`` has it, else
    written after ``default-src``)."""
    parts = [d for d in csp.split("; ") if d.split(" ", 1)[0] != name]
    return "; ".join([parts[0], " ".join((name, *sources)), *parts[1:]])


#: The plots page only, checked in Chromium: plotly.js inserts ``<style>`` rules and style
#: attributes (modebar, hover labels, SVG layers), refused without ``'unsafe-inline'`` styles;
#: and its WebGL renderer (regl) compiles its draw calls with ``Function(...)``, refused without
#: ``'unsafe-eval'`` (the map then shows "WebGL is not supported"). Scripts still load only from
#: the site itself and no page has inline script, so injected markup still cannot run code.
#: plotly's "strict" bundle (precompiled regl) would remove ``'unsafe-eval'``, but the Python
#: package ships only ``plotly.min.js``.
CSP_PLOTS = directive(directive(CSP, "style-src", "'self'", "'unsafe-inline'"), "script-src", "'self'", "'unsafe-eval'")


def csp_collecting(collect_url: str) -> str:
    """The site's CSP with the collection server's origin admitted in ``connect-src`` (the For-you
    page of a site built with ``privacy.collect_url``; every other page keeps :data:`CSP`)."""
    from urllib.parse import urlsplit

    u = urlsplit(collect_url)
    if u.scheme not in ("http", "https") or not u.hostname or any(c in collect_url for c in " ;,'\""):
        raise ValueError(f"privacy.collect_url: {collect_url!r} is not an http(s) URL")
    return directive(CSP, "connect-src", "'self'", f"{u.scheme}://{u.netloc}")


_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def dumps(obj: Any, sort_keys: bool = True) -> str:
    """Deterministic compact JSON (sorted keys unless the caller built them in a fixed order,
    no spaces, UTF-8 kept)."""
    return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_island(obj: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` escaped.

    No ``</script>`` or ``<!--`` can appear, so the island cannot be closed early.
    """
    return Markup(dumps(obj).translate(_JSON_ESCAPES))


def dq_attr(value: str) -> Markup:
    """``value`` escaped for a double-quoted attribute, its single quotes kept as they are: a
    CSP's ``'self'`` keywords, 12 per page, would otherwise take 5 bytes each (``&#39;``)."""
    return Markup(str(escape(value)).replace("&#39;", "'"))


def score(value: float) -> str:
    """A similarity score for display: three decimals."""
    return f"{value:.3f}"


def pvalue(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.001:
        return "< 0.001"
    return f"{value:.3f}"


def number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


_IMPORT = re.compile(r"""^\s*import\b[^'"]*?from\s*['"](\./[\w./-]+\.js)['"]""", re.MULTILINE)


@lru_cache(maxsize=64)
def module_closure(module: str, static: Path = SITE_SRC / "static") -> tuple[str, ...]:
    """The modules ``module`` (a logical asset name, ``"js/foryou.js"``) imports, directly or not,
    by relative path (sorted; for ``<link rel="modulepreload">``: the browser fetches them beside
    it instead of one import level after another)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        cur = todo.pop()
        path = static / cur
        if not path.is_file():
            continue
        for rel in _IMPORT.findall(path.read_text(encoding="utf-8")):
            dep = posixpath.normpath(posixpath.join(posixpath.dirname(cur), rel))
            if dep not in seen and dep != module:
                seen.add(dep)
                todo.append(dep)
    return tuple(sorted(seen))


@lru_cache(maxsize=4)
def environment(templates: Path = TEMPLATES) -> Environment:
    """The site's Jinja2 environment (cached per template folder)."""
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(
        dq_attr=dq_attr,
        json_island=json_island,
        score=score,
        pvalue=pvalue,
        number=number,
        module_closure=module_closure,
    )
    return env
