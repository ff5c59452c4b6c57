"""Fixtures for the privacy tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def shared_data_dir() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def anime_dir() -> Path:
    d = shared_data_dir() / "anime-recdb"
    if not (d / "ratings.csv.gz").is_file():
        pytest.fail(f"shared data missing: {d}")  # the data is part of the environment
    return d
