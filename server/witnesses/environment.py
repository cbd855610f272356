"""The environment a witness runs in, and the cache key of a run.

A cached result is only as good as the environment that produced it: the key covers the
code, its checks, the Python and numpy the sandbox runs, the flow kernels that variable
checks compare against, and the harness, the judge (with its RE2) and the host code around
them that decide the verdict. Change any of them and every earlier run becomes stale.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# The files whose change can change a verdict (besides the kernels, hashed separately): the
# harness that hands back raw outputs, the judge that decides, the host side around them, and
# the confinement code, since what a run may do (start a process, say) decides its status.
_VERDICT_FILES = (
    "harness.py", "judge.py", "patterns.py", "checks.py", "sandbox.py", "confine.py", "seccomp.py"
)


def _digest_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _package_version(name: str) -> str:
    """An installed version, read from its metadata (no import: start-up stays fast)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _numpy_version() -> str:
    return _package_version("numpy")


def _kernels_version() -> str:
    """A digest of the kernels' source files: any change to them changes the key."""
    spec = importlib.util.find_spec("server.kernels")
    if spec is None or not spec.submodule_search_locations:
        return "absent"
    root = Path(next(iter(spec.submodule_search_locations)))
    return "source+" + _digest_files(list(root.rglob("*.py")))


@functools.lru_cache(maxsize=1)
def environment_fingerprint() -> dict[str, str]:
    """Python, numpy, kernel and harness versions: the environment part of a cache key.

    Computed once per process; the sandbox binds the service's own interpreter and numpy,
    so these are also what runs inside it.
    """
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": _numpy_version(),
        "kernels": _kernels_version(),
        "harness": _digest_files([_HERE / name for name in _VERDICT_FILES])
        + f"+re2-{_package_version('google-re2')}",
    }


def run_environment() -> dict[str, str]:
    """The fingerprint plus what is worth recording but must not invalidate the cache."""
    return {
        **environment_fingerprint(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def cache_key(
    code: str, checks: list[dict[str, Any]] | None, environment: dict[str, str] | None = None
) -> str:
    """sha256 (hex) over the code, its checks and the environment fingerprint."""
    payload = json.dumps(
        {
            "code": code,
            "checks": checks or [],
            "env": environment if environment is not None else environment_fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
