#!/usr/bin/env python3
"""The nightly rebuild: a cold build, then the night after 1 % of the titles changed.

    python benchmarks/bench_nightly.py                     # full MangaDex v3 catalog
    python benchmarks/bench_nightly.py --maps --limit 10000   # a warm-started map vs a cold one
    python benchmarks/bench_nightly.py --limit 5000        # quicker
    python benchmarks/bench_nightly.py --night-data mangadex-v3:/path/of/the/refreshed/catalog
    python benchmarks/bench_nightly.py --warm-night         # + the warm night ([night] warm = true)
    python benchmarks/bench_nightly.py --cold-only          # the cold build and its longest stages

Both builds read a temporary copy of the input (uncompressed, so neither pays for xz) and share
one stage cache, as a CI job that restores its cache does. The night's input is the same copy
with ``--changed`` (default 1 %) of the titles edited: half get a sentence appended to their
description, half lose or gain a tag (seeded). **Hook**: a fetch of the live API (the fake-API
night of the rehearsal test) plugs in as ``--night-data``, a data spec the night builds
instead of the edited copy (:func:`night_input` is the one place that chooses).

Prints, beside the cold build of the same run: wall time and peak memory (max RSS of the
build process) of each, the night's ratio to the cold build (goal ≤ 0.4), which stages the
night recomputed, the site's bytes per title (goal ≤ 10 KB) and its file count.

With ``--warm-night`` the cold build runs with ``[night] warm = true`` (it records what the next
night starts from), the default night runs on a copy of its site and cache, and the **warm
night** (:mod:`mangarec.night`) runs on the originals: its wall time and ratio, and for each
model the agreement of its lists with the default night's, which equal a cold build of the
night's data (mean top-10 overlap = recall@10 of the cold lists), and of its placed maps with
the cold night's (trustworthiness, neighbours kept @10).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_build import run, stage_lines  # noqa: E402

from mangarec.paths import shared_data_dir  # noqa: E402
from mangarec.pipeline import site_size  # noqa: E402 (bytes as GitHub Pages counts them)
from mangarec.seeds import rng  # noqa: E402

#: Tags a changed title may gain (MangaDex v3 genre names).
EXTRA_TAGS = ("Drama", "Comedy", "Mystery", "Romance")


def copy_input(src: Path, dest: Path) -> int:
    """``src`` (``.jsonl`` or ``.jsonl.xz``) decompressed to ``dest``; returns the line count."""
    opener = lzma.open if src.suffix == ".xz" else open
    n = 0
    with opener(src, "rt", encoding="utf-8") as f, open(dest, "w", encoding="utf-8") as out:
        for line in f:
            out.write(line)
            n += 1
    return n


def change_titles(src: Path, dest: Path, share: float, seed: int, limit: int | None = None) -> int:
    """``src`` with ``share`` of its records (of the first ``limit``) changed (descriptions and
    tags, alternately) → ``dest``; returns how many."""
    lines = src.read_text(encoding="utf-8").rstrip("\n").split("\n")
    n = min(len(lines), limit or len(lines))
    g = rng(seed, "bench-nightly")
    picked = set(g.choice(n, size=max(1, round(share * n)), replace=False).tolist())
    out = []
    for k, line in enumerate(lines):
        if k in picked and line.strip():
            r = json.loads(line)
            if k % 2:
                r["description"] = (r.get("description") or "") + " Tonight's update adds a new arc."
            else:
                genre = list(r.get("genre") or [])
                extra = next((t for t in EXTRA_TAGS if t not in genre), None)
                r["genre"] = genre[1:] if genre and extra is None else genre + [extra]
            line = json.dumps(r, ensure_ascii=False)
        out.append(line)
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(picked)


def night_input(args: argparse.Namespace, work: Path, base: Path) -> tuple[str, str]:
    """The night's data spec and a description of it: ``--night-data`` (e.g. the catalog store
    after a fetch from the fake API) or the base copy with ``--changed`` of its titles edited."""
    if args.night_data:
        return args.night_data, f"--night-data {args.night_data}"
    night = work / "night.jsonl"
    n = change_titles(base, night, args.changed, args.seed, args.limit)
    return f"{args.format}:{night}", f"{n} titles changed ({args.changed:.1%}: descriptions and tags)"


def titles_built(stderr: str) -> int:
    """The title count from the build's last line (``built <out>: N titles, ...``)."""
    for line in stderr.splitlines():
        if line.startswith("built "):
            return int(line.split(": ", 1)[1].split(" titles", 1)[0].replace(",", ""))
    raise SystemExit("the build did not say how many titles it built")


def save_log(log_dir: Path | None, name: str, text: str) -> None:
    """Keep a build's stderr (its stage timings) as ``log_dir/name`` when ``--log-dir`` is given."""
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / name).write_text(text, encoding="utf-8")


