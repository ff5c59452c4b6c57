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


def test_a_fast_test_that_loads_numba_or_builds_fails_and_a_slow_or_build_one_does_not(pytester, monkeypatch):
    """numba's import and first JIT (pynndescent, umap) cost a minute of CPU on a cold cache: the
    first test of a process to load it must be outside the fast tier; so must a test that runs a
    build to its end (``mangarec.pipeline._run``). Stand-in modules play numba and the pipeline
    so the check costs nothing; each run is its own process (in the full run this process has
    loaded the real numba long before). The fast run's property tests run half their examples."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        test_tier="""
        import sys, types
        import pytest

        pipeline = types.ModuleType("mangarec.pipeline")
        pipeline._run = lambda: "built"
        sys.modules["mangarec.pipeline"] = pipeline

        def load():
            sys.modules["numba"] = types.ModuleType("numba")

        def build():
            assert sys.modules["mangarec.pipeline"]._run() == "built"

        @pytest.mark.slow
        def test_a_slow_one():
            load()

        def test_a_fast_one():
            load()

        @pytest.mark.build
        def test_a_build():
            build()

        def test_a_fast_build():
            build()

        from pathlib import Path
        from hypothesis import given, settings, strategies as st

        EXAMPLES = []

        @settings(max_examples=12, database=None)
        @given(st.integers())
        def test_a_property(x):
            EXAMPLES.append(x)

        def test_its_examples_counted():
            Path("examples.txt").write_text(str(len(EXAMPLES)))
        """
    )
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "mangarec")  # the full run's (whatever runs this test)
    everything = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_tier.py")
    # numba was already loaded when the fast one ran; the fast build fails in its teardown
    everything.assert_outcomes(passed=6, errors=1)
    everything.stdout.fnmatch_lines(["*test_a_fast_build runs the build pipeline*mark it build*"])
    assert (pytester.path / "examples.txt").read_text() == "12"
    # as tests/run --fast runs it: the fast tiers, hypothesis's fast profile (half a test's own count)
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "fast")
    fast_only = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not slow and not build", "test_tier.py")
    fast_only.assert_outcomes(passed=4, errors=2, deselected=2)
    fast_only.stdout.fnmatch_lines(["*test_a_fast_one imports numba*mark it slow*"])
    assert (pytester.path / "examples.txt").read_text() == "6"
