"""The sandbox's view of the machine and the bubblewrap command line that builds it.

As root (the service's usual case) every run is::

    bwrap --unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup-try
          --die-with-parent --new-session --hostname witness --clearenv --setenv ...
          --ro-bind /usr /usr --symlink usr/lib /lib ...        (system libraries)
          --ro-bind <python prefix> <same path>                  (the interpreter, read-only)
          --ro-bind <numpy> /sandbox/site/numpy [numpy.libs]     (and nothing else installed)
          --ro-bind <synthetic passwd, group> /etc/...  --ro-bind /etc/ld.so.cache ...
          --ro-bind <harness.py> /sandbox/harness.py  --proc /proc  --dev /dev
          --perms 1777 --size <scratch cap> --tmpfs /tmp  --chdir /tmp
          --ro-bind <run dir> /sandbox/run  --bind <run dir>/result.json /sandbox/run/result.json
          --seccomp <fd>
      -- setpriv --reuid=U --regid=U --clear-groups --no-new-privs --inh-caps=-all
                 --bounding-set=-all
      -- python -S -s -B -u /sandbox/harness.py /sandbox/run/job.json

No user namespace is made as root: bwrap would map the sandbox uid onto host root, for whom
RLIMIT_NPROC does not bind. ``setpriv`` drops to a per-run unprivileged uid instead (see
``uid_slots``). Without root, bwrap makes a user namespace (``--unshare-all --disable-userns
--cap-drop ALL``) and the process keeps the caller's uid, seen inside as 65534.

The interpreter may live where the sandbox uid cannot enter (``/root/.pyenv``): it is bound
read-only at its own path into the sandbox's view, with the missing parent directories made
0755 there; permissions on the host are never loosened. The static part of the command is
computed once per process.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from server.witnesses import uid_slots
from server.witnesses.seccomp import seccomp_program

HARNESS = Path(__file__).resolve().parent / "harness.py"
USERNS_UID = 65534
INNER_PATH = "/usr/local/bin:/usr/bin:/bin"
# No site (nothing else from the service's site-packages), no user site, no .pyc writes,
# unbuffered output so that what was printed before a kill is kept.
PYTHON_FLAGS = ("-S", "-s", "-B", "-u")
SANDBOX_ENV = {
    "PATH": INNER_PATH,
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "USER": "witness",
    "PYTHONPATH": "/sandbox/site",
    "PYTHONSAFEPATH": "1",
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
RUN_DIR_INSIDE = "/sandbox/run"

Mode = Literal["bwrap+setpriv", "bwrap-userns"]


@dataclass(frozen=True)
class Layout:
    """What every run shares: the unchanging bwrap arguments and where run files go."""

    mode: Mode
    bwrap: str
    setpriv: str | None
    python: str
    static_args: tuple[str, ...]
    state_dir: Path
    runs_dir: Path
    seccomp: bytes | None


def numpy_dir() -> Path | None:
    spec = importlib.util.find_spec("numpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def private_dir(path: Path) -> Path:
    """A directory only this user can enter; refuses one that someone else planted."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} must be a directory owned by uid {os.geteuid()}, mode 700")
    return path


def state_dir() -> Path:
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        return private_dir(Path("/run/readingroom-sandbox"))
    return private_dir(Path(tempfile.gettempdir()) / f"readingroom-sandbox-{os.geteuid()}")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o644)
    temporary.replace(path)


def _synthetic_etc(state: Path, root_mode: bool) -> Path:
    """passwd and group naming only root and the sandbox uids: never the host's files."""
    etc = state / "etc"
    etc.mkdir(mode=0o755, exist_ok=True)
    first = uid_slots.UID_BASE
    uids = range(first, first + uid_slots.UID_COUNT) if root_mode else [USERNS_UID]
    users = ["root:x:0:0:root:/nonexistent:/usr/sbin/nologin"]
    users += [f"witness:x:{uid}:{uid}:witness sandbox:/tmp:/usr/sbin/nologin" for uid in uids]
    groups = ["root:x:0:"] + [f"witness:x:{uid}:" for uid in uids]
    _write_atomically(etc / "passwd", "\n".join(users) + "\n")
    _write_atomically(etc / "group", "\n".join(groups) + "\n")
    return etc


def _dir_args(path: str, made: set[str]) -> list[str]:
    """``--dir`` for each missing ancestor of ``path``, mode 755 (bwrap's default is 700)."""
    args: list[str] = []
    parts = Path(path).parts
    for depth in range(2, len(parts)):
        ancestor = str(Path(*parts[:depth]))
        if ancestor not in made:
            made.add(ancestor)
            args += ["--perms", "0755", "--dir", ancestor]
    return args


def _system_args(made: set[str]) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    made.add("/usr")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
        made.add(str(path))
    return args


