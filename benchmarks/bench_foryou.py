#!/usr/bin/env python3
"""For-you as a visitor meets it: the compact published model's size–quality curve, and the
page in headless Chromium under "fast 3G", each beside today's file and page in the same run.

    python benchmarks/bench_foryou.py [--datasets anime,mangadex] [--variants T:D:B,...]
                                      [--browser] [--baseline-ref main] [--repeat 3]

1. **Size–quality curve** (``mangarec.compact``, embeddings version 4), one row per variant
   ``T:D:B`` (``T`` titles up front, ``D`` principal directions kept, 0: all; ``B`` bits of
   the codes): the gzipped bytes a visitor downloads up front (the document with the titles'
   names, and the codes file), beside the full version-3 ``embeddings.json`` (today's file).
   - anime-recdb: the visitor's P@10 with 12 likes and with all likes, through the published
     file and ``mangarec.client`` (the split, the visitors and the seeds of
     ``benchmarks/bench_quality.py``: ALS fitted on the training side, 1,000 visitors), and
     the ratio to the version-3 file's (target ≥ 0.98).
   - MangaDex v3 SFW (37k titles, the hybrid profile): a visitor who likes one title, franchise
     and ``matches`` recall@20 (the protocol and test-half sample of
     ``benchmarks/bench_content.py``), and the ratio to the version-3 file's.
2. **The page** (``--browser``): the For-you page with each dataset's published files (written
   by ``mangarec.publish.write_embeddings`` with the ``[publish]`` defaults) in the bundled
   catalog's built site (its page shell and neighbour shards), served with gzip from 127.0.0.1,
   Chromium with ``Network.emulateNetworkConditions``
   (fast 3G: 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency), a visitor with 12 likes already
   in the browser's storage, cold cache: the bytes transferred before the first recommendation
   is on screen, the number of requests, and the time to it. "Before" is today's page: the
   same site with the browser modules of ``--baseline-ref`` (which load the full version-3 file
   and each rated title's and pick's neighbour shard); "after" is
   this checkout's. Targets: anime-recdb ≤ 100 KB, MangaDex ≤ 150 KB, first recommendation
   < 2 s.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec import client, compact, lean, publish, published  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.seeds import derive_seed  # noqa: E402

print = functools.partial(print, flush=True)  # noqa: A001 - progress shows while it runs

#: Variants of the curve: (titles up front, directions kept, bits).
VARIANTS = {
    "anime": [(0, 0, 8), (0, 0, 7), (0, 0, 6), (0, 0, 4), (0, 128, 8), (0, 64, 8), (1000, 0, 8), (500, 0, 8)],
    "mangadex": [(0, 0, 8), (0, 0, 4), (5000, 0, 8), (5000, 0, 4)],
}
#: Fast 3G as Chrome DevTools defines it (bytes/s, ms).
#: Version-6 variants: (candidates per title, μ₀ of the published kernel; 0: the few-ratings λ).
VARIANTS5 = {"anime": [(50, 0), (100, 0), (200, 0), (400, 0)], "mangadex": [(25, 0), (50, 0), (100, 0)]}
#: Likes of the page's visitor (what the version-6 rows' "rated files" column counts).
PAGE_LIKES = 12
FAST_3G = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
FIRST_REC = "document.querySelector('#recs-list > li')"
SHARD_SIZE = 16


@dataclass(frozen=True)
class Row:
    label: str
    doc_gz: int
    codes_gz: int
    figures: tuple[float, ...]

    @property
    def total(self) -> int:
        return self.doc_gz + self.codes_gz


def _gz(data: bytes) -> int:
    return len(publish.gzip_bytes(data))


def sizes_v4(doc: dict) -> tuple[int, int]:
    """Gzipped bytes of the document as written (codes moved to the file) and of the codes."""
    import base64

    codes = base64.b64decode(doc["items"]["vectors"])
    main = dict(doc, items=dict(doc["items"], encoding="int8-file", vectors=compact.CODES_NAME))
    return _gz(publish.dumps(main)), _gz(codes)


def variants_of(text: str | None, dataset: str) -> list[tuple[int, int, int]]:
    if text is None:
        return VARIANTS[dataset]
    return [tuple(int(x) for x in v.split(":")) for v in text.split(",") if v]  # type: ignore[misc]


def curve(name, rows_of, base_doc: dict, variants, build, labels: tuple[str, ...]) -> list[Row]:
    """Print the baseline (version 3) and each variant's sizes and figures with ratios."""
    base = Row("embeddings.json (version 3, today)", _gz(publish.dumps(base_doc)), 0, rows_of(client.parse(base_doc)))
    out = [base]
    print(f"\n=== {name}: size–quality curve (gzipped bytes before the first recommendation: model only)")
    head = "  ".join(f"{lab:>14}" for lab in labels)
    print(f"  {'published model':44} {'doc gz':>9} {'codes gz':>9} {'total':>9}  {head}")
    _print(base, base)
    for titles, dims, bits in variants:
        doc, shards = build(titles, dims, bits)
        m = client.parse(doc, "bench", shards.values())
        d, c = sizes_v4(doc)
        label = f"v4: {titles or 'all'} up front, {dims or 'all'} dims, {bits} bits ({len(shards)} shards)"
        row = Row(label, d, c, rows_of(m))
        out.append(row)
        _print(row, base)
    return out


