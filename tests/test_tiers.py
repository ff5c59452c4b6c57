"""The fast tier stays fast and honest: ``tests/run --fast`` leaves out exactly the marks
``tests/conftest.py`` names, runs on every core, and no test in it pays for numba."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import OUTSIDE_FAST

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parents[1]


def test_fast_run_leaves_out_exactly_the_declared_tiers_on_every_core():
    run = (ROOT / "tests" / "run").read_text(encoding="utf-8")
    fast = run[run.index('if [ "$fast" = 1 ]; then\n  # mypy') :]
    expr = re.search(r'-m "([^"]+)"', fast)
    assert expr, "tests/run --fast selects no marks"
    assert set(re.findall(r"not (\w+)", expr.group(1))) == set(OUTSIDE_FAST)
    assert " -n " in fast and "--dist loadfile" in fast and "mypy mangarec" in fast
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"pytest-xdist' in pyproject
    markers = pyproject[pyproject.index("markers = [") :]
    for mark in OUTSIDE_FAST:
        assert f'"{mark}:' in markers, mark


def test_a_fast_test_that_loads_numba_fails_and_a_slow_one_does_not(pytester):
    """numba's import and first JIT (pynndescent, umap) cost a minute of CPU on a cold cache: the
    first test of a process to load it must be outside the fast tier. A stand-in module plays
    numba so the check costs nothing; each run is its own process (in the full run this process
    has loaded the real numba long before)."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        test_jit="""
        import sys, types
        import pytest

        def load():
            sys.modules["numba"] = types.ModuleType("numba")

        @pytest.mark.slow
        def test_a_slow_one():
            load()

        def test_a_fast_one():
            load()
        """
    )
    slow_first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_jit.py")
    slow_first.assert_outcomes(passed=2)  # numba was already loaded when the fast one ran
    fast_only = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not slow", "test_jit.py")
    fast_only.assert_outcomes(passed=1, errors=1, deselected=1)
    fast_only.stdout.fnmatch_lines(["*test_a_fast_one imports numba*mark it slow*"])
