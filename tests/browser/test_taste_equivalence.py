"""taste.js in headless Chromium gives the same recommendations as mangarec.client.

A stdlib HTTP server on 127.0.0.1 serves a temp dir holding the harness page, taste.js and a
generated embeddings.json; the same ratings go to the JS module (through its localStorage
Profile) and to the Python client. Same top-20 ids, scores within 1e-4, no console error and
no request other than the three static files. Needs Debian's chromium + chromium-driver: when
they are missing the test fails (CI installs them).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from contributors import CHROMEDRIVER, CHROMIUM, chrome_options

from mangarec import client, compact, kernel, lean, publish, published
from mangarec.foldin import Schedule
from mangarec.models import als
from mangarec.models.als import Params as ALSParams
from mangarec.paths import SITE_SRC
from tests.test_als import planted_catalog

pytestmark = pytest.mark.browser

HARNESS = Path(__file__).with_name("taste_harness.html")
TASTE_JS = SITE_SRC / "static" / "js" / "taste.js"
#: taste.js and the module it imports, served beside the harness page.
TASTE_MODULES = (TASTE_JS, TASTE_JS.with_name("hash.js"), TASTE_JS.with_name("lean.js"))
NETWORK_SCHEMES = {"http", "https", "ws", "wss", "ftp"}

CASES = {
    "likes": {"a0": "like", "a2": "like", "a4": "like"},
    "mixed": {"a0": "like", "b1": "dislike", "a2": 9, "b3": 2, "a10": 7, "b21": 5, "gone-id": "like"},
    "scores": {f"{'a' if k % 2 == 0 else 'b'}{k}": float(1 + (k * 7) % 10) for k in range(0, 60, 3)},
    "dislikes": {"b1": "dislike", "b5": "dislike", "a6": 3},
    "five likes": {f"a{k}": "like" for k in range(0, 10, 2)},
}
#: The "likes" site's fold-in count schedule: CASES fall below, between and beyond it.
SCHEDULE = Schedule(few=2, many=8, alpha_many=40.0, reg_many=1.5)
#: The "compact" site (version 4): rated titles fall up front and in shards.
COMPACT = compact.CompactOptions(titles=120, dims=16, bits=5, shard_size=8)
#: The "titles" site (version 7): a file per title, 60 candidates each (of 400 titles), names in
#: blocks; "titles6" and "titles5": the same lists as versions 6 and 5 publish them.
TITLES = compact.CompactOptions(candidates=60)
DOC = {k: "data/embeddings-compact.json" for k in ("compact", "titles", "titles6", "titles5")}


class _Server:
    def __init__(self, root: Path):
        self.requests: list[tuple[str, str]] = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                log.append(("GET", self.path))
                super().do_GET()

            def do_HEAD(self):
                log.append(("HEAD", self.path))
                super().do_HEAD()

            def do_POST(self):
                log.append(("POST", self.path))
                self.send_error(405)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _site(tmp: Path, mode: str) -> Path:
    """``likes``: the shipped kind of fit (likes only, on a 1-10 scale with threshold 7, and
    frequency-scaled λ), published in implicit mode: numbers below 7 and dislikes are left out
    of the fit, exactly as in training."""
    implicit = mode == "implicit"
    catalog, _ = planted_catalog(n_users=300, n_items=400, density=0.15, unrated=8, rank=4, implicit=implicit)
    if mode in ("likes", *DOC):
        params = ALSParams(
            factors=32,
            regularization=0.1,
            iterations=5,
            feedback="likes",
            scale="1-10",
            like_threshold=7.0,
            reg_exponent=0.5,
            alpha=4.0,
        )
    else:
        params = ALSParams(
            factors=32, regularization=0.1, iterations=5, feedback="raw" if implicit else "explicit", alpha=4.0
        )
    emb = als.fit(catalog, params, seed=5)
    root = tmp / mode
    root.mkdir()
    shutil.copy(HARNESS, root / "taste_harness.html")
    copy_taste(root)
    if mode in DOC:  # version 4: 16 of 32 dims, 5 bits, 120 up front; version 6
        published.write_published(
            root,
            catalog,
            emb,
            reg=0.1,
            mode="implicit",
            alpha=4.0,
            build_date="2026-11-23",
            top_n=None,
            schedule=SCHEDULE,
            compact=COMPACT if mode == "compact" else TITLES,
        )
        if mode in ("titles6", "titles5"):  # the same lists as a site of version 6 publishes them
            kw = dict(reg=0.1, mode="implicit", alpha=4.0, build_date="2026-11-23", schedule=SCHEDULE)
            shutil.rmtree(root / "data" / "taste")
            kernel.write_titles(root, *kernel.build_titles(catalog, emb, candidates=TITLES.candidates, **kw))
        if mode == "titles5":  # the same lists as a site of version 5 (no floors) publishes them
            for f in [root / DOC[mode], *(root / "data" / "taste").glob("*.json")]:
                d = json.loads(f.read_text())
                d["version"] = 5
                d.get("near", {}).pop("floor", None)
                f.write_text(json.dumps(d))
        return root
    payload = publish.build_payload(
        catalog,
        emb,
        reg=0.1,
        mode="explicit" if mode == "explicit" else "implicit",
        alpha=4.0,
        build_date="2026-11-23",
        schedule=SCHEDULE if mode == "likes" else None,
    )
    (root / "embeddings.json").write_bytes(publish.dumps(payload))
    return root


def copy_taste(root: Path) -> None:
    """taste.js and its imports into ``root``, beside the harness page."""
    for m in TASTE_MODULES:
        shutil.copy(m, root / m.name)


def _driver(profile_dir: Path):
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "headless Chromium is required: apt-get install chromium chromium-driver"
    )
    # The driver path is given, so Selenium Manager is skipped; SE_OFFLINE keeps it from
    # downloading anything should it ever run.
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = chrome_options(profile_dir)
    for arg in ("--no-default-browser-check", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)


def _run_script(tmp_path: Path, root: Path, doc: str, script: str, *args):
    """``script`` run once in the harness page over ``root`` with ``doc`` loaded; its answer
    (server and browser closed after)."""
    server = _Server(root)
    driver = _driver(tmp_path / "profile")
    try:
        driver.set_script_timeout(60)
        driver.get(server.base + "/taste_harness.html#" + doc)
        out = driver.execute_async_script(script, *args)
        assert "error" not in out, out.get("error")
        return out
    finally:
        driver.quit()
        server.close()


RUN_JS = """
const ratings = arguments[0], done = arguments[arguments.length - 1];
let stored, exported, imported, r;
harness.ready.then(function () {
  return harness.taste.loadRated(model, ratings);
}).then(function () {
  const T = harness.taste, p = new T.Profile();
  p.clear();
  for (const [id, v] of Object.entries(ratings)) {
    try { p.set(id, v); } catch (e) { /* ids that fail the pattern never reach storage */ }
  }
  stored = p.ratings();
  exported = p.exportJSON();
  p.clear();
  imported = p.importJSON(exported);
  r = p.ratings();
  /* version 7: the picks' names (and ids) come from their name blocks */
  return T.recommendNamed(model, r, {exclude: Object.keys(r), n: 20});
}).then(function (top) {
  const T = harness.taste;
  const taste = T.fit(model, r);
  const why = top.length ? T.explain(model, r, top[0].id, 3) : [];
  done({top: top, taste: Array.from(taste), stored: stored, imported: imported, why: why,
        version: T.version, raw: localStorage.getItem("mangarec.ratings.v1")});
}).catch(function (e) { done({error: String(e && e.stack || e)}); });
"""


@pytest.mark.parametrize("mode", ["explicit", "implicit", "likes", "compact", "titles", "titles6", "titles5"])
def test_js_and_python_agree(tmp_path, mode):
    root = _site(tmp_path, mode)
    doc = DOC.get(mode, "embeddings.json")
    model = client.load(str(root / doc))
    allowed = {"/taste_harness.html", "/" + doc} | {"/" + m.name for m in TASTE_MODULES}
    if mode == "compact":  # the codes file, and only the shards of rated titles not up front
        info = json.loads((root / doc).read_text())["shards"]
        front = set(model.ids[: model.n_recommendable])
        need = {compact.shard_of(i, info["count"]) for r in CASES.values() for i in r if i not in front}
        allowed |= {"/data/embeddings-compact.bin"} | {"/data/" + info["path"].format(k) for k in need}
        assert 0 < len(need) < info["count"] and any(
            i not in front and i in model.index for r in CASES.values() for i in r
        )
    if mode in ("titles", "titles6", "titles5"):  # only the rated titles' files (an unknown id's 404 too), once each
        allowed |= {f"/data/taste/{i}.json" for r in CASES.values() for i in r}
        assert model.lists is not None and len(model.ids) == 400
        assert all((r.floor is None) == (mode == "titles5") for r in model.lists.values())
    if mode == "titles":  # and the name blocks of the picks, once each (the rated titles name themselves)
        assert model.names is not None and json.loads((root / doc).read_text())["version"] == lean.VERSION == 7
        rows = set()
        for r in CASES.values():
            rows |= {model.names.row_of(i) for i, _ in model.recommend(r, n=20)}
        blocks = {row // lean.BLOCK for row in rows}
        allowed |= {"/data/" + lean.NAMES_PATH.format(b) for b in blocks}
        assert len(blocks) > 1
    if mode in ("likes", *DOC):  # the schedule is exercised below, between and beyond its counts
        counts = {len(model._values(r)[0]) for r in CASES.values()}
        assert min(counts) <= SCHEDULE.few and max(counts) >= SCHEDULE.many
        assert any(SCHEDULE.few < c < SCHEDULE.many for c in counts), counts
    server = _Server(root)
    driver = _driver(tmp_path / "profile")
    try:
        driver.set_script_timeout(60)
        driver.get(server.base + "/taste_harness.html" + ("#" + doc if mode in DOC else ""))
        for name, ratings in CASES.items():
            out = driver.execute_async_script(RUN_JS, ratings)
            assert "error" not in out, out.get("error")
            assert out["version"] == "1"
            assert out["stored"] == ratings and out["imported"] == len(ratings)
            assert json.loads(out["raw"]) == ratings
            expect = model.recommend(ratings, n=20)
            got = [(e["id"], e["score"]) for e in out["top"]]
            assert [i for i, _ in got] == [i for i, _ in expect], (mode, name)
            for (_, a), (_, b) in zip(got, expect):
                assert abs(a - b) <= 1e-4 * max(1.0, abs(b)), (mode, name, a, b)
            taste = model.fit(ratings)
            assert max(abs(a - b) for a, b in zip(out["taste"], taste)) < 1e-6
            why = model.explain(ratings, expect[0][0], n=3) if expect else []
            assert [e["id"] for e in out["why"]] == [i for i, _ in why]
            for e, (_, c) in zip(out["why"], why):
                assert abs(e["contribution"] - c) < 1e-6
        # nothing else was fetched or sent: server log and the browser's own network log
        assert server.requests and all(m == "GET" for m, _ in server.requests), server.requests
        paths = [p.split("#")[0] for _, p in server.requests]
        assert set(paths) == allowed and len(paths) == len(allowed), server.requests  # once each; shards lazily
        urls = set()
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.add(msg["params"]["request"]["url"])
        assert urls, "the performance log recorded no request"
        network = {u for u in urls if u.split(":", 1)[0].lower() in NETWORK_SCHEMES}
        assert network, urls
        for url in network:  # chrome://, data:, about: are browser-internal, never the network
            path = url[len(server.base) :].split("#")[0]
            assert url.startswith(server.base + "/") and path in allowed, url
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if mode in ("titles", "titles6", "titles5"):  # a rated id without a file is unknown: its 404 is expected
            severe = [e for e in severe if not ("/data/taste/gone-id.json" in e["message"] and "404" in e["message"])]
        assert not severe, severe
    finally:
        driver.quit()
        server.close()


def test_profile_rejects_bad_import(tmp_path):
    root = _site(tmp_path, "explicit")
    server = _Server(root)
    driver = _driver(tmp_path / "profile")
    try:
        driver.get(server.base + "/taste_harness.html")
        out = driver.execute_script("""
          const p = new harness.taste.Profile(); p.clear(); p.set("a0", "like");
          const errs = [];
          for (const text of ["{nope", '{"schema":"x"}',
                              '{"schema":"mangarec-ratings","version":1,"ratings":{"a1":"love"}}',
                              '{"schema":"mangarec-ratings","version":1,"ratings":{"../x":"like"}}']) {
            try { p.importJSON(text); errs.push(null); } catch (e) { errs.push(String(e.message)); }
          }
          let setErr = null;
          try { p.set("a2", NaN); } catch (e) { setErr = String(e.message); }
          return {errs: errs, setErr: setErr, left: p.entries()};
        """)
        assert all(e and e.startswith("mangarec taste:") for e in out["errs"]), out
        assert out["setErr"] and "finite" in out["setErr"]
        assert out["left"] == [["a0", "like"]]  # a failed import changes nothing
    finally:
        driver.quit()
        server.close()


BAD_V4_JS = """
const done = arguments[arguments.length - 1], tampered = arguments[0];
Promise.all([fetch("data/embeddings-compact.json").then(r => r.json()),
             fetch("data/embeddings-compact.bin").then(r => r.arrayBuffer())]).then(function (pair) {
  const T = harness.taste, good = pair[0], codes = new Int8Array(pair[1]);
  const out = {ok: T.parseEmbeddings(good, codes).ids.length};
  const cases = {
    bits: d => { d.items.bits = 9; },
    gram: d => { d.fold_in.gram = d.fold_in.gram.slice(1); },
    version: d => { d.version = 8; },
    nofile: d => { d.items.vectors = "../x.bin"; },
  };
  for (const [name, change] of Object.entries(cases)) {
    const d = JSON.parse(JSON.stringify(good));
    change(d);
    try { T.parseEmbeddings(d, name === "nofile" ? null : codes); out[name] = null; }
    catch (e) { out[name] = String(e.message); }
  }
  const over = codes.slice();
  over[0] = 100;
  try { T.parseEmbeddings(good, over); out.code = null; } catch (e) { out.code = String(e.message); }
  const m = T.parseEmbeddings(good, codes);
  m.url = "data/embeddings-compact.json";
  return T.loadRated(m, {[tampered]: "like"}).then(function () { out.shard = null; },
    function (e) { out.shard = String(e.message); }).then(function () { done(out); });
}).catch(function (e) { done({error: String(e && e.stack || e)}); });
"""


def test_taste_js_refuses_bad_version4_documents(tmp_path):
    root = _site(tmp_path, "compact")
    doc = json.loads((root / DOC["compact"]).read_text())
    k = next(
        k
        for k in range(doc["shards"]["count"])
        if json.loads((root / "data" / doc["shards"]["path"].format(k)).read_text())["ids"]
    )
    shard = root / "data" / doc["shards"]["path"].format(k)
    sh = json.loads(shard.read_text())
    sh["catalog_hash"] = "0" * 64  # a shard of another build
    shard.write_text(json.dumps(sh))
    out = _run_script(tmp_path, root, DOC["compact"], BAD_V4_JS, sh["ids"][0])
    assert out["ok"] == COMPACT.titles
    for key, words in (("bits", "bits"), ("gram", "gram"), ("version", "version"), ("code", "exceeds")):
        assert out[key] and out[key].startswith("mangarec taste:") and words in out[key], (key, out[key])
    assert out["nofile"] and out["nofile"].startswith("mangarec taste:"), out
    assert out["shard"] == f"mangarec taste: bad embeddings shard {k}", out


def _per_title_js(args: str, change: str) -> str:
    """The head of a refusal script on the per-title form: ``args`` named from the call's
    arguments, the document parsed once with ``change`` (its error in ``out.doc``) and once as
    it is (``m``, the model the rest of the script loads titles into)."""
    return f"""
