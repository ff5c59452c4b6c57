"""A model from outside the package (issue 21): ``tests/plugins/toy_model.py`` declared under the
``mangarec.models`` entry-point group of a temporary distribution. Nothing under ``mangarec/``
names it, yet the configuration gets its section, the build fits it, the evaluation scores it
and the models page shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_evaluate import anime_fixture_args

PLUGINS = Path(__file__).resolve().parent / "plugins"

pytestmark = [pytest.mark.build, pytest.mark.data]


def _installed(tmp: Path) -> dict[str, str]:
    """The environment of a Python that has the toy model installed: a ``.dist-info`` with its
    entry point, as ``pip install`` of a package declaring it would leave."""
    site = tmp / "site"
    info = site / "toy_model-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-model\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mangarec.models]\ntoy = toy_model:SPEC\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(PLUGINS), env.get("PYTHONPATH", "")])
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mangarec", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=1200
    )


def test_without_the_entry_point_there_is_no_toy_model():
    from mangarec.models import REGISTRY

    assert "toy" not in REGISTRY  # so the build below owes it to the entry point alone


def test_a_model_from_outside_is_configured_fitted_evaluated_and_shown(tmp_path, shared_data):
    env = _installed(tmp_path)
    defaults = _run(["config", "--defaults"], env, tmp_path)
    assert defaults.returncode == 0, defaults.stderr
    assert "[models.toy]" in defaults.stdout and "top_tags = 8" in defaults.stdout

    cfg = tmp_path / "site.toml"
    cfg.write_text('[site]\nmodels = ["jaccard", "toy"]\nmaps = []\n\n[models.toy]\ntop_tags = 5\n')
    bad = tmp_path / "bad.toml"
    bad.write_text("[models.toy]\ntop_tags = 0\n")
    wrong = _run(["config", "--check", str(bad)], env, tmp_path)
    assert wrong.returncode == 2 and "models.toy.top_tags" in wrong.stderr + wrong.stdout  # its keys are checked

    out = tmp_path / "out"
    built = _run(
        [
            "build",
            *anime_fixture_args(shared_data),
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        env,
        tmp_path,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    report = json.loads((out / "data" / "report.json").read_text())
    text = json.dumps(report)
    assert '"toy"' in text
    ranking = [r["method"] for r in report["evaluation"]["ranking"]]
    assert "toy neighbours" in ranking  # the evaluation scored its lists on the held-out likes
    assert "toy" in report["evaluation"]["null"]
    page = (out / "models" / "index.html").read_text()
    assert "Toy (common tags)" in page and "Cosine over each title&#39;s share" in page
    assert len(report["models"]["toy"]["info"]["tags"]) == 5  # fitted with its [models.toy] section
