"""Debian's Chromium for the browser tests: where it is and the flags it starts with.

The ``browser`` fixture (``tests/conftest.py``) starts it under Playwright; ``test_browser``
runs it bare. Without it a browser test is skipped, except on CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Quiet and offline: no sync, updates, QUIC or background fetches during a test.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    """The Chromium executable; skips the test (fails it on CI) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found
