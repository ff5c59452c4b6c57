"""The browser code is ES modules (issue 21): each page loads one entry module, which imports
the rest by relative path; no module hands anything to another through a global; the like rule
and the pick explanations are written once; the modules Node can load (taste.js, hash.js) give
Python's answers; the eslint config rejects what these rules forbid."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from htmlcheck import parse_file

from mangarec.paths import ROOT, SITE_SRC
from mangarec.site.prepare import fnv1a

JS = SITE_SRC / "static" / "js"
#: The site's own modules (the privacy client has its own folder; vendor/ is not ours).
MODULES = sorted(JS.glob("*.js"))
#: The privacy client's modules (the For-you page's contribution panel, its worker).
PRIVACY = sorted((JS / "privacy").glob("*.js"))
#: Entry modules: what a page's <script type="module"> names.
ENTRIES = {"home.js", "explore.js", "title.js", "plots.js", "feed.js", "foryou.js"}
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]""", re.M)
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def imports(source: str) -> list[str]:
    """The static import specifiers of a module's source."""
    return [a or b for a, b in IMPORT.findall(source)]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code(path: Path) -> str:
    """A module's source without its comments (they may name what the code must not use)."""
    return re.sub(r"/\*.*?\*/|(?<![:'\\])//[^\n]*", "", _text(path), flags=re.S)


def test_each_page_loads_one_entry_module(site_dir):
    """Every built page: no inline code (JSON islands only, so the CSP needs no hash), at most
    one of our modules, and classic scripts only for vendored plotly.js, on the maps page."""
    pages = sorted(site_dir.rglob("*.html"))
    assert len(pages) > 10
    entries = set()
    for page in pages:
        scripts = parse_file(page).find_all("script")
        inline = [s.attrs.get("type") for s in scripts if "src" not in s.attrs]
        assert set(inline) <= {"application/json"}, page
        ours = [s.attrs for s in scripts if "src" in s.attrs and "/assets/js." in s.attrs["src"]]
        classic = [s.attrs for s in scripts if "src" in s.attrs and s.attrs.get("type") != "module"]
        assert len(ours) <= 1 and all(s.get("type") == "module" for s in ours), page
        assert all("plotly." in s["src"] and "defer" in s for s in classic), page
        assert not classic or page.parent.name == "plots", page
        for s in ours:
            assert (page.parent / s["src"]).resolve().is_file(), (page, s["src"])
            entries.add(s["src"].rsplit("/", 1)[1])
    assert entries == ENTRIES


def test_built_modules_import_only_their_siblings(site_dir):
    """The modules are copied as one tree, so each relative import resolves to a built file."""
    (tree,) = site_dir.glob("assets/js.*/")
    built = {p.name for p in tree.glob("*.js")}
    assert built == {p.name for p in MODULES}
    for name in sorted(built):
        for spec in imports(_text(tree / name)):
            assert spec.startswith("./") and spec[2:] in built, (name, spec)


def test_no_globals_between_modules():
    """No module assigns a global or reads another's (the classic scripts talked through
    globalThis.Mangarec, MangarecTaste and MangarecSearch, and the contribution panel read
    Mangarec's ratings); plots.js reads plotly.js's; the worker sets its own onmessage."""
    assign = re.compile(r"\b(?:window|globalThis|self)\s*\.\s*([\w$]+)\s*=(?!=)")
    for path in MODULES + PRIVACY:
        src = _code(path)
        assert set(assign.findall(src)) <= ({"onmessage"} if path.name == "worker.js" else set()), path.name
        assert not re.search(r"\bMangarec(?:Taste|Search)?\b", src), path.name
    for path in MODULES:
        src = _code(path)
        reads = set(re.findall(r"\b(?:window|globalThis|self)\s*\.\s*([\w$]+)", src)) - {"addEventListener"}
        assert reads <= ({"Plotly"} if path.name == "plots.js" else set()), (path.name, reads)
        leaves = {"hash.js", "slug.js", "lean.js"}
        assert imports(src) or path.name in leaves, f"{path.name} imports nothing: is it a module?"
    assert {p.name for p in MODULES} >= ENTRIES


def test_the_like_rule_is_written_once():
    """taste.js defines the rule (isLike / isDislike at a threshold); profile.js binds it to the
    threshold the build published (data.like_threshold) and is the only reader of that; every
    other module asks profile.js, and none compares a rating with a number of its own."""
    defs = {p.name: re.findall(r"function (isLike|isDislike)\(([^)]*)\)", _text(p)) for p in MODULES}
    assert {k: v for k, v in defs.items() if v} == {
        "taste.js": [("isLike", "v, threshold"), ("isDislike", "v, threshold")],
        "profile.js": [("isLike", "v"), ("isDislike", "v")],
    }
    profile = _text(JS / "profile.js")
    assert "T.isLike(v, data.like_threshold)" in profile and "T.isDislike(v, data.like_threshold)" in profile
    for path in MODULES:
        src = _code(path)
        if path.name != "profile.js":
            assert "like_threshold" not in src, path.name
        if path.name not in ("taste.js", "profile.js") and re.search(r"\bis(?:Dis)?[Ll]ike\b", src):
            assert re.search(r"import \{[^}]*\bisLike\b[^}]*\} from './profile\.js'", src), path.name
        if path.name != "taste.js":  # a rating (v, x[1], a stored value) against a number: a second rule
            assert not re.search(r"(?:\bv\b|\bx\[1\]|\.get\([^)]*\))\s*[<>]=?\s*\d", src), path.name


