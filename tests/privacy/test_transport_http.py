"""Networked mode: a server subprocess and separate client subprocesses on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

from nacl.signing import SigningKey

REPO = Path(__file__).resolve().parents[2]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _setup(tmp_path: Path, n: int):
    roster, ratings = [], {}
    for uid in range(n):
        seed = bytes([uid + 1]) * 32
        (tmp_path / f"key{uid}.hex").write_text(seed.hex())
        roster.append(f"{uid} {bytes(SigningKey(seed).verify_key).hex()}")
        rows = [(100 + uid * 7 + k, (uid + k) % 10 + 1) for k in range(5 + 20 * uid)]
        ratings[uid] = rows
        with open(tmp_path / f"ratings{uid}.csv", "w") as fh:
            fh.write("user_id,anime_id,rating\n")
            fh.writelines(f"u{uid},{i},{r}\n" for i, r in rows)
    (tmp_path / "roster.txt").write_text("\n".join(roster) + "\n")
    return ratings


def _server(tmp_path: Path, n: int, port: int, out: Path, phase_timeout: float = 6):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mangarec.privacy",
            "serve",
            "--port",
            str(port),
            "--users",
            str(n),
            "--roster",
            str(tmp_path / "roster.txt"),
            "--phase-timeout",
            str(phase_timeout),
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _client(tmp_path: Path, port: int, uid: int):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mangarec.privacy",
            "join",
            "--server",
            f"http://127.0.0.1:{port}",
            "--uid",
            str(uid),
            "--key",
            str(tmp_path / f"key{uid}.hex"),
            "--roster",
            str(tmp_path / "roster.txt"),
            "--ratings",
            str(tmp_path / f"ratings{uid}.csv"),
            "--timeout",
            "40",
        ],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _port(server) -> int:
    line = server.stdout.readline()
    assert line.startswith("listening 127.0.0.1:"), line + server.stderr.read()
    return int(line.split()[1].split(":")[1])


def _status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status", timeout=5) as r:
        return json.loads(r.read())


def _run(tmp_path: Path, n: int, silent: set[int] = frozenset(), restart: bool = False):
    ratings = _setup(tmp_path, n)
    out = tmp_path / "collected.csv"
    # before a restart the first server must still be collecting when it is killed: it waits
    # (up to 120 s) for the advertisement of the last user, who only starts afterwards
    server = _server(tmp_path, n, 0, out, phase_timeout=120 if restart else 15)
    clients, old = [], None
    try:
        port = _port(server)
        first = [u for u in range(n) if u not in silent and not (restart and u == n - 1)]
        clients = [_client(tmp_path, port, u) for u in first]
        if restart:
            deadline = time.monotonic() + 60
            while _status(port)["advertised"] < len(first):
                assert time.monotonic() < deadline, "clients never joined"
                time.sleep(0.1)
            assert _status(port)["state"] == "running"
            old = server
            old.kill()
            old.wait(timeout=10)
            server = _server(tmp_path, n, port, out)
            assert _port(server) == port
            clients.append(_client(tmp_path, port, n - 1))
        codes = [c.wait(timeout=120) for c in clients]
        server_code = server.wait(timeout=60)
        return ratings, out, codes, server_code, clients
    finally:
        for p in clients + [server] + ([old] if old else []):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def _collected(out: Path):
    with open(out) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["pseudonym", "item_id", "rating"]
    by: dict[str, list] = {}
    for p, i, r in rows[1:]:
        by.setdefault(p, []).append((int(i), int(r)))
    return rows[1:], Counter(tuple(sorted(v)) for v in by.values())


def test_networked_collection_all_clients(tmp_path):
    ratings, out, codes, server_code, _ = _run(tmp_path, 4)
    assert server_code == 0 and codes == [0, 0, 0, 0]
    rows, got = _collected(out)
    assert got == Counter(tuple(sorted(v)) for v in ratings.values())
    assert rows == sorted(rows, key=lambda r: (r[0], int(r[1])))


def test_networked_collection_with_a_silent_user(tmp_path):
    """User 4 never connects: its phase times out and the other users' ratings arrive."""
    ratings, out, codes, server_code, _ = _run(tmp_path, 5, silent={4})
    assert server_code == 0 and codes == [0, 0, 0, 0]
    _, got = _collected(out)
    assert got == Counter(tuple(sorted(ratings[u])) for u in range(4))


def test_server_restart_clients_rejoin_new_session(tmp_path):
    """Killed while it waits for the last advertisement (no race with completion), the
    server restarts with a new session; the clients rejoin it and everything arrives."""
    ratings, out, codes, server_code, clients = _run(tmp_path, 4, restart=True)
    assert server_code == 0 and codes == [0, 0, 0, 0], [c.stderr.read() for c in clients]
    _, got = _collected(out)
    assert got == Counter(tuple(sorted(v)) for v in ratings.values())
    assert sum("rejoining" in c.stdout.read() for c in clients) == 3
