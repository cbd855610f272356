"""The concept page in a real browser: headless Chromium renders it with the strict CSP."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.chromium import FLAGS, chromium_path
from tests.serving import serving

pytestmark = pytest.mark.slow
BARE_FLAGS = ["--headless", "--enable-logging=stderr", "--v=0"]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium_path(), *BARE_FLAGS, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def test_concept_page_renders_in_chromium_without_csp_violations(tmp_path: Path) -> None:
    with serving(
        tmp_path, "--content", str(Path(__file__).parent / "fixtures/content/valid")
    ) as base:
        result = chromium(
            "--virtual-time-budget=3000", "--dump-dom", f"{base}/concepts/demo-context/alpha",
            profile=tmp_path / "profile",
        )  # fmt: skip
    dom = result.stdout
    assert "<h1>Alpha</h1>" in dom
    assert "<math" in dom  # server-side MathML, no script needed
    assert '<figure class="witness"' in dom
    assert "Content Security Policy" not in result.stderr, result.stderr[-2000:]
    assert "Refused to" not in result.stderr, result.stderr[-2000:]
