"""CLI: simulate on the fixture, deterministic output, bad input -> exit 2 with one line."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mangarec.privacy.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def _per_user(path: Path, key: str) -> Counter:
    by = {}
    with open(path) as fh:
        for row in csv.DictReader(fh):
            by.setdefault(row[key], []).append((int(row.get("item_id") or row["anime_id"]), int(row["rating"])))
    return Counter(tuple(sorted(v)) for v in by.values())


def test_simulate_fixture_is_exact_and_its_pseudonyms_fresh(tmp_path, anime_dir, capsys):
    """Same input and seed: the same per-user rating lists, in sorted rows, under fresh
    pseudonyms each run (they come from the OS, never from --seed)."""
    src = anime_dir / "fixture_ratings.csv"
    rows = list(csv.reader(open(src)))[: 1 + 2400]  # the first ~30 users
    small = tmp_path / "small.csv.gz"
    with gzip.open(small, "wt", newline="") as fh:
        csv.writer(fh).writerows(rows)
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}.csv"
        assert main(["simulate", "--ratings", str(small), "--cohort", "12", "--seed", "5", "--out", str(out)]) == 0
        outs.append(out)
    want = _per_user(small_plain(small, tmp_path), "user_id")
    for out in outs:
        assert out.read_bytes().startswith(b"pseudonym,item_id,rating\n")
        assert _per_user(out, "pseudonym") == want
        got = list(csv.reader(open(out)))[1:]
        assert got == sorted(got, key=lambda r: (r[0], int(r[1])))
    pseudonyms = [{r["pseudonym"] for r in csv.DictReader(open(o))} for o in outs]
    assert len(pseudonyms[0]) == len(want) and not pseudonyms[0] & pseudonyms[1]
    assert "anonymity set" in capsys.readouterr().out


def small_plain(gz: Path, tmp: Path) -> Path:
    p = tmp / "plain.csv"
    p.write_bytes(gzip.open(gz).read())
    return p


@pytest.mark.slow
def test_bad_input_one_line_error_exit_2(tmp_path):
    cases = {
        "hdr.csv": ("user,item,score\n1,2,3\n", "hdr.csv:1"),
        "int.csv": ("user_id,anime_id,rating\n1,2,3\n1,x,3\n", "int.csv:3"),
        "range.csv": ("user_id,item_id,rating\n1,2,3\n2,5,99\n", "range.csv:3"),
        "zero.csv": ("user_id,item_id,rating\n1,2,3\n2,5,0\n", "zero.csv:3"),
        "float.csv": ("user_id,item_id,rating\n1,2,3\n2,5,3.5\n", "float.csv:3"),
        "fields.csv": ("user_id,item_id,rating\n1,2\n", "fields.csv:2"),
        "dup.csv": ("user_id,item_id,rating\n1,2,3\n1,2,4\n", "dup.csv:3"),
    }
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for name, (text, where) in cases.items():
        f = tmp_path / name
        f.write_text(text)
        out = tmp_path / (name + ".out")
        p = subprocess.run(
            [sys.executable, "-m", "mangarec.privacy", "simulate", "--ratings", str(f), "--out", str(out)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 2, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and where in lines[0] and "Traceback" not in p.stderr
        assert not out.exists()
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "mangarec.privacy",
            "simulate",
            "--ratings",
            str(tmp_path / "missing.csv"),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "missing.csv" in p.stderr


def test_ratings_over_the_per_round_limit_go_out_under_a_new_pseudonym():
    from mangarec.privacy.anonymous import AnonParams
    from mangarec.privacy.simulate import simulate_collection

    params = AnonParams(max_parts=2)  # 80 ratings per contributor per profile
    users = {f"u{k}": [(i, 1 + (i + k) % 10) for i in range(104 if k < 3 else 20)] for k in range(6)}
    res = simulate_collection(users, cohort=6, seed=1, params=params)
    by = {}
    for p, i, r in res.rows:
        by.setdefault(p, []).append((i, r))
    assert len(res.rows) == sum(len(v) for v in users.values()) and res.lost_ratings == 0
    assert sorted(len(v) for v in by.values()) == [20, 20, 20, 24, 24, 24, 80, 80, 80]
    res2 = simulate_collection(
        {k: v for k, v in users.items() if k in ("u0", "u3", "u4")}, cohort=6, seed=1, params=params
    )
    assert res2.lost_ratings == 24 and any("deferred" in e for e in res2.events)
