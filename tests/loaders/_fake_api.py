"""A local MangaDex v5 API on 127.0.0.1 (recorded-format fixture pages) and an injected clock."""

from __future__ import annotations

import copy
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mangarec.loaders.fetch import fetch_mangadex

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mangadex_v5"


def fixture_entities() -> list[dict]:
    return [e for p in sorted(FIXTURES.glob("*.json")) for e in json.loads(p.read_text(encoding="utf-8"))["data"]]


def chapter(chapter_id: str, manga_id: str, when: str, number: int = 1) -> dict:
    """A chapter entity as ``GET /chapter`` returns it (``when``: ``YYYY-MM-DDTHH:MM:SS+00:00``)."""
    return {
        "id": chapter_id,
        "type": "chapter",
        "attributes": {
            "volume": None,
            "chapter": str(number),
            "title": None,
            "translatedLanguage": "en",
            "externalUrl": None,
            "publishAt": when,
            "readableAt": when,
            "createdAt": when,
            "updatedAt": when,
            "pages": 20,
            "version": 1,
        },
        "relationships": [
            {"id": "00000000-0000-4000-8000-000000000001", "type": "scanlation_group"},
            {"id": manga_id, "type": "manga"},
            {"id": "00000000-0000-4000-8000-000000000002", "type": "user"},
        ],
    }


def statistics(follows: int, bayesian: float) -> dict:
    """One manga's entry of ``GET /statistics/manga`` as the live API returns it."""
    dist = {str(k): 0 for k in range(1, 11)}
    dist[str(round(bayesian))] = follows // 10
    return {
        "comments": {"threadId": 4756728, "repliesCount": 12},
        "rating": {"average": round(bayesian + 0.2, 4), "bayesian": bayesian, "distribution": dist},
        "follows": follows,
    }


def synthetic_entities(n: int, seed: str = "mangarec-fake") -> list[dict]:
    """``n`` more titles shaped like the fixtures (copies with new ids, titles and dates)."""
    base = fixture_entities()
    out = []
    for k in range(n):
        e = copy.deepcopy(base[k % len(base)])
        e["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{k}"))
        e["attributes"]["title"] = {"en": f"Synthetic Series {k}"}
        e["attributes"]["altTitles"] = []
        e["relationships"] = [r for r in e["relationships"] if r["type"] != "manga"]
        when = f"2022-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:00+00:00"
        e["attributes"]["createdAt"] = e["attributes"]["updatedAt"] = when
        out.append(e)
    return out


def night_of_changes(server: FakeMangaDex, day: str = "2026-12-07") -> tuple[str, str, str]:
    """One title redescribed, one new, one removed, two uploads: what a day on MangaDex brings.
    Returns the ids (changed, new, removed)."""
    changed = server.entities[0]
    changed["attributes"]["description"] = {"en": "A new description."}
    changed["attributes"]["updatedAt"] = f"{day}T12:00:00+00:00"
    new = copy.deepcopy(server.entities[1])
    new["id"] = "0d1c2b3a-4f5e-4d7c-8b9a-0123456789ab"
    new["attributes"]["title"] = {"en": "Brand New Series"}
    new["attributes"]["createdAt"] = new["attributes"]["updatedAt"] = f"{day}T15:00:00+00:00"
    new["relationships"] = [r for r in new["relationships"] if r["type"] != "manga"]
    server.entities.append(new)
    server.stats[new["id"]] = statistics(5000, 8.9)
    gone = server.entities.pop(6)
    server.chapters += [
        chapter("c0000000-0000-4000-8000-000000000001", server.entities[2]["id"], f"{day}T20:00:00+00:00"),
        chapter("c0000000-0000-4000-8000-000000000002", new["id"], f"{day}T21:00:00+00:00"),
    ]
    return changed["id"], new["id"], gone["id"]


