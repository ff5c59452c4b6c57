"""A plain (non-editable) install from a wheel builds the bundled site from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from mangarec.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.build]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(d), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    (whl,) = d.glob("mangarec-*.whl")
    return whl


def test_wheel_carries_templates_site_sources_and_types(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("templates/base.html", "site_src/site.toml", "site_src/catalog/default.jsonl"):
        assert f"mangarec/_data/{rel}" in names
    assert "mangarec/py.typed" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)


def test_fresh_virtualenv_builds_the_bundled_site_from_anywhere(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    # the dependencies come from this test run's environment (the package itself does not)
    inner = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(inner, "outer-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MANGAREC_CACHE_DIR")}
    r = subprocess.run(
        [str(venv / "bin" / "mangarec"), "build", "-q"], cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    assert r.returncode == 0, r.stderr
    assert (work / "output" / "index.html").is_file() and (work / "output" / "data" / "embeddings.json").is_file()
    where = subprocess.run(
        [str(py), "-c", "import mangarec, mangarec.paths as p; print(mangarec.__file__, p.is_checkout())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    path, checkout = where.stdout.split()
    assert str(venv) in path and checkout == "False"