def curve5(name, rows_of, base: Row, variants, build5, popular: list[str]) -> list[Row]:
    """Version-6 rows: the document up front plus the files of a visitor's rated titles
    (:data:`PAGE_LIKES` times the mean gzipped file of the popular half, which the page's
    visitor likes), and the figures through the candidate lists."""
    print(
        f"\n=== {name}: version 7 (per-title files with candidate lists and floors, names in blocks): "
        f"up front = document + "
        f"{PAGE_LIKES} rated titles' files"
    )
    _print(base, base)
    out = [base]
    for n, mu0 in variants:
        doc, files, blocks = build5(n, mu0 or None)
        m = client.parse(doc, "bench", title_files=files.values(), names=blocks.values())
        per = np.mean([_gz(publish.dumps(files[i])) for i in popular])
        raw = np.mean([len(publish.dumps(f)) for f in files.values()])
        names = sum(len(publish.dumps(b)) for b in blocks.values()) / len(files)
        print(f"  (v7, {n} candidates: a title file {raw:.0f} B raw, {per:.0f} B gz; name blocks {names:.0f} B/title)")
        label = f"v7: {n} candidates, kernel at {mu0 or 'both schedule ends'}"
        row = Row(label, _gz(publish.dumps(doc)), int(PAGE_LIKES * per), rows_of(m))
        out.append(row)
        _print(row, base)
    return out


def _print(row: Row, base: Row) -> None:
    figs = "  ".join(f"{v:.4f} ({v / b:.3f}×)" if b else f"{v:.4f}" for v, b in zip(row.figures, base.figures))
    print(f"  {row.label:44} {row.doc_gz / 1e3:8.1f}K {row.codes_gz / 1e3:8.1f}K {row.total / 1e3:8.1f}K  {figs}")


def anime(args) -> None:
    """The visitor's P@10 (12 likes, all likes) on anime-recdb, bench_quality's protocol."""
    from mangarec.config import Config, EvaluationSection
    from mangarec.evaluation import make_split
    from mangarec.evaluation.visitor import evaluate_visitor
    from mangarec.loaders import load_catalog
    from mangarec.models import als

    cat = load_catalog([str(shared_data_dir() / "anime-recdb")])
    seed = derive_seed(args.seed, "evaluate")
    split = make_split(cat.ratings, EvaluationSection(max_users=2000), seed)
    t = time.perf_counter()
    emb = als.fit(replace(cat, ratings=split.train), Config().models.als, derive_seed(args.seed, "model", "als"))
    print(
        f"anime-recdb: {len(cat)} titles, ALS {emb.dim} factors fitted on the training side "
        f"in {time.perf_counter() - t:.0f} s"
    )
    fold = emb.foldin
    kw = dict(reg=fold.reg, mode=fold.mode, alpha=fold.alpha, schedule=fold.schedule)

    def figures(model) -> tuple[float, ...]:
        v = evaluate_visitor(
            cat, split, emb, **kw, seed=derive_seed(seed, "visitor", "als"), like_counts=[12], model=model
        )
        return v.likes["12 likes"].precision.mean, v.likes["all likes"].precision.mean

    def build(titles, dims, bits):
        return compact.build_compact(
            cat, emb, **kw, build_date="bench", dims=dims, bits=bits, recommend_n=titles, shard_size=SHARD_SIZE
        )

    def build5(n, mu0):
        return lean.build_lean(cat, emb, **kw, build_date="bench", candidates=n, kernel_reg=mu0)

    labels = ("P@10 12 likes", "P@10 all likes")
    v = (variants_of(args.variants, "anime"), variants5_of(args.variants5, "anime"))
    both(args, "anime-recdb", cat, emb, dict(kw), figures, (build, build5), v, labels, 100_000, "als")


