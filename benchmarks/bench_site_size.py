#!/usr/bin/env python3
"""What the site costs the host per title (issue 18: ≤ 10 KB all in, so 100k titles fit GitHub
Pages' 1 GB), on a slice of the real MangaDex v3 SFW catalog.

    python benchmarks/bench_site_size.py                # the first 5,000 titles
    python benchmarks/bench_site_size.py --limit 10000
    python benchmarks/bench_site_size.py --limit 0      # the whole catalog (37,285 titles)
    python benchmarks/bench_site_size.py --uuid         # the cost of a live catalog's UUID ids

Builds, in this process and with one stage cache (so the second and third builds only render):
the slice with the default configuration; its first half (what one more title adds is the
difference of the two, the *marginal* cost); and the baseline beside them, the slice with the
neighbour CSV tables on (``site.csv_neighbours = 10``, the default before they became
optional). Bytes are counted as the host counts them (:func:`mangarec.pipeline.site_size`).

Prints per build: bytes, files and bytes per title *all in* (fixed assets such as plotly.js
included); the marginal cost; what each part of the site costs per title; and the extrapolation
to 100,000 titles (fixed assets + 100k × marginal) against GitHub Pages' 1 GB. Beside them, the
figures main printed before the lean shards on the same 5,000-title slice (recorded, since that
code is gone): 14.41 KB all in (72.0 MB in 5,452 files), title pages 9.01 KB, explore shards
2.75 KB, CSV tables 0.71 KB per title.

``--uuid``: what a live catalog's ids cost. The v3 dump's ids are short integers (≤ 5
characters); MangaDex v5 ids are UUIDs (36). The slice is written twice in the generic format
(:func:`mangarec.catalog.item_record`), once with its own ids and once with seeded UUIDs
(:func:`uuid_of`, ``related`` links, reference ``matches`` and the title's MangaDex URL
rewritten consistently), and each is built whole and halved in this process: bytes per title
all in, per added title and per part, UUID beside short ids. With ``--baseline REF`` (e.g.
``main``) the same slices are also built by the code of the git revision ``REF`` (its tree
extracted with ``git archive``, built in a child process with the same data, each with its own
stage cache), and every figure is printed beside that baseline's in the same run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mangarec import pipeline  # noqa: E402
from mangarec.catalog import item_record  # noqa: E402
from mangarec.config import Config  # noqa: E402
from mangarec.loaders import load_catalog  # noqa: E402
from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.progress import StageLog  # noqa: E402

#: GitHub Pages' limit on a published site, and the titles the goal is set for.
HOST_LIMIT, GOAL_TITLES = 1_000_000_000, 100_000
#: Recorded on main before the lean shards (same 5,000-title slice, 2026-12-07): all in, and
#: per part (bytes per title).
BEFORE = {"all in": 14_407, "title pages": 9_008, "explore shards": 2_753, "CSV tables": 710}


def part(rel: str) -> str:
    """The part of the site a published file belongs to."""
    first, _, rest = rel.partition("/")
    if first == "title":
        return "title pages"
    if first == "data":
        sub = rest.split("/")[0]
        return {
            "nb": "explore shards",
            "maps": "dictionaries + maps",
            "search": "search index",
            "neighbours": "CSV tables",
        }.get(sub, "embeddings + report")
    if first == "assets":
        return "fixed assets (js, css)"
    return "other pages, sitemap"


def breakdown(root: Path) -> Counter:
    out: Counter = Counter()
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith("."):
                p = Path(dirpath, name)
                out[part(p.relative_to(root).as_posix())] += p.stat().st_size
    return out


def cache_entry_bytes(root: Path, members: list[str] | None = None) -> int | None:
    """Bytes of ``root`` (or of its ``members``) as an ``actions/cache`` entry (the workflow caches
    the previous site and the stage cache): a tar, hidden files included, through ``zstd -T0
    --long=30`` as the action packs it. ``None`` without ``tar`` or ``zstd``."""
    if not (shutil.which("tar") and shutil.which("zstd")):
        return None
    where, names = (root, members) if members is not None else (root.parent, [root.name])
    tar = subprocess.Popen(["tar", "--posix", "-cf", "-", "-C", str(where), *names], stdout=subprocess.PIPE)
    zstd = subprocess.run(["zstd", "-T0", "--long=30", "-q", "-c"], stdin=tar.stdout, capture_output=True, check=True)
    assert tar.wait() == 0
    return len(zstd.stdout)


def build(
    data: Path, out: Path, cache: Path, config: Config, limit: int | None, fmt: str = "mangadex-v3"
) -> tuple[int, float]:
    t0 = time.perf_counter()
    result = pipeline.run_build(
        [f"{fmt}:{data}"], out, config, limit=limit, cache_dir=cache, log=StageLog(stream=io.StringIO())
    )
    assert result is not None
    return len(result.catalog), time.perf_counter() - t0


#: The namespace of the benchmark's seeded UUIDs (a uuid5 of the project's name).
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mangarec.invalid/bench_site_size")


def uuid_of(item_id: str) -> str:
    """The seeded UUID standing in for the v3 id ``item_id`` (36 characters, like MangaDex v5's)."""
    return str(uuid.uuid5(UUID_NAMESPACE, item_id))


def write_slices(data: Path, limit: int | None, work: Path) -> dict[str, Path]:
    """The SFW slice as generic JSONL twice: ``{"short ids": …, "UUID ids": …}``; the UUID copy has
    every id, ``related`` link, reference match and MangaDex URL rewritten with :func:`uuid_of`."""
    catalog = load_catalog([f"mangadex-v3:{data}"], limit=limit)
    short, long = work / "short.jsonl", work / "uuid.jsonl"
    with short.open("w", encoding="utf-8") as fs, long.open("w", encoding="utf-8") as fl:
        for item in catalog.items:
            rec = item_record(item)
            fs.write(json.dumps(rec, ensure_ascii=False) + "\n")
            rec["id"] = uuid_of(item.id)
            rec["url"] = f"https://mangadex.org/title/{rec['id']}"
            rec["related"] = [{**r, "id": uuid_of(r["id"])} for r in rec["related"]]
            if "matches" in rec:
                rec["matches"] = [uuid_of(m) for m in rec["matches"]]
            fl.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return {"short ids": short, "UUID ids": long}


#: Builds the slices with the code of the tree the child runs in (``--baseline``): argv[1] is a JSON
#: list of ``[jsonl path, output folder, limit]`` and argv[2] the stage cache; prints, per build, its
#: titles and seconds as JSON. It uses only ``pipeline.run_build``, so it runs on older revisions.
BASELINE_DRIVER = """
import io, json, sys, time
from mangarec import pipeline
from mangarec.config import Config
from mangarec.progress import StageLog
out = []
for path, folder, limit in json.loads(sys.argv[1]):
    t0 = time.perf_counter()
    r = pipeline.run_build([f"generic:{path}"], folder, Config(), limit=limit, cache_dir=sys.argv[2],
                           log=StageLog(stream=io.StringIO()))
    out.append([len(r.catalog), time.perf_counter() - t0])
print(json.dumps(out))
"""


def baseline_tree(ref: str, work: Path) -> Path:
    """The source tree of the git revision ``ref`` of this checkout, extracted under ``work``."""
    tree = work / "baseline-src"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True)
    if archive.returncode != 0:
        why = archive.stderr.decode(errors="replace").strip().splitlines()[:1]
        print(f"error: --baseline {ref}: not a revision of this checkout ({' '.join(why)})", file=sys.stderr)
        sys.exit(2)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def build_pair(files: dict[str, Path], work: Path, tree: Path | None) -> dict[str, tuple]:
    """Each slice built whole and cut to its first half into ``work``: ``{label: (titles, half,
    bytes, files, bytes per added title, seconds)}``; by this checkout's code in this process, or
    (``tree``) by the code of that tree in a child process."""
    cache, folders = work / "cache", {label: work / label.split()[0].lower() for label in files}
    if tree is None:
        built = {}
        for label, path in files.items():
            n, sec = build(path, folders[label], cache, Config(), None, "generic")
            built[label] = (n, sec, build(path, Path(f"{folders[label]}-half"), cache, Config(), n // 2, "generic")[0])
    else:
        n_of = {label: sum(1 for _ in path.open(encoding="utf-8")) for label, path in files.items()}
        jobs = []
        for label, path in files.items():
            jobs += [[str(path), str(folders[label]), None], [str(path), f"{folders[label]}-half", n_of[label] // 2]]
        env = {**os.environ, "PYTHONPATH": str(tree), "MANGAREC_SHARED_DATA": str(shared_data_dir())}
        child = subprocess.run(
            [sys.executable, "-c", BASELINE_DRIVER, json.dumps(jobs), str(cache)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            sys.exit(f"error: the baseline build failed: {child.stderr.strip().splitlines()[-1:]}")
        runs = iter(json.loads(child.stdout.strip().splitlines()[-1]))
        built = {}
        for label in files:
            (n, sec), (half, _) = next(runs), next(runs)
            built[label] = (n, sec, half)
    rows = {}
    for label, (n, sec, half) in built.items():
        (b, f), (bh, _) = pipeline.site_size(folders[label]), pipeline.site_size(Path(f"{folders[label]}-half"))
        rows[label] = (n, half, b, f, (b - bh) / (n - half), sec)
    return rows


def compare_ids(data: Path, limit: int | None, work: Path, baseline: str | None = None) -> None:
    """Print what UUID ids cost beside short ids (``--uuid``), and beside the same figures of the
    code of ``baseline`` (a git revision) when given."""
    runs: dict[str, tuple[Path, Path | None]] = {"": (work / "this", None)}
    if baseline is not None:  # first: a wrong revision is said before any build
        runs[f" ({baseline})"] = (work / "base", baseline_tree(baseline, work))
    files = write_slices(data, limit, work)
    rows, parts = {}, {}
    for tag, (folder, tree) in runs.items():
        folder.mkdir()
        for label, row in build_pair(files, folder, tree).items():
            rows[label + tag] = row
            parts[label + tag] = breakdown(folder / label.split()[0].lower())
    n, half = rows["short ids"][:2]
    print(f"MangaDex v3 SFW, {n} titles (and {half}), ids as given and as UUIDs; machine load {os.getloadavg()[0]:.2f}")
    if baseline is not None:
        print(f"beside the baseline: the same slices built by the code of {baseline} (git archive, a child process)")
    print(f"{'':34}{'bytes':>14}{'files':>8}{'all in':>10}{'one more':>10}   (bytes per title)")
    for label, (n, _, b, f, marginal, sec) in rows.items():
        print(f"{label:34}{b:>14,}{f:>8}{b / n:>10,.0f}{marginal:>10,.0f}   built cold in {sec:.0f} s")
    for tag in runs:
        (_, _, bs, _, ms, _), (_, _, bu, _, mu, _) = rows["short ids" + tag], rows["UUID ids" + tag]
        print(f"{'UUID ids cost' + tag:34}{bu - bs:>14,}{'':>8}{(bu - bs) / n:>10,.0f}{mu - ms:>10,.0f}")
    names = list(parts)
    print("per part (bytes per title: " + ", ".join(names) + (", UUID ids minus baseline" if baseline else "") + "):")
    uuid_parts = parts["UUID ids"]
    for name in sorted(set().union(*parts.values()), key=lambda k: -uuid_parts[k]):
        cols = "".join(f"{parts[label][name] / n:>10,.0f}" for label in names)
        diff = f"{(uuid_parts[name] - parts[f'UUID ids ({baseline})'][name]) / n:>+10,.0f}" if baseline else ""
        print(f"    {name:30}{cols}{diff}")
    for tag, (folder, _) in runs.items():
        for label in files:
            entry = cache_entry_bytes(folder / label.split()[0].lower())
            if entry is not None:
                print(
                    f"{label + tag} as an actions/cache entry (tar + zstd): {entry:,} bytes, {entry / n:,.0f} per title"
                )
    at_goal = {}
    for label, (n, _, b, _, marginal, _) in rows.items():
        at_goal[label] = b - marginal * n + marginal * GOAL_TITLES
        per = at_goal[label] / GOAL_TITLES
        print(f"{label} at {GOAL_TITLES:,} titles: {at_goal[label] / 1e9:.3f} GB ({per:,.0f} bytes per title all in)")
    for tag in runs:
        at_n, at_100k = rows["UUID ids" + tag][2] / n, at_goal["UUID ids" + tag] / GOAL_TITLES
        print(
            f"goal <= 10,000 bytes per title all in, with UUID ids{tag}: {'met' if at_n <= 10_000 else 'MISSED'} at "
            f"{n:,} titles ({at_n:,.0f}), {'met' if at_100k <= 10_000 else 'MISSED'} at {GOAL_TITLES:,} "
            f"({at_100k:,.0f}: {'under' if at_goal['UUID ids' + tag] <= HOST_LIMIT else 'OVER'} the host's "
            f"{HOST_LIMIT / 1e9:.0f} GB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz")
    ap.add_argument("--limit", type=int, default=5000, help="titles of the slice (0: the whole catalog)")
    ap.add_argument("--uuid", action="store_true", help="compare the slice's own ids with UUIDs (a live catalog's)")
    ap.add_argument("--baseline", metavar="REF", help="with --uuid: also build with the code of git revision REF")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"error: {args.data} not found (the MangaDex v3 dump of ../shared/data)")
    limit = args.limit or None
    work = Path(tempfile.mkdtemp(prefix="mangarec-size-"))
    try:
        if args.uuid:
            compare_ids(args.data, limit, work, args.baseline)
            return
        cache = work / "cache"
        default = Config()
        tables = replace(default, site=replace(default.site, csv_neighbours=10))
        n, sec = build(args.data, work / "whole", cache, default, limit)
        # the stage cache of this one build, as the workflow caches it (its entries and pointers)
        stages = cache_entry_bytes(
            cache, sorted(p.name for p in cache.iterdir() if len(p.name) == 2 or p.name == "pointers")
        )
        half, sec_half = build(args.data, work / "half", cache, default, n // 2)
        _, sec_tables = build(args.data, work / "tables", cache, tables, limit)
        print(f"MangaDex v3 SFW, {n} titles (and {half}), machine load {os.getloadavg()[0]:.2f}")
        print(f"builds: {sec:.0f} s cold, {sec_half:.0f} s and {sec_tables:.0f} s rendering from the cache")
        sizes = {k: pipeline.site_size(work / k) for k in ("whole", "half", "tables")}
        (b, f), (bh, _), (bt, ft) = sizes["whole"], sizes["half"], sizes["tables"]
        marginal = (b - bh) / (n - half)
        fixed = b - marginal * n
        at_goal = fixed + marginal * GOAL_TITLES
        print(f"{'':34}{'bytes':>14}{'files':>8}{'per title':>12}")
        print(f"{'site (default)':34}{b:>14,}{f:>8}{b / n:>12,.0f}   all in (main before: {BEFORE['all in']:,})")
        print(f"{'baseline: with CSV tables':34}{bt:>14,}{ft:>8}{bt / n:>12,.0f}   all in")
        print(f"{'what one more title adds':34}{'':>14}{'':>8}{marginal:>12,.0f}   (difference of {n} and {half})")
        print(f"{'fixed part (all in - marginal)':34}{fixed:>14,.0f}")
        print("per part (bytes per title of the default site; main before in brackets):")
        for name, size in sorted(breakdown(work / "whole").items(), key=lambda x: -x[1]):
            before = f"  ({BEFORE[name]:,})" if name in BEFORE else ""
            print(f"    {name:30}{size / n:>10,.0f}{before}")
        print(f"    {'CSV tables (baseline build)':30}{breakdown(work / 'tables')['CSV tables'] / n:>10,.0f}")
        entry = cache_entry_bytes(work / "whole")
        if entry is not None and stages is not None:
            print(f"as an actions/cache entry (tar + zstd): {entry:,} bytes, {entry / n:,.0f} per title")
            print(f"the stage cache of the first build as an entry: {stages:,} bytes, {stages / n:,.0f} per title")
        ok = at_goal <= HOST_LIMIT and b / n <= 10_000
        print(
            f"at {GOAL_TITLES:,} titles: {at_goal / 1e9:.3f} GB ({at_goal / GOAL_TITLES:,.0f} bytes per title all in) "
            f"vs the host's {HOST_LIMIT / 1e9:.0f} GB; goal <= 10,000 bytes per title: {'met' if ok else 'MISSED'}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