def embeddings_line(stderr: str) -> str:
    """write:embeddings' own time and how many titles' candidate lists it kept from the last
    build (version 7's taste files; the build's note), from a build's stderr."""
    sec = dict(stage_lines(stderr)).get("write:embeddings")
    kept = next((ln.split(": ", 2)[2] for ln in stderr.splitlines() if ln.startswith("note: write:embeddings:")), None)
    when = f"{sec:.2f} s" if sec is not None else "not run"
    return f"    write:embeddings {when}; {kept or 'no candidate lists kept from the last build'}"


def _knn(x: np.ndarray, k: int, metric: str) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(x).kneighbors(x, return_distance=False)[:, 1:]


def map_quality(vectors: np.ndarray, xy: np.ndarray, sample: np.ndarray, k: int = 10) -> tuple[float, float]:
    """``(trustworthiness, neighbour preservation)`` of a 2-D map of ``vectors`` on the rows
    ``sample``: sklearn's trustworthiness (cosine in the embedding) and the mean share of each
    row's ``k`` nearest rows in the embedding that are among its ``k`` nearest on the map."""
    from sklearn.manifold import trustworthiness

    x, y = vectors[sample], xy[sample]
    t = trustworthiness(x, y, n_neighbors=k, metric="cosine")
    a, b = _knn(x, k, "cosine"), _knn(y, k, "euclidean")
    return float(t), float(np.mean([len(set(r) & set(q)) / k for r, q in zip(a, b)]))


def cached_map_quality(cache_dir: Path, seed: int) -> dict[str, tuple[float, float]]:
    """``{model: (trustworthiness, neighbours kept @10)}`` of the maps the last build left in
    the stage cache (its pointers ``map-<model>``, written with ``umap.warm_epochs`` > 0), each
    against the embedding it was drawn from (pointer ``neighbours-<model>``)."""
    from mangarec.cache import Cache
    from mangarec.embedding import Embedding, Map

    cache = Cache(cache_dir)
    out = {}
    for p in sorted((cache_dir / "pointers").glob("map-*.json")):
        name = p.stem[len("map-") :]
        m = cache.get(str((cache.pointer(p.stem) or {}).get("key")))
        e = cache.get(str((cache.pointer(f"neighbours-{name}") or {}).get("model")))
        if isinstance(m, Map) and isinstance(e, Embedding):
            n = len(e.item_ids)
            sample = rng(seed, "bench-nightly-sample").choice(n, size=min(3000, n), replace=False)
            vectors = np.asarray(e.vectors, dtype=np.float64)
            out[name] = map_quality(vectors, np.asarray(m.xy, dtype=np.float64), sample)
    return out


def compare_maps(args: argparse.Namespace, work: Path, base: Path) -> None:
    """The warm-started map against a cold one, for one model, after the night's changes:
    time, trustworthiness and neighbour preservation of each (``--maps``)."""
    from dataclasses import replace

    from mangarec.config import Config
    from mangarec.loaders import load_catalog
    from mangarec.models import fit_model
    from mangarec.models.umap_map import fit_map

    night = work / "night.jsonl"
    change_titles(base, night, args.changed, args.seed, args.limit)
    config = Config()
    day = load_catalog([f"{args.format}:{base}"], limit=args.limit)
    nxt = load_catalog([f"{args.format}:{night}"], limit=args.limit)
    prev = fit_map(fit_model(args.model, day, config, 0), config.umap, 1)
    emb = fit_model(args.model, nxt, config, 0)
    vectors = np.asarray(emb.vectors, dtype=np.float64)
    sample = rng(args.seed, "bench-nightly-sample").choice(len(nxt), size=min(3000, len(nxt)), replace=False)
    print(
        f"maps of {args.model} on {len(nxt)} titles, the night after {args.changed:.1%} changed "
        f"(quality on {len(sample)})"
    )
    for label, epochs in (("cold (UMAP default epochs)", 0), *((f"warm, {e} epochs", e) for e in args.warm_epochs)):
        umap = replace(config.umap, warm_epochs=epochs)
        t0 = time.perf_counter()
        m = fit_map(emb, umap, 1, previous=prev if epochs else None)
        dt = time.perf_counter() - t0
        t, keep = map_quality(vectors, np.asarray(m.xy, dtype=np.float64), sample)
        print(f"    {label:<28} {dt:7.1f} s   trustworthiness {t:.4f}   neighbours kept @10 {keep:.4f}")


def pointed(cache_dir: Path, pointer: str) -> object:
    """What the stage cache's pointer ``pointer`` names under ``key`` (``None``: nothing)."""
    from mangarec.cache import Cache

    cache = Cache(cache_dir)
    return cache.get(str((cache.pointer(pointer) or {}).get("key")))


