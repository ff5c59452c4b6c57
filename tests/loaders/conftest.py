"""Fixtures for the loader tests."""

from __future__ import annotations

import pytest
from _loader_helpers import assert_input_error

from mangarec.errors import InputError


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


@pytest.fixture
def open_tmp():
    """A fresh directory under /tmp that every user can enter (mode 755), for the tests whose
    child process drops to user ``nobody``; pytest's own tmp_path is private to its user."""
    import os
    import shutil
    import stat
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp(prefix="mangarec-test-", dir="/tmp"))
    d.chmod(0o755)
    yield d

    def unlock(func, path, _exc):  # a test left a mode-000 entry behind: open it, retry
        os.chmod(os.path.dirname(path), stat.S_IRWXU)
        os.chmod(path, stat.S_IRWXU)
        func(path)

    for root, dirs, _ in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), stat.S_IRWXU)
    shutil.rmtree(d, onerror=unlock)
