"""The command line: one program, subcommands, one line and exit 2 for every bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mangarec import __version__
from mangarec.cli import COMMANDS, main
from mangarec.paths import ROOT


def _run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mangarec", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out
    assert main(["--version"]) == 0 and __version__ in capsys.readouterr().out


@pytest.mark.build
def test_console_script_and_module_and_build_py_are_one_program():
    script = Path(sys.executable).parent / "mangarec"
    assert script.is_file(), "pip install puts the 'mangarec' console script beside python"
    outs = {
        subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout.split()[-1]
        for cmd in (
            [str(script), "--version"],
            [sys.executable, "-m", "mangarec", "--version"],
            [sys.executable, str(ROOT / "build.py"), "--version"],
        )
    }
    assert outs == {__version__}


@pytest.mark.parametrize("value", ["abc", "1e9", "-5", "99999999999999999999", " "])
def test_bad_source_date_epoch_is_one_line_before_heavy_imports(value, tmp_path):
    r = _run("build", "--out", str(tmp_path / "o"), env={"SOURCE_DATE_EPOCH": value})
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: SOURCE_DATE_EPOCH = ") and "\n" not in r.stderr.strip()
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["build", "--limit", "x"], "--limit: 'x' is not a whole number"),
        (["build", "--seed", "-1"], "--seed: -1 is not between 0"),
        (["build", "--colour"], "unrecognized arguments: --colour"),
        (["serve", "--port", "99999"], "--port: 99999 is not between 0 and 65,535"),
        (["fetch", "nowhere"], "invalid choice: 'nowhere'"),
        (["config", "--check", "/nonexistent/site.toml"], "config file not found"),
        (["tune", "--config", "site.toml"], "the following arguments are required: --data"),
        (["tune", "--data", "/nonexistent", "--config", "c.toml", "--max-fits", "0"], "--max-fits"),
    ],
)
def test_bad_options_are_one_line(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and fragment in err and "\n" not in err


@pytest.mark.build
def test_quiet_build_prints_nothing_even_on_warnings(tmp_path, monkeypatch, capsys):
    import warnings

    import mangarec.evaluation

    real = mangarec.evaluation.evaluate

    def noisy(*a, **k):
        warnings.warn("invalid value encountered in divide", RuntimeWarning, stacklevel=2)
        return real(*a, **k)

    monkeypatch.setattr(mangarec.evaluation, "evaluate", noisy)
    assert main(["build", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "--limit", "20", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_config_check_prints_one_line_per_problem(tmp_path, capsys):
    p = tmp_path / "site.toml"
    p.write_text("seed = -1\n[site]\nfeed_size = 0\ntitle = 3\n")
    assert main(["config", "--check", str(p)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"error: {p}: ") for line in lines), lines
    assert ["seed" in lines[0], "site.feed_size" in lines[1], "site.title" in lines[2]] == [True] * 3
    p.write_text("seed = 1\n")
    assert main(["config", "--check", str(p)]) == 0
    assert capsys.readouterr().out.strip() == f"{p}: ok"


def test_config_defaults_is_the_shipped_file(capsys):
    from mangarec.paths import DEFAULT_CONFIG

    assert main(["config", "--defaults"]) == 0
    assert capsys.readouterr().out == DEFAULT_CONFIG.read_text(encoding="utf-8")


@pytest.mark.build
def test_workers_die_with_the_build():
    """A forked pool worker is killed when its parent is (no orphan UMAP fits after kill -9)."""
    code = (
        "import os, sys, time\n"
        "from mangarec.workers import fork_pool\n"
        "pool = fork_pool(1)\n"
        "f = pool.submit(os.getpid)\n"
        "print(f.result(), flush=True)\n"
        "pool.submit(time.sleep, 60)\n"
        "time.sleep(60)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    worker = int(p.stdout.readline())
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{worker}/stat") as fh:  # a zombie (reaped by init soon) counts as gone
            if fh.read().split()[2] == "Z":
                break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its parent")


def test_build_help_lists_every_input_format(capsys):
    from mangarec.loaders import FORMATS

    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in FORMATS.values():
        assert f"{f.name}: {' '.join(f.help.split())}" in text
