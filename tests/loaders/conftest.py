"""Fixtures for the loader tests."""
from __future__ import annotations

import pytest

from mangarec.errors import InputError
from _loader_helpers import assert_input_error


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test on a full dataset that takes more than 5 s")


@pytest.fixture
def expect_error():
    """``expect_error(callable, file=, line=, match=)`` → the message (asserts an InputError)."""
    def run(fn, *, file=None, line=None, match=None):
        with pytest.raises(InputError) as info:
            fn()
        return assert_input_error(info.value, file=file, line=line, match=match)
    return run