class FakeMangaDex:
    """``GET /manga`` like the live API: createdAt or updatedAt order, createdAtSince /
    updatedAtSince (inclusive), offset + limit capped at ``max_offset``; ``GET
    /statistics/manga?manga[]=`` from ``stats``; ``GET /chapter?order[readableAt]=desc`` from
    ``chapters``. ``script`` holds canned answers for the next requests (status, headers,
    body) before normal service resumes."""

    def __init__(self, max_offset: int = 10_000, extra: int = 0):
        self.entities = fixture_entities() + synthetic_entities(extra)
        self.stats = {e["id"]: statistics(100 * (k + 1), 6.0 + k / 4) for k, e in enumerate(self.entities)}
        self.chapters: list[dict] = []
        self.max_offset = max_offset
        self.requests: list[tuple[str, dict, dict]] = []
        self.script: list[tuple[int, dict, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                server.requests.append((url.path, query, dict(self.headers)))
                status, headers, body = server.answer(url.path, query)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path, query):
        if self.script:
            return self.script.pop(0)
        if path == "/statistics/manga":
            ids = query.get("manga[]", [])
            body = {"result": "ok", "statistics": {i: self.stats[i] for i in ids if i in self.stats}}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        if path not in ("/manga", "/chapter"):
            return 404, {}, b'{"result":"error","errors":[{"status":404,"title":"Not found"}]}'
        limit, offset = int(query["limit"][0]), int(query["offset"][0])
        if offset + limit > self.max_offset:
            return 400, {}, b'{"result":"error","errors":[{"status":400,"title":"Bad Request"}]}'
        if path == "/chapter":
            assert query["order[readableAt]"] == ["desc"]
            ents = sorted(self.chapters, key=lambda c: c["attributes"]["readableAt"], reverse=True)
        else:
            field = "updatedAt" if "order[updatedAt]" in query else "createdAt"
            ents = sorted(self.entities, key=lambda e: e["attributes"][field])
            since = query.get(f"{field}Since", [None])[0]
            if since:
                ents = [e for e in ents if e["attributes"][field][:19] >= since]
        page = {
            "result": "ok",
            "response": "collection",
            "data": ents[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "total": len(ents),
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(page, ensure_ascii=False).encode()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class FakeTime:
    """An injected clock: ``sleep`` advances it instead of waiting."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fetch(server, cache, t=None, **kw):
    """``fetch_mangadex`` against ``server`` with a fake clock, pages of 3, a 5 s read timeout."""
    t = t or FakeTime()
    kw.setdefault("page_size", 3)
    kw.setdefault("timeout", 5)
    return fetch_mangadex(server.base_url, cache, sleep=t.sleep, clock=t.clock, **kw)


def files_under(root: Path) -> list[str]:
    """Every file below ``root``, as paths relative to it (temporary files included)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


class RawServer:
    """A TCP server on 127.0.0.1 whose connections are handled by ``handle(sock)`` (after the
    request head has been read): for misbehaving servers (drip-feeding, closing early)."""

    def __init__(self, handle):
        import socket

        self.handle = handle
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self):

        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            conn.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.handle(conn, self.stop)
            except OSError:  # the client gave up: that is what the tests want
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.listener.close()


def drip(data: bytes, every: float):
    """A RawServer handler sending ``data`` one byte every ``every`` seconds."""

    def handle(conn, stop):
        for k in range(len(data)):
            if stop.wait(every):
                return
            conn.sendall(data[k : k + 1])

    return handle


def fetch_nights(n_titles: int, changed: float, cache: Path, *, uploads: int = 200) -> dict:
    """Two nights of the catalog store against a fake API of ``n_titles`` titles: the first
    (everything), then one after ``changed`` (a fraction) of the titles were updated, 1 % as
    many were added, and ``uploads`` chapters uploaded. For ``benchmarks/bench_nightly.py``.

    Returns ``{"first": {...}, "second": {...}}``, each night with ``requests`` (sent),
    ``seconds`` (wall time here, the rate limit's waits not slept) and ``at_4_per_s`` (the
    seconds the rate limit alone costs against the live API), and ``titles``.
    """
    import datetime as dt
    import time

    from mangarec.loaders.store import refresh

    night1 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    out = {}
    with FakeMangaDex(extra=max(0, n_titles - len(fixture_entities()))) as api:
        api.stats = {e["id"]: statistics(10 + k % 5000, 5.0 + (k % 50) / 10) for k, e in enumerate(api.entities)}
        for name, when in (("first", night1), ("second", night1 + dt.timedelta(days=1))):
            if name == "second":
                day = "2026-12-07"
                step = max(1, round(1 / changed)) if changed > 0 else len(api.entities) + 1
                for e in api.entities[::step]:
                    e["attributes"]["updatedAt"] = f"{day}T12:00:00+00:00"
                for e in synthetic_entities(max(1, len(api.entities) // 100), seed="new"):
                    e["attributes"]["createdAt"] = e["attributes"]["updatedAt"] = f"{day}T13:00:00+00:00"
                    api.entities.append(e)
                    api.stats[e["id"]] = statistics(1, 5.0)
                api.chapters = [
                    chapter(
                        str(uuid.uuid5(uuid.NAMESPACE_URL, f"ch/{k}")),
                        api.entities[k * 7 % len(api.entities)]["id"],
                        f"{day}T{k % 24:02d}:{k % 60:02d}:00+00:00",
                        k,
                    )  # fmt: skip
                    for k in range(uploads)
                ]
            api.requests.clear()
            t = FakeTime()
            start = time.perf_counter()
            r = refresh(api.base_url, cache, now=lambda when=when: when, sleep=t.sleep, clock=t.clock)
            seconds = time.perf_counter() - start
            n = len(api.requests)
            out[name] = {"requests": n, "seconds": round(seconds, 2), "at_4_per_s": n / 4, "titles": r.titles}
    return out
