"""Shared fixtures: the real datasets and a tiny two-cluster catalog."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

# numba (pynndescent, umap) compiles ~30 s of code on first use: keep it between runs.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

import pytest
from hypothesis import HealthCheck, settings

from mangarec.catalog import Catalog, Item, make_tags
from mangarec.paths import shared_data_dir

# Property tests judge their inputs, not the machine's speed: a loaded CI runner or a busy laptop
# must not fail a test on hypothesis's timing checks (generation speed, per-example deadline).
settings.register_profile("mangarec", suppress_health_check=[HealthCheck.too_slow], deadline=None)
# tests/run --fast loads "fast" (HYPOTHESIS_PROFILE): the same, with 25 examples where a test sets
# none and half its own count (at least FAST_MIN_EXAMPLES) where it sets one (_fewer_examples).
FAST = "fast"
FAST_MIN_EXAMPLES = 5
settings.register_profile(FAST, settings.get_profile("mangarec"), max_examples=25)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "mangarec")
settings.load_profile(PROFILE)

#: Fixtures that read ``../shared/data`` (the real datasets): their tests are marked ``data``.
DATA_FIXTURES = frozenset({"shared_data", "anime_dir"})
#: Fixtures that start Chromium or build the bundled site for it: marked ``browser``.
BROWSER_FIXTURES = frozenset({"browser", "built", "built_sub"})


def pytest_collection_modifyitems(config, items):
    """The tiers ``tests/run --fast`` leaves out, from what a test uses: ``browser`` (starts
    Chromium: everything under tests/browser/ or a browser fixture), ``data`` (a fixture that reads
    ../shared/data; tests that read it directly carry the mark themselves). ``build`` (runs the
    pipeline on a catalog) and ``slow`` are set by the tests."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "browser" in Path(str(item.fspath)).parts or names & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if names & DATA_FIXTURES:
            item.add_marker(pytest.mark.data)
        if PROFILE == FAST:
            _fewer_examples(item)


def _fewer_examples(item) -> None:
    """Under the fast profile, a property test that sets its own ``max_examples`` runs half as
    many (at least :data:`FAST_MIN_EXAMPLES`); the full run keeps its count. Hypothesis keeps a
    test's settings on the test function, where ``@settings`` puts them."""
    test = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
    own = getattr(test, "_hypothesis_internal_use_settings", None)
    if own is None or getattr(test, "_fast_examples", False):
        return
    n = own.max_examples
    if n != settings.get_profile(FAST).max_examples:  # a count of its own
        test._hypothesis_internal_use_settings = settings(own, max_examples=min(n, max(FAST_MIN_EXAMPLES, n // 2)))
    test._fast_examples = True


#: The tiers ``tests/run --fast`` leaves out (its ``-m`` expression and tests/test_ci.py read this).
OUTSIDE_FAST = ("browser", "data", "build", "slow")
#: Modules whose import and first JIT cost tens of seconds of CPU on a cold numba cache
#: (pynndescent, umap-learn): a test that is the first in its process to import one must carry
#: one of the marks in ``OUTSIDE_FAST`` (it is ``slow`` if nothing else), so the fast loop never
#: pays for them. Likewise a test that runs a build to its end in its own process (a pipeline
#: on a catalog: seconds of CPU) must be marked ``build``.
NUMBA_MODULES = ("numba",)
_numba_before = pytest.StashKey[bool]()


_builds_before = pytest.StashKey[int]()
#: Builds run to their end in this process (``mangarec.pipeline._run`` returned), counted once
#: the pipeline is imported (:func:`_count_builds`).
_BUILDS = [0]


def _numba_loaded() -> bool:
    return any(m in sys.modules for m in NUMBA_MODULES)


def _count_builds() -> int:
    """Count the builds of ``mangarec.pipeline`` from now on (it is wrapped once it is imported:
    importing it here would cost every process seconds) and return how many ran so far."""
    pipeline = sys.modules.get("mangarec.pipeline")
    run = getattr(pipeline, "_run", None)
    if run is not None and not getattr(run, "counted", False):

        @functools.wraps(run)
        def counted(*args, **kwargs):
            out = run(*args, **kwargs)
            _BUILDS[0] += 1
            return out

        counted.counted = True  # type: ignore[attr-defined]
        pipeline._run = counted  # type: ignore[union-attr]
    return _BUILDS[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_numba_before] = _numba_loaded()
    item.stash[_builds_before] = _count_builds()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """A test in the fast tier fails if it paid for what the tiers outside it are for: numba's
    import (its first JIT) or a whole build of a catalog."""
    if any(item.get_closest_marker(m) for m in OUTSIDE_FAST):
        return
    if not item.stash.get(_numba_before, True) and _numba_loaded():
        pytest.fail(
            f"{item.nodeid} imports numba (pynndescent/umap: ~1 min of import and JIT on a cold cache)"
            " but is in the fast tier: mark it slow or keep numba out of it",
            pytrace=False,
        )
    if _count_builds() > item.stash.get(_builds_before, _BUILDS[0]):
        pytest.fail(
            f"{item.nodeid} runs the build pipeline on a catalog (mangarec.pipeline) but is in the"
            " fast tier: mark it build",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the real datasets). Tests that need it fail loudly if it is missing."""
    d = shared_data_dir()
    assert d.is_dir(), f"shared datasets not found at {d}"
    return d


def two_cluster_catalog(per_cluster: int = 12) -> Catalog:
    """A tiny catalog with two disjoint tag clusters whose right answers are obvious.

    Items ``s0..`` carry only sports/school tags, items ``h0..`` only horror/supernatural
    tags; within a cluster, tag sets overlap heavily. Every model must put an item's nearest
    neighbours in its own cluster.
    """
    sports = ["Sports", "School Life", "Comedy", "Drama", "Romance"]
    horror = ["Horror", "Supernatural", "Mystery", "Gore", "Psychological"]
    items = []
    for c, (prefix, tags, group) in enumerate((("s", sports, "genre"), ("h", horror, "genre"))):
        for i in range(per_cluster):
            chosen = [tags[j] for j in range(len(tags)) if (i >> j) % 2 == 0 or j == i % len(tags)]
            chosen = chosen[:4] if len(chosen) > 4 else chosen
            if len(chosen) < 2:
                chosen = tags[:2]
            desc = (
                "A story about the "
                f"{'tennis club and the big tournament' if c == 0 else 'haunted house and the ghost in the cellar'}"
                f" number {i}."
            )
            items.append(
                Item(
                    id=f"{prefix}{i}",
                    title=f"{'Sports' if c == 0 else 'Horror'} title {i}",
                    kind="manga",
                    tags=make_tags({group: chosen}),
                    description=desc,
                    popularity=float(100 - i),
                    year=2000 + i,
                )
            )
    return Catalog(items=tuple(items), sources=("two-cluster",))


@pytest.fixture
def two_clusters() -> Catalog:
    return two_cluster_catalog()
