"""Site fixtures: a BuildResult made by hand from a small catalog (fast, no model fitting)."""

from __future__ import annotations

from pathlib import Path

import pytest
from site_helpers import make_result

from mangarec.result import BuildResult


@pytest.fixture
def result(two_clusters) -> BuildResult:
    return make_result(two_clusters)


@pytest.fixture
def site_dir(result, tmp_path) -> Path:
    from mangarec.site import write_site

    out = tmp_path / "site"
    write_site(result, out)
    return out
