"""Staged runtimes of other interpreters or numpy versions are removed, unless one is in use."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.witnesses import bwrap


def stage(state: Path, name: str) -> Path:
    path = state / name
    (path / "python" / "lib").mkdir(parents=True)
    (path / "python" / "lib" / "libpython.so").write_bytes(b"\0" * 64)
    return path


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    with bwrap._held_lock:  # the holds these tests took on their own temporary stages
        for path in [p for p in bwrap._held_stages if tmp_path in p.parents]:
            os.close(bwrap._held_stages.pop(path))


def shared_lock(path: Path) -> int:
    """What another process using ``path`` holds (flock: per open file, so also here)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def test_stale_stages_go_the_current_and_the_held_ones_stay(state: Path) -> None:
    current = stage(state, "python-current")
    older = stage(state, "python-older")
    in_use = stage(state, "python-in-use")
    half_removed = stage(state, ".trash-python-gone-1-2")
    other = stage(state, "code-abc")  # the harness copies are not runtimes
    holder = shared_lock(in_use)
    try:
        removed = bwrap.remove_stale_stages(state, keep={current.name})
    finally:
        os.close(holder)
    assert removed == ["python-older"]
    assert not older.exists() and not half_removed.exists()
    assert current.is_dir() and in_use.is_dir() and other.is_dir()
    assert (in_use / "python" / "lib" / "libpython.so").stat().st_size == 64  # untouched
    assert bwrap.remove_stale_stages(state, keep={current.name}) == ["python-in-use"]  # freed


def test_a_held_stage_is_never_removed(state: Path) -> None:
    held = stage(state, "python-held")
    assert bwrap.hold_stage(held)
    assert bwrap.remove_stale_stages(state, keep=set()) == []
    assert held.is_dir()


def test_a_stage_removed_before_its_hold_is_not_held(state: Path) -> None:
    assert not bwrap.hold_stage(state / "python-never-made")
    replaced = stage(state, "python-replaced")
    fd = os.open(replaced, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a cleaner has it...
    os.rename(replaced, state / ".trash-x")  # ...and moves it away
    stage(state, "python-replaced")  # someone stages the name again meanwhile
    os.close(fd)
    assert bwrap.hold_stage(replaced)  # the new one, found by name again
    assert bwrap.remove_stale_stages(state, keep=set()) == []


def test_this_process_holds_the_runtime_its_runs_bind(confined: None) -> None:
    layout = bwrap.layout()
    runtime = next(p for p in bwrap._held_stages if p.name.startswith("python-"))
    assert runtime.parent == layout.state_dir and runtime.is_dir()
    fd = os.open(runtime, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