def _python_args(made: set[str]) -> tuple[str, list[str]]:
    """The real interpreter and the read-only binds it needs, at their own paths."""
    python = os.path.realpath(sys.executable)
    needed = {os.path.realpath(sys.base_prefix), os.path.dirname(os.path.dirname(python))}
    args: list[str] = []
    for path in sorted(needed):
        if not any(path == m or path.startswith(m + "/") for m in ("/usr", "/bin", "/lib")):
            args += [*_dir_args(path, made), "--ro-bind", path, path]
            made.add(path)
    return python, args


def _namespace_args(root_mode: bool) -> list[str]:
    if root_mode:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]  # fmt: skip
    uid = str(USERNS_UID)
    return ["--unshare-all", "--unshare-user", "--uid", uid, "--gid", uid, "--disable-userns",
            "--cap-drop", "ALL"]  # fmt: skip


def remove_stale_run_dirs(runs_dir: Path) -> None:
    """Run directories left by a process that died mid-run (they are named ``<pid>-...``)."""
    for entry in runs_dir.iterdir():
        pid = entry.name.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            pass


def build_layout() -> Layout:
    """Raises FileNotFoundError naming a missing tool, OSError when files cannot be made."""
    root_mode = os.geteuid() == 0
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None or (root_mode and setpriv is None):
        raise FileNotFoundError("bwrap" if bwrap is None else "setpriv")
    state = state_dir()
    runs_dir = private_dir(state / "runs")
    remove_stale_run_dirs(runs_dir)
    if root_mode:
        private_dir(state / "uids")
    etc = _synthetic_etc(state, root_mode)

    made: set[str] = set()
    args = _namespace_args(root_mode)
    args += ["--die-with-parent", "--new-session", "--hostname", "witness", "--clearenv"]
    for name, value in SANDBOX_ENV.items():
        args += ["--setenv", name, value]
    args += _system_args(made)
    python, python_binds = _python_args(made)
    args += python_binds
    args += ["--perms", "0755", "--dir", "/etc"]
    args += ["--ro-bind", str(etc / "passwd"), "/etc/passwd"]
    args += ["--ro-bind", str(etc / "group"), "/etc/group"]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    args += ["--perms", "0755", "--dir", "/sandbox", "--perms", "0755", "--dir", "/sandbox/site"]
    numpy = numpy_dir()
    if numpy is not None:
        args += ["--ro-bind", str(numpy), "/sandbox/site/numpy"]
        libs = numpy.with_name("numpy.libs")  # the wheel's vendored OpenBLAS
        if libs.is_dir():
            args += ["--ro-bind", str(libs), "/sandbox/site/numpy.libs"]
    args += ["--ro-bind", str(HARNESS), "/sandbox/harness.py"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    return Layout(
        mode="bwrap+setpriv" if root_mode else "bwrap-userns",
        bwrap=bwrap,
        setpriv=setpriv if root_mode else None,
        python=python,
        static_args=tuple(args),
        state_dir=state,
        runs_dir=runs_dir,
        seccomp=seccomp_program(),
    )


@functools.lru_cache(maxsize=1)
def layout() -> Layout:
    return build_layout()


def confined_command(
    layout: Layout, directory: Path, scratch_bytes: int, uid: int | None, seccomp_fd: int | None
) -> list[str]:
    """The full command of one run whose files are in ``directory`` on the host."""
    command = [layout.bwrap, *layout.static_args]
    command += ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", "/tmp"]
    command += ["--chdir", "/tmp"]
    command += ["--ro-bind", str(directory), RUN_DIR_INSIDE]
    command += ["--bind", str(directory / "result.json"), f"{RUN_DIR_INSIDE}/result.json"]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    command.append("--")
    if uid is not None and layout.setpriv is not None:
        command += [layout.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]  # fmt: skip
    command += [layout.python, *PYTHON_FLAGS, "/sandbox/harness.py", f"{RUN_DIR_INSIDE}/job.json"]
    return command


def unconfined_command(directory: Path) -> tuple[list[str], dict[str, str]]:
    """Unsafe mode: the harness straight on the host, with a cleared environment."""
    scratch = directory / "scratch"
    scratch.mkdir(exist_ok=True)
    numpy = numpy_dir()
    env = {
        **SANDBOX_ENV,
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "PYTHONPATH": str(numpy.parent) if numpy else "",
    }
    python = os.path.realpath(sys.executable)
    return [python, *PYTHON_FLAGS, str(HARNESS), str(directory / "job.json")], env


@contextlib.contextmanager
def run_dir(runs_dir: Path, uid: int | None) -> Iterator[Path]:
    """A fresh host directory for one run's files; ``result.json`` writable only by ``uid``."""
    directory = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=runs_dir))
    try:
        directory.chmod(0o755)
        result = directory / "result.json"
        result.touch(mode=0o600)
        if uid is not None:
            os.chown(result, uid, uid)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
