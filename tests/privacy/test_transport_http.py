"""Networked mode: a server subprocess and separate client subprocesses on 127.0.0.1."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
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


def _server(tmp_path: Path, n: int, port: int, out: Path):
    return subprocess.Popen(
        [sys.executable, "-m", "mangarec.privacy", "serve", "--port", str(port), "--users", str(n),
         "--roster", str(tmp_path / "roster.txt"), "--phase-timeout", "6", "--out", str(out)],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _port(server) -> int:
    line = server.stdout.readline()
    assert line.startswith("listening 127.0.0.1:"), line + server.stderr.read()
    return int(line.split()[1].split(":")[1])


def _run(tmp_path: Path, n: int, silent: set[int] = frozenset(), restart: bool = False):
    ratings = _setup(tmp_path, n)
    out = tmp_path / "collected.csv"
    server = _server(tmp_path, n, 0, out)
    clients, old = [], None
    try:
        port = _port(server)
        for uid in range(n):
            if uid in silent:
                continue
            clients.append(subprocess.Popen(
                [sys.executable, "-m", "mangarec.privacy", "join", "--server",
                 f"http://127.0.0.1:{port}", "--uid", str(uid), "--key", str(tmp_path / f"key{uid}.hex"),
                 "--roster", str(tmp_path / "roster.txt"),
                 "--ratings", str(tmp_path / f"ratings{uid}.csv"), "--timeout", "40"],
                cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        if restart:  # crash the server once every client has connected, start a new one
            import json
            import time
            import urllib.request
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # wait until every client is in the session
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status", timeout=5) as r:
                    if json.loads(r.read())["advertised"] == n:
                        break
                time.sleep(0.2)
            old = server
            old.kill()
            old.wait(timeout=10)
            server = _server(tmp_path, n, port, out)
            assert _port(server) == port
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
    by = {}
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
    ratings, out, codes, server_code, clients = _run(tmp_path, 4, restart=True)
    assert server_code == 0 and codes == [0, 0, 0, 0], [c.stderr.read() for c in clients]
    _, got = _collected(out)
    assert got == Counter(tuple(sorted(v)) for v in ratings.values())
    assert any("rejoining" in c.stdout.read() for c in clients)


def test_http_rejections_carry_a_reason():
    import json
    import threading
    import urllib.error
    import urllib.request
    from http.server import ThreadingHTTPServer

    from mangarec.privacy import encoding as E
    from mangarec.privacy.primitives import RandomSource
    from mangarec.privacy.transport_http import CollectionServer, _handler

    roster = {u: bytes(SigningKey(bytes([u + 1]) * 32).verify_key) for u in range(3)}
    cs = CollectionServer(roster, 2, 5.0, "/nonexistent/out.csv", RandomSource(b"\5" * 32))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cs))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    def post(body: bytes):
        req = urllib.request.Request(base + "/v1/msg", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        assert post(b"garbage!") == (400, {"reason": "bad-format", "detail": "bad magic"})
        other = E.encode(E.Advertise(b"x" * 16, 0, b"k" * 32, b"k" * 32, b"g" * 64))
        code, body = post(other)
        assert code == 400 and body["reason"] == "foreign-session"
        forged = E.encode(E.Advertise(cs.session, 0, b"k" * 32, b"k" * 32, b"g" * 64))
        code, body = post(forged)
        assert code == 400 and body["reason"] == "bad-signature"
        with urllib.request.urlopen(base + "/v1/status", timeout=10) as r:
            st = json.loads(r.read())
        assert st["session"] == cs.session.hex() and st["state"] == "running"
        try:
            urllib.request.urlopen(base + f"/v1/poll?uid=0&seq=0&session={'00' * 16}", timeout=10)
            raise AssertionError("expected 409")
        except urllib.error.HTTPError as exc:
            assert exc.code == 409
        assert cs.rejections == ["bad-format", "foreign-session", "bad-signature"]
    finally:
        httpd.shutdown()