def list_agreement(warm_cache: Path, cold_cache: Path, names: list[str], k: int = 10) -> dict[str, float]:
    """``{model: mean top-k overlap}`` of the warm night's lists with the cold night's (each
    list's share of the cold top-k it holds: recall@k of the cold lists)."""
    from mangarec.embedding import Neighbours

    out = {}
    for name in names:
        w, c = pointed(warm_cache, f"neighbours-{name}"), pointed(cold_cache, f"neighbours-{name}")
        if isinstance(w, Neighbours) and isinstance(c, Neighbours) and w.item_ids == c.item_ids:
            out[name] = float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(w.indices, c.indices)]))
    return out


def warm_night(
    args: argparse.Namespace, work: Path, spec: str, env: dict[str, str], cold: float, *, agreement: bool = True
) -> None:
    """The warm night on the cold build's site and cache, beside the default night (run on a
    copy, in ``work/default``): time, ratio, agreement of the lists and maps with it (not
    without ``agreement``: no default night ran)."""
    common = ["--out", str(work / "out"), "--cache-dir", str(work / "cache"), "--config", str(work / "site.toml")]
    if args.limit:
        common += ["--limit", str(args.limit)]
    t, mb, err = run(["--data", spec, *common], env)
    save_log(args.log_dir, "warm.log", err)
    print(f"warm night   {t:8.1f} s   peak RSS {mb:7.0f} MB   ([night] warm = true, same data as the night)")
    print(f"    ratio warm night / cold: {t / cold:.3f} (goal <= 0.4)")
    print(embeddings_line(err))
    for line in err.splitlines():
        if line.startswith(("note: cache", "note: neighbours:", "note: model:", "note: write:site")):
            print("   ", line)
    for name, sec in sorted(stage_lines(err, computed_only=True), key=lambda x: -x[1])[:10]:
        print(f"      {name:<32} {sec:8.2f} s")
    if not agreement:
        print("warm night goal met (<= 0.4 x cold)" if t <= 0.4 * cold else "WARM NIGHT GOAL MISSED (<= 0.4 x cold)")
        return
    names = [p.stem[len("neighbours-") :] for p in sorted((work / "cache" / "pointers").glob("neighbours-*.json"))]
    agree = list_agreement(work / "cache", work / "default" / "cache", names)
    print("    agreement with a cold build of the night's data (mean top-10 overlap = recall@10 of the cold lists):")
    print("      " + ", ".join(f"{n} {v:.3f}" for n, v in agree.items()))
    from mangarec.embedding import Embedding, Map

    for name in names:
        m, e = pointed(work / "cache", f"night-map-{name}"), pointed(work / "cache", f"night-model-{name}")
        c = pointed(work / "default" / "cache", f"night-map-{name}")
        if not (isinstance(m, Map) and isinstance(e, Embedding) and "placed" in m.info):
            continue
        vectors = np.asarray(e.vectors, dtype=np.float64)
        sample = rng(args.seed, "bench-nightly-sample").choice(
            len(vectors), size=min(3000, len(vectors)), replace=False
        )
        tw, kw = map_quality(vectors, np.asarray(m.xy, dtype=np.float64), sample)
        ref = ""
        if isinstance(c, Map):
            tc, kc = map_quality(vectors, np.asarray(c.xy, dtype=np.float64), sample)
            ref = f"   (a cold UMAP map: {tc:.4f}, {kc:.4f})"
        moved = f"placed ({m.info['placed']:,} titles moved)"
        print(f"    map {name:<10} {moved}: trustworthiness {tw:.4f}, kept @10 {kw:.4f}{ref}")
    ok = t <= 0.4 * cold
    print("warm night goal met (<= 0.4 x cold)" if ok else "WARM NIGHT GOAL MISSED (<= 0.4 x cold)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "mangadex-v3" / "manga.jsonl.xz")
    ap.add_argument("--format", default="mangadex-v3", help="the input's format prefix")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--changed", type=float, default=0.01, help="share of the titles changed for the night")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--night-data", default=None, help="a data spec the night builds instead (the fetch hook)")
    ap.add_argument("--warm", type=int, default=0, help="umap.warm_epochs of both builds (0: cold maps)")
    ap.add_argument("--maps", action="store_true", help="only compare a warm-started map with a cold one")
    ap.add_argument("--model", default="lsi", help="the model whose map --maps compares")
    ap.add_argument("--warm-epochs", type=int, nargs="+", default=[30, 60], help="epochs of the warm maps")
    ap.add_argument("--log-dir", type=Path, default=None, help="save each build's stderr (cold.log, night.log) here")
    ap.add_argument("--warm-night", action="store_true", help="also the warm night ([night] warm = true)")
    ap.add_argument("--cold-only", action="store_true", help="the cold build only (its stage times: --log-dir)")
    ap.add_argument(
        "--no-default-night",
        action="store_true",
        help="with --warm-night: the cold build and the warm night only (no agreement figures; on a loaded machine)",
    )
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mangarec-nightly-"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".cache" / "numba"))
    try:
        base = work / "base.jsonl"
        lines = copy_input(args.data, base)
        if args.maps:
            compare_maps(args, work, base)
            return
        common = ["--out", str(work / "out"), "--cache-dir", str(work / "cache")]
        toml = f"[umap]\nwarm_epochs = {args.warm}\n" if args.warm else ""
        if args.warm or args.warm_night:
            (work / "site.toml").write_text(toml + ("[night]\nwarm = true\n" if args.warm_night else ""))
            common += ["--config", str(work / "site.toml")]
        if args.limit:
            common += ["--limit", str(args.limit)]
        print(f"input: {args.data} ({lines} records), machine load {os.getloadavg()[0]:.2f}")

        cold, cold_mb, err = run(["--data", f"{args.format}:{base}", *common], env)
        save_log(args.log_dir, "cold.log", err)
        n = titles_built(err)
        cold_bytes, cold_files = site_size(work / "out")
        print(f"cold build   {cold:8.1f} s   peak RSS {cold_mb:7.0f} MB   (target: <= 167 s on a quiet machine)")
        for line in err.splitlines():
            if line.startswith(("note: cache", "built")):
                print("   ", line)
        print(embeddings_line(err))
        print(
            f"    site: {cold_bytes / 1e6:8.1f} MB in {cold_files} files, {cold_bytes / n / 1024:.1f} KB per title "
            f"all in ({n} titles; goal <= 10 KB; main before the lean shards: 14.1 KB at 5,000 titles; "
            "benchmarks/bench_site_size.py breaks it down)"
        )

        if args.cold_only:
            for name, sec in sorted(stage_lines(err), key=lambda x: -x[1])[:12]:
                print(f"      {name:<32} {sec:8.2f} s")
            return
        cold_maps = cached_map_quality(work / "cache", args.seed) if args.warm else {}
        spec, what = night_input(args, work, base)
        if args.warm_night and args.no_default_night:
            warm_night(args, work, spec, env, cold, agreement=False)
            return
        if args.warm_night:  # the default night on a copy; the warm night on the originals
            (work / "default").mkdir()
            shutil.copytree(work / "out", work / "default" / "out")
            shutil.copytree(work / "cache", work / "default" / "cache")
            (work / "default.toml").write_text(toml)
            common = ["--out", str(work / "default" / "out"), "--cache-dir", str(work / "default" / "cache")]
            common += ["--config", str(work / "default.toml")] + (["--limit", str(args.limit)] if args.limit else [])
        night, night_mb, err = run(["--data", spec, *common], env)
        save_log(args.log_dir, "night.log", err)
        night_dir = work / "default" if args.warm_night else work
        night_bytes, night_files = site_size(night_dir / "out")
        ran = [s for s, _ in stage_lines(err, computed_only=True) if s.split(":")[0] in ("model", "neighbours", "map")]
        print(f"night        {night:8.1f} s   peak RSS {night_mb:7.0f} MB   after {what}")
        print(f"    ratio night / cold: {night / cold:.3f} (goal <= 0.4)")
        print(embeddings_line(err))
        for line in err.splitlines():
            if line.startswith(("note: cache", "note: neighbours:")):
                print("   ", line)
        print(f"    stages recomputed: {', '.join(ran) or 'none'}")
        for name, sec in sorted(stage_lines(err, computed_only=True), key=lambda x: -x[1])[:10]:
            print(f"      {name:<32} {sec:8.2f} s")
        n = titles_built(err)
        print(
            f"    site: {night_bytes / 1e6:8.1f} MB in {night_files} files, {night_bytes / n / 1024:.1f} KB per title"
        )
        for name, (t, keep) in cached_map_quality(night_dir / "cache", args.seed).items():
            if name in cold_maps:
                t0, keep0 = cold_maps[name]
                print(
                    f"    map {name:<10} warm ({args.warm} epochs): trustworthiness {t:.4f}, kept @10 {keep:.4f}"
                    f"   (the cold build's map: {t0:.4f}, {keep0:.4f})"
                )
        ok = night <= 0.4 * cold and cold_bytes / n <= 10 * 1024
        print("goals met (night <= 0.4 x cold, <= 10 KB per title)" if ok else "GOALS MISSED")
        if args.warm_night:
            warm_night(args, work, spec, env, cold)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
