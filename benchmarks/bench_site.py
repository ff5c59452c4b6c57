#!/usr/bin/env python3
"""Site rendering benchmark: every page for a ~37.5k-title catalog.

Uses the real MangaDex v3 SFW catalog (``../shared/data/mangadex-v3/manga.jsonl.xz`` through
``mangarec.loaders.load_catalog``) when present, else a synthetic catalog of the same size;
models are replaced by random embeddings, neighbour lists and maps of the real shapes (6
models, k = 20), since only the site writer is measured.

Prints: seconds for all pages and pages/s (target: < 60 s); the explore page's bytes before
the first search result (HTML + CSS + JS + search index table + the shard a query needs;
target < 300 KB, plotly.js not counted: that page does not load it); Python search timings (a
proxy: shard already parsed) and, with ``--browser``, the same queries in headless Chromium
from a cold cache (target < 50 ms), and the maps page's weight (over the wire with gzip, and
decoded) and pan / zoom frame rates in Chromium, for the whole catalog beside a 609-title one
(the bundled catalog's size) measured in the same process. ``--maps-of OLD NEW`` measures the
maps pages of sites already built (e.g. before and after a change).

    python benchmarks/bench_site.py [--limit N] [--browser] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec.catalog import Catalog, Item, make_tags  # noqa: E402
from mangarec.config import Config, SiteSection  # noqa: E402
from mangarec.embedding import Embedding, Map, Neighbours  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.result import BuildResult  # noqa: E402

MODELS = ("lsi", "word2vec", "network", "text", "hybrid", "als")


def real_catalog(limit: int | None) -> Catalog | None:
    path = shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz"
    if not path.exists():
        return None
    from mangarec.loaders import load_catalog

    return load_catalog([str(path)], limit=limit)


def synthetic_catalog(n: int, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    tags = [f"Tag {k}" for k in range(80)]
    words = ["sword", "love", "school", "dragon", "night", "hero", "café", "kyōshitsu", "no", "the", "sora"]
    items = []
    for i in range(n):
        t = " ".join(rng.choice(words, 3)) + f" {i}"
        items.append(
            Item(
                id=str(i + 1),
                title=t.title(),
                kind="manga",
                tags=make_tags({"genre": list(rng.choice(tags, 5, replace=False))}),
                alt_titles=(t.upper(),),
                description="A description. " * 40,
                year=1990 + i % 30,
                popularity=float(rng.integers(0, 10000)),
            )
        )
    return Catalog(items=tuple(items), sources=("synthetic",))


def synthetic_result(catalog: Catalog, k: int = 20, seed: int = 0, realistic: bool = True) -> BuildResult:
    """Stand-in model results of the real shapes.

    ``realistic``: each model's vectors are the tag incidence rows (tf-idf weighted, reduced to
    16-d by a random projection) plus model-specific noise, and neighbours are exact cosine
    top-k (``mangarec.neighbours.exact``), so neighbour lists overlap across models and share
    tags as real ones do. Otherwise vectors and neighbour lists are uniformly random (the
    worst case for the neighbour shards' size).
    """
    rng = np.random.default_rng(seed)
    n = len(catalog)
    ids = catalog.ids
    emb, nbs, maps = {}, {}, {}
    base = None
    if realistic:
        from mangarec import neighbours as nbmod

        B = catalog.tag_matrix.astype(np.float64)
        idf = np.log(n / (1.0 + np.asarray(B.sum(axis=0)).ravel()))
        base = np.asarray((B.multiply(idf)) @ rng.standard_normal((B.shape[1], 16)))
        base /= np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
    for j, m in enumerate(MODELS):
        if realistic:
            vec = (base + 0.15 * (j > 0) * rng.standard_normal(base.shape)).astype(np.float32)
            emb[m] = Embedding(m, ids, vec)
            nbs[m] = nbmod.exact(emb[m], k, catalog.tie_order)
        else:
            vec = rng.standard_normal((n, 16)).astype(np.float32)
            emb[m] = Embedding(m, ids, vec)
            idx = rng.integers(0, n - 1, size=(n, k)).astype(np.int32)
            idx = np.where(idx >= np.arange(n)[:, None], idx + 1, idx).astype(np.int32)  # never itself
            sc = -np.sort(-rng.random((n, k)).astype(np.float32), axis=1)
            nbs[m] = Neighbours(m, ids, idx, sc, "exact")
        tag_xy = rng.standard_normal((len(catalog.tag_vocabulary), 2)).astype(np.float32)
        maps[m] = Map(m, ids, rng.standard_normal((n, 2)).astype(np.float32), catalog.tag_vocabulary, tag_xy)
    M = len(MODELS)
    report = {
        "schema": 1,
        "build": {"seed": 42, "date": "2026-11-23T00:00:00Z", "version": "bench"},
        "catalog": {
            "items": n,
            "tags": len(catalog.tag_vocabulary),
            "sources": list(catalog.sources),
            "skipped": dict(catalog.skipped),
            "ratings": None,
        },
        "models": {
            m: {"dim": 16, "info": {}, "neighbours": {"method": "exact", "k": k, "seconds": 1.0, "recall": None}}
            for m in MODELS
        },
        "agreement": {
            "models": list(MODELS),
            "mean": np.eye(M).tolist(),
            "lo": np.eye(M).tolist(),
            "hi": np.eye(M).tolist(),
            "k": k,
        },
        "null": {},
        "ranking": None,
        "protocol": None,
        "timings": {},
    }
    return BuildResult(
        catalog=catalog,
        embeddings=emb,
        neighbours=nbs,
        maps=maps,
        report=report,
        config=Config(site=SiteSection(models=list(MODELS))),
        build_date="2026-11-23T00:00:00Z",
    )


def explore_bytes(out: Path, queries: list[str]) -> tuple[int, list[int]]:
    """Bytes of the explore page and its assets, and bytes of the shard each query needs."""
    from html.parser import HTMLParser

    from mangarec.site.search_index import STOP_WORDS, key_file, normalise, resolve

    class Refs(HTMLParser):
        refs: list[str] = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "script" and a.get("src"):
                self.refs.append(a["src"])
            if tag == "link" and a.get("rel") in ("stylesheet", "icon"):
                self.refs.append(a["href"])

    page = out / "explore" / "index.html"
    p = Refs()
    p.refs = []
    p.feed(page.read_text())
    base = page.stat().st_size + sum((page.parent / r).resolve().stat().st_size for r in p.refs)
    base += (out / "data" / "search" / "index.json").stat().st_size
    keys = json.loads((out / "data" / "search" / "index.json").read_text())["keys"]
    per_query = []
    for q in queries:
        words = normalise(q).split()
        cands = [w for w in words if w not in STOP_WORDS] or words
        sizes = []
        for w in cands:
            key, _ = resolve(keys, w)
            if key is not None:
                sizes.append((out / "data" / "search" / key_file(key)).stat().st_size)
        per_query.append(min(sizes) if sizes else 0)
    return base, per_query


def python_search(out: Path, queries: list[str]) -> tuple[list[float], list[float]]:
    """(first query on each shard: includes normalising its names once; repeat queries), ms."""
    from mangarec.site.search_index import SearchIndex, key_file, query

    d = out / "data" / "search"
    keys = json.loads((d / "index.json").read_text())["keys"]
    shards = {k: json.loads((d / key_file(k)).read_text()) for k in keys if keys[k]}
    idx = SearchIndex(keys=keys, shards=shards)
    first, again = [], []
    for q in queries:
        for bucket in (first, again):
            t = time.perf_counter()
            query(idx, q)
            bucket.append((time.perf_counter() - t) * 1000)
    return first, again


def browser_search(out: Path, queries: list[str]) -> tuple[list[float], list[float]]:
    """Cold (fetch + parse + match) and warm timings of search.js ``query`` in Chromium, ms."""
    import threading

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from conftest import CHROMEDRIVER, chrome_options
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from mangarec.site.serve import make_server

    srv = make_server(out, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    prof = Path(tempfile.mkdtemp())
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chrome_options(prof))
    cold, warm = [], []
    try:
        for q in queries:
            d.get(f"http://127.0.0.1:{srv.server_address[1]}/explore/")
            for bucket in (cold, warm):
                ms = d.execute_async_script(
                    "const done = arguments[arguments.length - 1], q = arguments[0];"
                    "const entry = document.querySelector('script[type=\"module\"]').src;"
                    "import(new URL('search.js', entry).href).then(function (S) {"
                    "  const t = performance.now();"
                    "  return S.query(q, 12).then(() => done(performance.now() - t)); });",
                    q,
                )
                bucket.append(ms)
    finally:
        d.quit()
        srv.shutdown()
        shutil.rmtree(prof, ignore_errors=True)
    return cold, warm


#: Pans the map by dragging (synthetic mouse events on plotly's drag layer, one move per
#: animation frame) for ``ms`` milliseconds, then zooms with the wheel the same way, then both
#: again (``pan2``, ``zoom2``: Chromium's software WebGL and V8 speed up over the first seconds
#: of use); returns frames per second for each and whether the axes moved. A frame is one requestAnimationFrame
#: callback, so a redraw that blocks the main thread lowers the rate.
FPS_JS = """
const done = arguments[arguments.length - 1];
const ms = arguments[0];
const gd = document.getElementById('plot');
const drag = gd.querySelector('.nsewdrag');
const box = drag.getBoundingClientRect();
const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
const range0 = gd._fullLayout.xaxis.range.slice();
function ev(type, x, y, extra) {
  const o = Object.assign({bubbles: true, cancelable: true, clientX: x, clientY: y, buttons: 1, button: 0},
                          extra || {});
  return type === 'wheel' ? new WheelEvent(type, o) : new MouseEvent(type, o);
}
function run(kind) {
  return new Promise(function (resolve) {
    let frames = 0;
    const t0 = performance.now();
    if (kind === 'pan') drag.dispatchEvent(ev('mousedown', cx, cy));
    function step() {
      const t = performance.now() - t0;
      if (t > ms) {
        if (kind === 'pan') document.dispatchEvent(ev('mouseup', cx + frames % 40, cy));
        resolve(frames / (t / 1000));
        return;
      }
      frames++;
      const dx = (frames % 80) < 40 ? frames % 40 : 40 - frames % 40;
      if (kind === 'pan') document.dispatchEvent(ev('mousemove', cx + 3 * dx, cy + dx));
      else drag.dispatchEvent(ev('wheel', cx, cy, {deltaY: (frames % 20) < 10 ? -40 : 40, buttons: 0}));
      requestAnimationFrame(step);
    }
    requestAnimationFrame(step);
  });
}
function pause() { return new Promise(function (r) { setTimeout(r, 300); }); }
const out = {};
run('pan').then(function (v) {
  out.pan = v;
  out.moved = JSON.stringify(gd._fullLayout.xaxis.range) !== JSON.stringify(range0);
  return pause().then(function () { return run('zoom'); });
}).then(function (v) { out.zoom = v; return pause().then(function () { return run('pan'); }); })
  .then(function (v) { out.pan2 = v; return pause().then(function () { return run('zoom'); }); })
  .then(function (v) { out.zoom2 = v; done(out); });
"""


def browser_maps(out: Path, seconds: float = 3.0) -> dict:
    """The maps page in headless Chromium: bytes it moves (over the wire with gzip, and
    decoded), load time until the map is drawn, and pan / zoom frame rates (:data:`FPS_JS`)."""
    import threading

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from conftest import CHROMEDRIVER, chrome_options
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from mangarec.site.serve import make_server

    srv = make_server(out, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    prof = Path(tempfile.mkdtemp())
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chrome_options(prof))
    d.set_script_timeout(120)
    try:
        t = time.perf_counter()
        d.get(f"http://127.0.0.1:{srv.server_address[1]}/plots/")
        end = time.time() + 120
        while not d.execute_script(
            "return !!document.getElementById('plot').dataset.model && "
            "(document.getElementById('plot-status').textContent || '').indexOf('Loading') < 0"
        ):
            if time.time() > end:
                raise RuntimeError("the map was not drawn within 120 s")
            time.sleep(0.05)
        load_s = time.perf_counter() - t
        res = d.execute_script(
            "const nav = performance.getEntriesByType('navigation')[0];"
            "const all = [nav].concat(performance.getEntriesByType('resource'));"
            "return all.map(e => [e.name, e.transferSize, e.decodedBodySize]);"
        )
        fps = d.execute_async_script(FPS_JS, int(seconds * 1000))
    finally:
        d.quit()
        srv.shutdown()
        shutil.rmtree(prof, ignore_errors=True)
    wire = sum(r[1] for r in res)
    decoded = sum(r[2] for r in res)
    plotly = sum(r[1] for r in res if "plotly" in r[0])
    return {"wire": wire, "decoded": decoded, "plotly_wire": plotly, "load_s": load_s, **fps, "files": len(res)}


def print_maps(label: str, m: dict, base: dict | None = None) -> None:
    ratio = ""
    if base:
        ratio = (
            f"   [vs {base['label']}: wire x{m['wire'] / base['wire']:.2f}, pan x{m['pan'] / base['pan']:.2f}, "
            f"zoom x{m['zoom'] / base['zoom']:.2f}]"
        )
    print(
        f"maps page, {label}: {m['wire'] / 1e6:.2f} MB over the wire ({m['decoded'] / 1e6:.2f} MB decoded, plotly.js "
        f"{m['plotly_wire'] / 1e6:.2f} MB, {m['files']} requests); drawn in {m['load_s']:.1f} s; "
        f"pan {m['pan']:.1f} fps, "
        f"zoom {m['zoom']:.1f} fps (then pan {m['pan2']:.1f}, zoom {m['zoom2']:.1f})"
        f"{'' if m['moved'] else ' (the map did not move!)'}{ratio}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="use only the first N titles")
    ap.add_argument("--synthetic", type=int, default=0, help="use a synthetic catalog of N titles instead")
    ap.add_argument(
        "--random-neighbours",
        action="store_true",
        help="uniformly random neighbour lists (worst case) instead of tag-based ones",
    )
    ap.add_argument("--workers", type=int, default=None, help="title-page processes (default: automatic)")
    ap.add_argument("--browser", action="store_true", help="also time searches in headless Chromium")
    ap.add_argument("--out", type=Path, default=None, help="keep the site here (default: a temp dir)")
    ap.add_argument(
        "--maps-of",
        type=Path,
        nargs="+",
        default=None,
        metavar="SITE",
        help="only measure the maps page of already built sites (weights, pan/zoom fps); the first "
        "is the baseline of the others",
    )
    args = ap.parse_args()
    if args.maps_of is not None:
        base = None
        for site in args.maps_of:
            m = browser_maps(site)
            print_maps(str(site), m, base)
            base = base or {**m, "label": str(site)}
        return

    t = time.perf_counter()
    catalog = None if args.synthetic else real_catalog(args.limit)
    source = "MangaDex v3 SFW"
    if catalog is None:
        catalog = synthetic_catalog(args.synthetic or 37500)
        source = "synthetic"
    print(
        f"catalog: {len(catalog):,} titles ({source}), {len(catalog.tag_vocabulary)} tags, "
        f"loaded in {time.perf_counter() - t:.1f} s"
    )
    t = time.perf_counter()
    result = synthetic_result(catalog, realistic=not args.random_neighbours)
    print(
        f"stand-in models ({'random' if args.random_neighbours else 'tag-based, exact kNN'}): "
        f"{time.perf_counter() - t:.1f} s (not counted)"
    )

    from mangarec.site import write_site

    out = args.out or Path(tempfile.mkdtemp(prefix="bench-site-"))
    if out.exists():
        shutil.rmtree(out)
    stats = write_site(result, out, workers=args.workers)
    print(
        f"write_site: {stats['seconds']:.1f} s for {stats['pages']:,} pages ({stats['files']:,} files, "
        f"{stats['bytes'] / 1e6:.0f} MB); {stats['pages'] / stats['seconds']:.0f} pages/s; title pages + shards "
        f"{stats['seconds_titles']:.1f} s   [target < 60 s]"
    )
    print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stats["timings"].items()))

    rng = np.random.default_rng(1)
    pick = rng.choice(len(catalog), 200, replace=False)
    queries = []
    for k in pick:
        title = catalog.items[int(k)].title
        queries.append(title[: max(2, min(len(title), int(rng.integers(3, 9))))])
    base, shard_sizes = explore_bytes(out, queries)
    worst = base + max(shard_sizes)
    print(
        f"explore before first result: page+CSS+JS+index {base / 1024:.0f} KB + shard median "
        f"{statistics.median(shard_sizes) / 1024:.0f} KB (max {max(shard_sizes) / 1024:.0f} KB) = "
        f"{(base + statistics.median(shard_sizes)) / 1024:.0f} KB typical, {worst / 1024:.0f} KB worst "
        f"(uncompressed)   [target < 300 KB]"
    )
    first, again = python_search(out, queries)
    print(
        f"search (Python, {len(queries)} prefixes, shard JSON parsed): first use of a shard median "
        f"{statistics.median(first):.2f} ms, max {max(first):.2f} ms; repeat median {statistics.median(again):.2f} ms, "
        f"max {max(again):.2f} ms   [target < 50 ms]"
    )
    if args.browser:
        cold, warm = browser_search(out, queries[:30])
        print(
            f"search (Chromium, {len(cold)} prefixes): cold (fetch + parse + match) median "
            f"{statistics.median(cold):.1f} ms, max {max(cold):.1f} ms; warm median {statistics.median(warm):.1f} ms, "
            f"max {max(warm):.1f} ms   [target < 50 ms]"
        )
        small_n = 609  # the bundled catalog's size: the baseline of the maps page
        small = Path(tempfile.mkdtemp(prefix="bench-site-small-"))
        write_site(synthetic_result(catalog.subset(range(min(small_n, len(catalog)))), realistic=False), small)
        base = browser_maps(small)
        print_maps(f"{min(small_n, len(catalog)):,} titles (baseline)", base)
        print_maps(f"{len(catalog):,} titles", browser_maps(out), {**base, "label": f"{small_n} titles"})
        shutil.rmtree(small, ignore_errors=True)
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
