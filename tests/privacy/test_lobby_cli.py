"""``serve --lobby`` and ``join --lobby`` as a user runs them: separate processes, the site's
collect.json and titles index, a visitor's ratings export; bad input is one line, exit 2."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mangarec.privacy.site_collect import collect_document

REPO = Path(__file__).resolve().parents[2]
CAT = "e" * 64


def _run(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "mangarec.privacy", *args],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def _site(tmp_path: Path, url: str) -> Path:
    data = tmp_path / "site" / "data"
    data.mkdir(parents=True)
    ids = [f"uuid-{k:02d}" for k in range(30)]
    (data / "embeddings-titles.json").write_text(
        json.dumps({"schema": "mangarec-titles", "version": 1, "catalog_hash": CAT, "ids": ids, "titles": ids})
    )
    (data / "collect.json").write_text(json.dumps(collect_document(url, 3, CAT, len(ids))))
    return data


@pytest.mark.slow  # a lobby server and a fleet of join subprocesses (76 s under load)
def test_serve_lobby_and_join_lobby_from_a_site_export(tmp_path):
    out = tmp_path / "collected.csv"
    idx = tmp_path / "index.json"
    data = _site(tmp_path, "http://127.0.0.1:1")  # the URL is rewritten once the port is known
    idx.write_text((data / "embeddings-titles.json").read_text())
    server = _run(
        "serve",
        "--lobby",
        "--index",
        str(idx),
        "--min-cohort",
        "3",
        "--max-cohort",
        "3",
        "--pow-bits",
        "4",
        "--per-address",
        "0",
        "--stop-after",
        "1",
        "--gather",
        "0",
        "--out",
        str(out),
    )
    clients = []
    try:
        line = server.stdout.readline()
        assert line.startswith("listening 127.0.0.1:"), line + server.stderr.read()
        url = "http://" + line.split()[1]
        (data / "collect.json").write_text(json.dumps(collect_document(url, 3, CAT, 30)))
        exports = {
            0: {"uuid-01": "like", "uuid-02": "dislike", "uuid-03": 6.5},
            1: {"uuid-04": 9, "uuid-29": "like", "not-in-index": "like"},
            2: {"uuid-00": 2.4},
        }
        for u, ratings in exports.items():
            p = tmp_path / f"export{u}.json"
            p.write_text(json.dumps({"schema": "mangarec-ratings", "version": 1, "ratings": ratings}))
            clients.append(
                _run(
                    "join",
                    "--lobby",
                    url,
                    "--collect",
                    str(data / "collect.json"),
                    "--ratings",
                    str(p),
                    "--timeout",
                    "60",
                )
            )
        codes = [c.wait(timeout=180) for c in clients]
        assert codes == [0, 0, 0], [c.stderr.read() for c in clients]
        assert all("receipt:" in c.stdout.read() for c in clients)
        assert server.wait(timeout=60) == 0
        with open(out) as fh:
            rows = list(csv.reader(fh))
        by: dict[str, set] = {}
        for p, i, r in rows[1:]:
            by.setdefault(p, set()).add((i, int(r)))
        # like 8, dislike 1, numbers rounded half up; the title outside the index is not sent
        assert sorted(map(sorted, by.values())) == sorted(
            [
                [("uuid-01", 8), ("uuid-02", 1), ("uuid-03", 7)],
                [("uuid-04", 9), ("uuid-29", 8)],
                [("uuid-00", 2)],
            ]
        )
    finally:
        for p in [server, *clients]:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


@pytest.mark.slow  # one CLI subprocess per bad input (26 s under load)
def test_lobby_commands_need_their_inputs_one_line_exit_2(tmp_path):
    p = _run("serve", "--lobby", "--out", str(tmp_path / "c.csv"))
    assert p.wait(timeout=60) == 2 and p.stderr.read().count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    p = _run("serve", "--lobby", "--index", str(bad), "--out", str(tmp_path / "c.csv"))
    err = p.stderr.read()
    assert p.wait(timeout=60) == 2 and "mangarec-titles" in err and err.count("\n") == 1
    p = _run("join", "--lobby", "http://127.0.0.1:9", "--ratings", str(bad))
    assert p.wait(timeout=60) == 2 and "--collect" in p.stderr.read()