def mangadex(args) -> None:
    """A one-like visitor's franchise and matches recall@20, bench_content's protocol."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_content import SEED, Bench, K

    from mangarec.config import Config
    from mangarec.evaluation import content
    from mangarec.foldin import rank
    from mangarec.loaders import load_catalog
    from mangarec.models import fit_model

    cat = load_catalog([str(shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz")])
    config = Config()
    deps: dict = {}
    for name in ("series", "hybrid"):
        deps[name] = fit_model(name, cat, config, SEED, deps=deps)
    emb = deps["hybrid"]
    b = Bench(cat, 1000)
    rows = b.sample["test"][:1000]
    src, dst = b.links("test")
    keep = np.isin(src, rows)
    fold = emb.foldin
    print(f"\nMangaDex v3 SFW: {len(cat)} titles, hybrid profile {emb.dim} dims, {len(rows)} one-like visitors")

    def figures(model) -> tuple[float, ...]:
        pos = np.array([model.index[i] for i in cat.ids])
        inv = np.empty(len(model.ids), dtype=np.int64)
        inv[pos] = np.arange(len(cat))
        n = model.n_recommendable
        top = np.full((b.n, K), -1, dtype=np.int64)
        if model.lists is not None:  # version 6: the liked title's candidate list
            for i in rows:
                got = [cat.index[c] for c, _ in model.recommend({cat.ids[i]: "like"}, n=K)]
                top[i, : len(got)] = got
            return content.franchise_recall(top, src[keep], dst[keep]), content.matches_recall(top, b.lists, rows)
        for i in rows:
            x = model.fit({cat.ids[i]: "like"})
            r, _ = rank(model.vectors[:n], x, exclude=[pos[i]] if pos[i] < n else [], n=K)
            top[i, : len(r)] = inv[r]
        return content.franchise_recall(top, src[keep], dst[keep]), content.matches_recall(top, b.lists, rows)

    def build(titles, dims, bits):
        return compact.build_compact(
            cat,
            emb,
            reg=fold.reg,
            mode=fold.mode,
            build_date="bench",
            dims=dims,
            bits=bits,
            recommend_n=titles,
            shard_size=SHARD_SIZE,
        )

    def build5(n, mu0):
        return lean.build_lean(cat, emb, reg=fold.reg, mode=fold.mode, build_date="bench", candidates=n, kernel_reg=mu0)

    labels = ("franchise R@20", "matches R@20")
    kw = dict(reg=fold.reg, mode=fold.mode)
    v = (variants_of(args.variants_md, "mangadex"), variants5_of(args.variants5_md, "mangadex"))
    both(args, "MangaDex v3", cat, emb, kw, figures, (build, build5), v, labels, 150_000, "hybrid")


def variants5_of(text: str | None, dataset: str) -> list[tuple[int, float]]:
    if text is None:
        return VARIANTS5[dataset]
    return [(int(v.split(":")[0]), float(v.split(":")[1])) for v in text.split(",") if v]


def both(args, name, cat, emb, fold: dict, figures, builds, variants, labels, budget: int, model: str) -> None:
    """The curves beside the version-3 file, the verdict and (``--browser``) the page (``model``:
    the published model, whose declared candidates the page's form has by default)."""
    if args.page_only:
        browser(args, name, cat, emb, fold, budget, model)
        return
    base_doc = publish.build_payload(cat, emb, **fold, build_date="bench")
    rows = curve(name, figures, base_doc, variants[0], builds[0], labels) if variants[0] else []
    if not rows:
        rows = [
            Row("embeddings.json (version 3, today)", _gz(publish.dumps(base_doc)), 0, figures(client.parse(base_doc)))
        ]
    if variants[1]:
        order = np.argsort(cat.tie_order, kind="stable")
        popular = [cat.ids[k] for k in order[: len(order) // 2]]
        rows += curve5(name, figures, rows[0], variants[1], builds[1], popular)[1:]
    verdict(rows, budget)
    if args.browser:
        browser(args, name, cat, emb, fold, budget, model)


def verdict(rows: list[Row], budget: int) -> None:
    base = rows[0]
    ok = [r for r in rows[1:] if all(v >= 0.98 * b for v, b in zip(r.figures, base.figures))]
    if ok:
        best = min(ok, key=lambda r: r.total)
        print(
            f"  smallest variant within 0.98× on every figure: {best.label}: {best.total / 1e3:.1f} KB gz "
            f"(model only; page budget {budget / 1e3:.0f} KB with the page's HTML, CSS and JS)"
        )
    else:
        print("  no variant keeps every figure within 0.98× of the version-3 file")


# ---------- the page in Chromium ----------


def baseline_site(site: Path, ref: str, tmp: Path) -> Path:
    """``site`` with today's page: the site's ES modules (``assets/js.<hash>/``, one tree) from git
    ``ref`` under the same names (everything else linked, not copied). ``ref`` must have the
    modules (a ref before them had classic scripts that this page shell no longer loads)."""
    out = tmp / "baseline"
    (out / "assets").mkdir(parents=True)
    for p in site.iterdir():
        if p.name != "assets":
            (out / p.name).symlink_to(p)
    trees = [p for p in (site / "assets").iterdir() if p.name.startswith("js.") and p.is_dir()]
    assert len(trees) == 1, trees
    for p in (site / "assets").iterdir():
        if p != trees[0]:
            (out / "assets" / p.name).symlink_to(p)
    names = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", ref, "site_src/static/js/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    js = out / "assets" / trees[0].name
    js.mkdir()
    for name in names:
        if name.endswith(".js"):
            old = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{name}"], check=True, capture_output=True)
            (js / Path(name).name).write_bytes(old.stdout)
    if b"export " not in (js / "taste.js").read_bytes():
        raise SystemExit(f"error: --baseline-ref {ref} predates the ES modules (pick a later ref)")
    return out


def _server(directory: Path):
    """The site with gzip: a file's ``.gz`` twin when it has one, else text gzipped on the fly
    (level 6, what static hosts do)."""
    import http.server

    from mangarec.site.serve import SiteHandler, make_server

    srv = make_server(directory, port=0)
    text = (".html", ".css", ".js", ".json", ".svg", ".txt", ".bin")

    class Gzip(SiteHandler):
        def send_head(self):
            path = self.translate_path(self.path)
            if Path(path).is_dir():
                path = str(Path(path) / "index.html")
            if (
                path.endswith(text)
                and Path(path).is_file()
                and not Path(path + ".gz").is_file()
                and "gzip" in self.headers.get("Accept-Encoding", "")
            ):
                body = gzip.compress(Path(path).read_bytes(), 6, mtime=0)
                self.send_response(200)
                self.send_header("Content-Type", self.guess_type(path))
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                import io

                return io.BytesIO(body)
            return super().send_head()

    srv.RequestHandlerClass = functools.partial(Gzip, directory=str(directory), base_path="/")  # type: ignore[assignment]
    assert isinstance(srv, http.server.HTTPServer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


PROBE = """
window.__firstRec = null;
new MutationObserver(function (muts, obs) {
  if (window.__firstRec === null && document.querySelector('#recs-list > li')) {
    window.__firstRec = performance.now();
    obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
try { localStorage.setItem('mangarec.ratings.v1', %s); } catch (e) {}
"""


def visit(site: Path, likes: dict[str, str]) -> dict:
    """One cold visit of ``site``'s For-you page under fast 3G with ``likes`` stored."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from conftest import CHROMEDRIVER, chrome_options
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    srv = _server(site)
    prof = Path(tempfile.mkdtemp())
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chrome_options(prof))
    try:
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        d.execute_cdp_cmd("Network.emulateNetworkConditions", FAST_3G)
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE % json.dumps(json.dumps(likes))})
        d.get(f"http://127.0.0.1:{srv.server_address[1]}/foryou/")
        end = time.time() + 180
        while not d.execute_script("return window.__firstRec !== null"):
            if time.time() > end:
                raise RuntimeError(f"no recommendation within 180 s on {site}")
            time.sleep(0.05)
        first = d.execute_script("return window.__firstRec")
        res = d.execute_script(
            "const nav = performance.getEntriesByType('navigation')[0];"
            "const all = [nav].concat(performance.getEntriesByType('resource'));"
            "return all.map(e => [e.name, e.transferSize, e.responseEnd, e.startTime]);"
        )
    finally:
        d.quit()
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(prof, ignore_errors=True)
    before = [r for r in res if r[2] <= first]
    return {
        "bytes": sum(r[1] for r in before),
        "files": len(before),
        "first_s": first / 1000,
        "embeddings": sum(r[1] for r in before if "/data/embeddings" in r[0] or "/data/taste/" in r[0]),
        "nb": sum(1 for r in before if "/data/nb/" in r[0]),
    }


def shell_site(tmp: Path) -> Path:
    """The bundled catalog's site (``run_build``, stage cache under ``.cache``): the For-you page
    shell (HTML, CSS, scripts, neighbour shards) the dataset's files are dropped into."""
    from mangarec.config import load_config
    from mangarec.paths import DEFAULT_CATALOG, DEFAULT_CONFIG
    from mangarec.pipeline import run_build

    out = tmp / "shell"
    out.mkdir()
    run_build(
        [str(DEFAULT_CATALOG)], out, load_config(DEFAULT_CONFIG), cache_dir=ROOT / ".cache", quiet=True, force=True
    )
    return out


def dataset_site(shell: Path, tmp: Path, name: str, cat, emb, fold: dict, opts: compact.CompactOptions) -> Path:
    """``shell`` with the dataset's published files (the full version-3 file, the compact form
    with ``opts``, the names file) in ``data/``; everything else linked."""
    out = tmp / name
    out.mkdir()
    for p in shell.iterdir():
        if p.name != "data":
            (out / p.name).symlink_to(p)
    (out / "data").mkdir()
    for p in (shell / "data").iterdir():
        if not p.name.startswith("embeddings") and p.name != "taste":
            (out / "data" / p.name).symlink_to(p)
    published.write_published(out, cat, emb, build_date="bench", top_n=2000, compact=opts, **fold)
    return out


def likes_for(site: Path, n: int = 12, seed: int = 7) -> dict[str, str]:
    """``n`` titles of the popular half, a fixed-seed sample (the visitor's likes)."""
    titles = json.loads((site / "data" / "embeddings-titles.json").read_text())["ids"]
    pool = titles[: max(n, len(titles) // 2)]
    g = np.random.default_rng(seed)
    return {pool[k]: "like" for k in sorted(g.choice(len(pool), size=n, replace=False))}


def browser(args, name: str, cat, emb, fold: dict, budget: int, model: str) -> None:
    """For-you of ``name``'s published files in the bundled site's shell, before and after."""
    print(
        f"\n=== For-you in Chromium, {name}: fast 3G (1.6 Mbit/s, 150 ms), 12 likes stored, cold cache, "
        f"median of {args.repeat}"
    )
    print(
        "  (the page shell and the neighbour shards are the bundled catalog's: today's page fetches a "
        "real site's larger shards, so 'before' is understated)"
    )
    print(
        f"  {'page':34} {'KB before 1st rec':>18} {'files':>6} {'embeddings KB':>14} "
        f"{'nb shards':>10} {'1st rec s':>10}"
    )
    from mangarec.config import PublishSection

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        shell = shell_site(t)
        opts = compact.CompactOptions.of(PublishSection(compact_candidates=args.candidates), model)
        site = dataset_site(shell, t, name.split()[0], cat, emb, fold, opts)
        likes = likes_for(site)
        before = baseline_site(site, args.baseline_ref, t)
        rows = {}
        for label, root in (
            (f"before ({args.baseline_ref}'s scripts, v3)", before),
            ("after (this checkout)", site),
        ):
            runs = [visit(root, likes) for _ in range(args.repeat)]
            med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
            rows[label] = med
            print(
                f"  {label:34} {med['bytes'] / 1e3:18.1f} {med['files']:6.0f} "
                f"{med['embeddings'] / 1e3:14.1f} {med['nb']:10.0f} {med['first_s']:10.2f}"
            )
        after = rows["after (this checkout)"]
        print(
            f"  {name}: {after['bytes'] / 1e3:.1f} KB ≤ {budget / 1e3:.0f} KB: "
            f"{'PASS' if after['bytes'] <= budget else 'FAIL'}; first recommendation {after['first_s']:.2f} s < 2 s: "
            f"{'PASS' if after['first_s'] < 2.0 else 'FAIL'}"
        )


def site_sizes(args) -> None:
    """What the default form costs the site per title beside version 4 (``compact_candidates = 0``,
    the default before), built in this process with one stage cache per catalog: the bundled
    catalog (its first 300 titles and all 609: all in, and what one more title adds) and the first
    ``--site-limit`` MangaDex v3 SFW titles with UUID ids (``bench_site_size.py --uuid``'s slice)."""
    import io
    import os
    import shutil

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_site_size import write_slices

    from mangarec import pipeline
    from mangarec.config import Config
    from mangarec.paths import DEFAULT_CATALOG
    from mangarec.progress import StageLog

    print(f"\n=== the site per title: version 4 (today's default) beside version 7; load {os.getloadavg()[0]:.1f}")
    print(f"  {'catalog':40} {'form':>26} {'titles':>7} {'all in B/title':>15} {'one more title':>15}")
    work = Path(tempfile.mkdtemp(prefix="mangarec-foryou-site-"))
    try:
        md = shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz"
        uuid = write_slices(md, args.site_limit, work)["UUID ids"]
        for label, source in (
            ("bundled catalog", f"generic:{DEFAULT_CATALOG}"),
            (f"MangaDex {args.site_limit:,}, UUID ids", f"generic:{uuid}"),
        ):
            cache = work / f"cache-{len(label)}"
            for form, n in (("version 4 (candidates 0)", 0), ("version 7 (model's count)", -1)):
                base = Config()
                config = replace(base, publish=replace(base.publish, compact_candidates=n))
                sizes = []
                for limit in (None, "half"):
                    out = work / "site"
                    shutil.rmtree(out, ignore_errors=True)
                    lim = None if limit is None else sizes[0][0] // 2
                    r = pipeline.run_build(
                        [source], out, config, limit=lim, cache_dir=cache, log=StageLog(stream=io.StringIO())
                    )
                    assert r is not None
                    sizes.append((len(r.catalog), pipeline.site_size(out)[0]))
                (n1, b1), (n2, b2) = sizes
                print(f"  {label:40} {form:>26} {n1:>7} {b1 / n1:>15,.0f} {(b1 - b2) / (n1 - n2):>15,.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="anime,mangadex", help="curves to print ('' for none)")
    ap.add_argument("--variants", help="anime variants T:D:B,... (titles up front, dims, bits)")
    ap.add_argument("--variants-md", help="MangaDex variants T:D:B,...")
    ap.add_argument("--variants5", help="anime version-6 variants N:MU0,... (candidates, kernel λ; '' for none)")
    ap.add_argument("--variants5-md", help="MangaDex version-6 variants N:MU0,...")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--browser", action="store_true", help="also measure the For-you page in Chromium")
    ap.add_argument("--baseline-ref", default="main", help="git ref whose scripts are today's page")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--page-only", action="store_true", help="only the page (--browser), no curve")
    ap.add_argument("--site", action="store_true", help="also the site's bytes per title, version 4 beside 7")
    ap.add_argument("--site-limit", type=int, default=5000, help="titles of the UUID slice (--site)")
    ap.add_argument(
        "--candidates",
        type=int,
        default=-1,
        help="the page's published form: version 7 with N (-1: the model's declared count, the default; 0: version 4)",
    )
    args = ap.parse_args()
    todo = [d for d in args.datasets.split(",") if d]
    if args.page_only:
        args.browser = True
    if "anime" in todo:
        anime(args)
    if "mangadex" in todo:
        mangadex(args)
    if args.site:
        site_sizes(args)
    print("\n(The machine may be loaded: the figures above compare rows of this one run.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