const done = arguments[arguments.length - 1], [{args}] = arguments;
fetch("data/embeddings-compact.json").then(r => r.json()).then(function (good) {{
  const T = harness.taste, out = {{}};
  const d = JSON.parse(JSON.stringify(good));
  {change};
  try {{ T.parseEmbeddings(d); out.doc = null; }} catch (e) {{ out.doc = String(e.message); }}
  const m = T.parseEmbeddings(good);
  m.url = "data/embeddings-compact.json";
"""


BAD_V5_JS = (
    _per_title_js("tampered, other, noFloor", "delete d.fold_in.kernel_reg")
    + """
  return T.loadRated(m, {[tampered]: "like"}).then(function () { out.title = null; },
    function (e) { out.title = String(e.message); }).then(function () {
    return T.loadRated(m, {[noFloor]: "like"}).then(function () { out.floor = null; },
      function (e) { out.floor = String(e.message); });
  }).then(function () {
    return T.loadRated(m, {[other]: "like", "no-such-title": "like"});
  }).then(function () {
    out.loaded = m.ids.slice();
    out.recs = T.recommend(m, {[other]: "like", "no-such-title": "like"}, {exclude: [other], n: 5}).length;
    done(out);
  });
}).catch(function (e) { done({error: String(e && e.stack || e)}); });
"""
)


def test_taste_js_refuses_bad_title_files(tmp_path):
    root = _site(tmp_path, "titles6")
    files = sorted((root / "data" / "taste").glob("*.json"))
    bad, other, no_floor = files[0], files[1], files[2]
    f = json.loads(bad.read_text())
    f["catalog_hash"] = "0" * 64  # a title file of another build
    bad.write_text(json.dumps(f))
    f = json.loads(no_floor.read_text())
    assert f["version"] == 6
    del f["near"]["floor"]  # version 6 without its floor
    no_floor.write_text(json.dumps(f))
    out = _run_script(tmp_path, root, DOC["titles6"], BAD_V5_JS, bad.stem, other.stem, no_floor.stem)
    assert out["doc"] and "kernel_reg" in out["doc"], out
    assert out["title"] == f"mangarec taste: bad title file {bad.stem}", out
    assert out["floor"] == f"mangarec taste: bad title file {no_floor.stem}", out
    assert out["loaded"] == [other.stem] and out["recs"] == 5, out  # the unknown id is skipped


BAD_V7_JS = (
    _per_title_js("cases, other", "delete d.titles.names")
    + """
  return cases.reduce(function (p, id) {
    return p.then(function () {
      return T.loadRated(m, {[id]: "like"}).then(function () { out[id] = null; },
        function (e) { out[id] = String(e.message); });
    });
  }, Promise.resolve()).then(function () {
    return T.loadRated(m, {[other]: "like"});
  }).then(function () {
    return T.loadNames(m, [0]).then(function () { out.block = null; }, function (e) { out.block = String(e.message); });
  }).then(function () {
    out.loaded = m.ids.slice();
    done(out);
  });
}).catch(function (e) { done({error: String(e && e.stack || e)}); });
"""
)


def test_taste_js_refuses_bad_version7_files(tmp_path):
    """Version 7 in the browser: a title file of another schema, version, id, catalog or with a
    row out of range is refused, and so is a name block of another build; like the Python client
    (``tests/test_lean.py``)."""
    root = _site(tmp_path, "titles")
    files = sorted((root / "data" / "taste").glob("*.json"))
    changes = {
        "schema": ("schema", "mangarec-embeddings-shard"),
        "version": ("version", 6),
        "id": ("id", "someone-else"),
        "hash": ("catalog_hash", "0" * lean.HASH_HEX),
        "row": ("row", 400),
        "k": ("near", None),
    }
    tampered = []
    for f, (key, value) in zip(files, changes.values()):
        d = json.loads(f.read_text())
        if key == "near":
            d["near"]["k"] = d["near"]["k"][:-4]  # kernel values missing
        else:
            d[key] = value
        f.write_text(json.dumps(d))
        tampered.append(f.stem)
    other = files[len(changes)].stem
    block = root / "data" / lean.NAMES_PATH.format(0)
    b = json.loads(block.read_text())
    b["catalog_hash"] = "f" * lean.HASH_HEX
    block.write_text(json.dumps(b))
    out = _run_script(tmp_path, root, DOC["titles"], BAD_V7_JS, tampered, other)
    assert out["doc"] == "mangarec taste: bad titles block", out
    for stem in tampered:
        assert out[stem] and out[stem].startswith("mangarec taste: "), (stem, out)
    assert out["loaded"] == [other], out
    assert out["block"] == "mangarec taste: bad name block 0", out
