"""Static files copied into ``assets/`` with a content hash in their names.

``site_src/static/<dir>/<name>.<ext>`` → ``assets/<dir>/<name>.<hash10>.<ext>``; plotly.js is
copied once from the installed ``plotly`` package (``plotly.offline.get_plotlyjs()``), never
from a CDN. The browser code is ES modules that import each other by relative path, so each
folder of them is copied whole under one hash (:data:`MODULE_TREES`). Large files also get a
``.gz`` copy (:data:`GZIP_MIN_BYTES`). Pages look files up by their logical name
(``"css/site.css"``, ``"js/feed.js"``, ``"js/plotly.min.js"``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..fsutil import gzip_bytes
from ..paths import SITE_SRC

#: Assets at least this large get a gzip copy beside them (``name.ext.gz``, reproducible) for
#: hosts that serve precompressed files (``serve`` does); plotly.js shrinks about 3.4 times.
GZIP_MIN_BYTES = 20_000

#: Sub-folders of ``site_src/static`` copied as assets (other files there belong to other
#: writers, e.g. ``embeddings.schema.json`` which the publisher copies to ``data/``).
ASSET_DIRS = ("css", "js", "img")

#: Folders of ES modules that import each other by relative path: each is copied whole, under
#: one hash of all its files (``js/feed.js`` -> ``assets/js.<hash10>/feed.js``,
#: ``js/privacy/worker.js`` -> ``assets/js/privacy.<hash10>/worker.js``), so their imports still
#: resolve and any change still renames them. A file belongs to the deepest tree holding it.
MODULE_TREES = ("js", "js/privacy", "js/vendor/libsodium")

#: The trees only the contribution panel loads (copied only for a site that collects ratings).
ASSET_TREES = ("js/privacy", "js/vendor/libsodium")


def plotly_js() -> bytes:
    """plotly.js as the installed plotly package ships it (its public ``get_plotlyjs``)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def _hashed_name(rel: Path, digest: str) -> str:
    name = rel.name
    stem, dot, ext = name.partition(".")
    return str(rel.with_name(f"{stem}.{digest}.{ext}" if dot else f"{stem}.{digest}")).replace("\\", "/")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def copy_assets(out_dir: Path, static_dir: Path = SITE_SRC / "static", *, trees: bool = True) -> dict[str, str]:
    """Copy the static files under :data:`ASSET_DIRS` (and plotly.js) into ``out_dir/assets``, the
    :data:`MODULE_TREES` as trees; the :data:`ASSET_TREES` only if ``trees``.

    Returns
    -------
    dict
        ``{logical name: path relative to the site root}``, e.g.
        ``{"css/site.css": "assets/css/site.3f2a9c01bd.css"}``.
    """
    mapping: dict[str, str] = {}
    sources: list[tuple[str, bytes]] = []
    tree_files: dict[str, list[tuple[str, bytes]]] = {t: [] for t in MODULE_TREES}
    for sub in ASSET_DIRS:
        folder = static_dir / sub
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    logical = path.relative_to(static_dir).as_posix()
                    tree = max((t for t in MODULE_TREES if logical.startswith(t + "/")), key=len, default=None)
                    (sources if tree is None else tree_files[tree]).append((logical, path.read_bytes()))
    sources.append(("js/plotly.min.js", plotly_js()))
    targets = [(logical, "assets/" + _hashed_name(Path(logical), _digest(data)), data) for logical, data in sources]
    for tree, files in tree_files.items():
        if tree in ASSET_TREES and not trees:
            continue
        h = hashlib.sha256()
        for logical, data in files:
            h.update(f"{logical}\0{len(data)}\0".encode() + data)
        base = f"assets/{tree}.{h.hexdigest()[:10]}/"
        targets += [(logical, base + logical[len(tree) + 1 :], data) for logical, data in files]
    for logical, target, data in targets:
        dest = out_dir / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        if len(data) >= GZIP_MIN_BYTES:
            dest.with_name(dest.name + ".gz").write_bytes(gzip_bytes(data))
        mapping[logical] = target
    return mapping