def test_pick_explanations_are_written_once():
    """The reasons under a pick ("Pulled up by …, which you liked.") live in picks.js, which the
    feed and For you both import (they used to write them each)."""
    phrases = ("which you liked", "Pulled up by", "A neighbour of", "Shares ", "explain(")
    for path in MODULES:
        if path.name in ("picks.js", "taste.js"):
            continue
        src = _text(path)
        assert not [p for p in phrases if p in src], path.name
    for page in ("feed.js", "foryou.js"):
        assert "from './picks.js'" in _text(JS / page), page


def _node(script: str) -> str:
    node = shutil.which("node")
    assert node, "node (>= 20) is needed: tests/run says how to install it"
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_node_imports_taste_and_hash_like_python():
    """taste.js and hash.js load in Node as they are (no DOM needed); hash.js's FNV-1a is
    Python's (mangarec.site.prepare.fnv1a), so both pick the same shard."""
    words = ["", "a", "s3", "Shingeki no Kyojin", "ÉLÈVE", "进击的巨人", "🙂 emoji"]
    got = json.loads(
        _node(
            "import {fnv1a} from './site_src/static/js/hash.js';"
            "import * as T from './site_src/static/js/taste.js';"
            f"const words = {json.dumps(words)};"
            "console.log(JSON.stringify({h: words.map(fnv1a), like: [7, 8, 'like', 'dislike'].map(v => T.isLike(v, 8)),"
            " dislike: [4, 5, 'dislike'].map(v => T.isDislike(v, 8)), keys: Object.keys(T).sort()}));"
        )
    )
    assert got["h"] == [fnv1a(w) for w in words]
    assert got["like"] == [False, True, True, False] and got["dislike"] == [True, False, True]
    assert {"loadEmbeddings", "fit", "rank", "explain", "Profile", "isLike", "version"} <= set(got["keys"])
    assert "fnv1a" not in got["keys"]  # one FNV-1a: hash.js's


#: Module sources the config must reject, and the rule that does.
REJECTED = [
    ("globalThis.Mangarec = {};\n", "no-restricted-syntax"),
    ("export const r = globalThis.Mangarec.ratings();\n", "no-restricted-properties"),
    ("window.x = 1;\n", "no-restricted-syntax"),
    ("export const a = MangarecTaste.isLike;\n", "no-restricted-globals"),
    ("import {el} from './site.js';\nexport function f(el) { return el; }\n", "no-shadow"),
    ("export function f(x) { return x == 1; }\n", "eqeqeq"),
    ("export function f() { return undefinedThing; }\n", "no-undef"),
]


@pytest.fixture(scope="module")
def linted() -> list[dict]:
    """eslint's verdict (``{errors, rules}``) on each of :data:`REJECTED`'s sources and, last, on a
    clean one, each linted as a module of the site (``site_src/static/js/lint_probe.js``) under the
    project's flat config, as tests/run's ``eslint`` lints the tree; one Node process for all
    (eslint's start costs ~0.4 s of CPU)."""
    assert ESLINT.exists(), "eslint is not installed: run tests/run (it runs npm ci) or npm ci"
    sources = [s for s, _ in REJECTED] + ["export const a = 1;\n"]
    return json.loads(
        _node(
            "import {ESLint} from 'eslint';"
            "const eslint = new ESLint({cwd: process.cwd()});"
            f"const out = []; for (const s of {json.dumps(sources)}) {{"
            f"  const [r] = await eslint.lintText(s, {{filePath: {json.dumps(str(JS / 'lint_probe.js'))}}});"
            "  out.push({errors: r.errorCount, rules: r.messages.map(m => m.ruleId)}); }"
            "console.log(JSON.stringify(out));"
        )
    )


@pytest.mark.parametrize(("k", "rule"), [(k, rule) for k, (_, rule) in enumerate(REJECTED)])
def test_eslint_config_rejects(linted, k, rule):
    """The flat config (eslint.config.js, sourceType "module") catches what these rules forbid
    (npm ci installs eslint; tests/run lints the whole tree), and passes a clean module."""
    assert linted[k]["errors"] > 0 and rule in linted[k]["rules"], linted[k]
    assert linted[-1] == {"errors": 0, "rules": []}
