"""Site fixtures: a BuildResult made by hand from a small catalog (fast, no model fitting)."""

from __future__ import annotations

from pathlib import Path

import pytest
from site_helpers import make_result

from mangarec.result import BuildResult


@pytest.fixture
def result(two_clusters) -> BuildResult:
    return make_result(two_clusters)


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    """The site of the two-cluster catalog (the ``result`` fixture's), written once per test
    module: the tests that take it only read it."""
    from mangarec.site import write_site
    from tests.conftest import two_cluster_catalog

    out = tmp_path_factory.mktemp("site") / "site"
    write_site(make_result(two_cluster_catalog()), out)
    return out
