"""The environment fingerprint and the cache key of a run."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest

from server.witnesses import environment
from server.witnesses.environment import cache_key, environment_fingerprint, run_environment
from server.witnesses.sandbox import UNSAFE_ENV, unconfined_allowed


def test_the_fingerprint_names_python_numpy_kernels_and_harness() -> None:
    fingerprint = environment_fingerprint()
    assert set(fingerprint) == {"python", "numpy", "kernels", "harness"}
    assert fingerprint["numpy"] == np.__version__
    assert platform.python_version() in fingerprint["python"]
    assert "platform" in run_environment()


def test_the_cache_key_covers_code_checks_and_environment() -> None:
    checks = [{"kind": "stdout", "expected": "1"}]
    key = cache_key("print(1)", checks)
    assert key == cache_key("print(1)", [dict(checks[0])])
    assert len(key) == 64
    assert key != cache_key("print(1) ", checks)
    assert key != cache_key("print(1)", [{"kind": "stdout", "expected": "2"}])
    other = {**environment_fingerprint(), "numpy": "0.0.1"}
    assert key != cache_key("print(1)", checks, other)
    assert cache_key("x = 1", None) == cache_key("x = 1", [])


def test_the_judges_code_is_part_of_the_key(tmp_path: Path) -> None:
    """Old cached passes go stale when the judge (or anything else deciding a verdict) changes."""
    here = Path(environment.__file__).parent
    copies = []
    for name in environment._VERDICT_FILES:
        copy = tmp_path / name
        copy.write_bytes((here / name).read_bytes())
        copies.append(copy)
    before = environment._digest_files(copies)
    assert before == environment._digest_files([here / n for n in environment._VERDICT_FILES])
    judge = tmp_path / "judge.py"
    judge.write_text(judge.read_text() + "\n# changed\n")
    assert environment._digest_files(copies) != before
    assert "re2-" in environment_fingerprint()["harness"]


def test_the_unsafe_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    assert unconfined_allowed() is False
    monkeypatch.setenv(UNSAFE_ENV, "true")
    assert unconfined_allowed() is True
    monkeypatch.setenv(UNSAFE_ENV, "false")
    assert unconfined_allowed() is False


def test_the_confinement_code_is_part_of_the_cache_key(tmp_path: Path) -> None:
    """Whether a run may start a process decides its status: a change there makes runs stale."""
    here = Path(environment.__file__).parent
    copies = []
    for name in environment._VERDICT_FILES:
        copies.append(tmp_path / name)
        copies[-1].write_bytes((here / name).read_bytes())
    assert {"confine.py", "seccomp.py"} <= {path.name for path in copies}
    before = environment._digest_files(copies)
    (tmp_path / "seccomp.py").write_text("# fork allowed again\n", encoding="utf-8")
    assert environment._digest_files(copies) != before
