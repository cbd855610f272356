"""The sandbox's view of the machine and the bubblewrap command line that builds it.

As root (the service's usual case) every run is::

    bwrap --unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup-try
          --die-with-parent --new-session --hostname witness --clearenv --setenv ...
          --ro-bind /usr /usr --symlink usr/lib /lib ...        (system libraries)
          --tmpfs /usr/lib/python3 --remount-ro ...              (the host's Python packages hidden)
          --ro-bind <stage>/python /sandbox/python               (interpreter and standard library)
          --ro-bind <stage>/site /sandbox/site                   (numpy, numpy.libs: nothing else)
          --ro-bind <synthetic passwd, group> /etc/...  --ro-bind /etc/ld.so.cache ...
          --ro-bind <code>/harness.py /sandbox/harness.py  (and confine.py)
          --proc /proc  --dev /dev
          --bind <scratch tmpfs: size=, nr_inodes=> /tmp  --chdir /tmp
          --ro-bind <run dir> /sandbox/run  --bind <run dir>/result.json /sandbox/run/result.json
          --seccomp <fd>
      -- setpriv --reuid=U --regid=U --clear-groups --no-new-privs --inh-caps=-all
                 --bounding-set=-all
      -- /sandbox/python/bin/python3.X -S -s -B -u /sandbox/confine.py <limits> <started fd>
                 <exec filter> /sandbox/harness.py /sandbox/run/job.json

**One process.** The seccomp filter refuses every new process (``fork``, ``vfork``, ``clone``
without ``CLONE_THREAD``) and ``confine.py`` refuses ``execve`` for itself before the harness
runs; threads stay allowed (numpy's OpenBLAS is told to use one). So RLIMIT_AS bounds the
memory of the whole run and RLIMIT_CPU its CPU time (both count every thread), and
RLIMIT_NPROC, per run uid, is its thread budget.

**What is visible.** Nothing is bound from the checkout, the virtualenv or a home directory:
the interpreter, its standard library (without site-packages, tests, IDLE, Tk),
``lib-dynload``, numpy and numpy.libs are first *staged*: hard-linked (copied across file
systems) into ``<state>/python-<key>``, keyed by what was staged, then bound at neutral
paths. ``/proc/self/mountinfo`` inside therefore names only the state directory, ``/usr``
and tmpfs mounts. A process holds a shared lock on the stages it binds; stages of other
interpreters or numpy versions that no process holds are removed when a layout is built.
The host's own Python package directories under ``/usr`` are covered by empty read-only
tmpfs mounts.

**Scratch.** As root, each run's ``/tmp`` is a tmpfs the service mounts itself (``size=`` and
``nr_inodes=``, nosuid, nodev) under ``<state>/scratch`` and unmounts afterwards; bwrap's own
``--tmpfs`` cannot cap inodes. Without root, bwrap's ``--size`` tmpfs caps bytes only.

No user namespace is made as root: bwrap would map the sandbox uid onto host root, for whom
RLIMIT_NPROC does not bind. ``setpriv`` drops to a per-run unprivileged uid instead (see
``uid_slots``). Without root, bwrap makes a user namespace (``--unshare-all --disable-userns
--cap-drop ALL``) and the process keeps the caller's uid, seen inside as 65534.

The static part of the command and the stage are made once per process.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import stat
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from server.witnesses import uid_slots
from server.witnesses.seccomp import exec_program, seccomp_program

HARNESS = Path(__file__).resolve().parent / "harness.py"
LAUNCHER = Path(__file__).resolve().parent / "confine.py"
PYTHON_INSIDE = "/sandbox/python"
SITE_INSIDE = "/sandbox/site"
# Parts of the standard library a witness has no use for (and the base interpreter's own
# installed packages, which must stay invisible).
STDLIB_LEFT_OUT = frozenset(
    {"site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip",
     "lib2to3"}
)  # fmt: skip
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
    "PYTHONPATH": SITE_INSIDE,
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
    exec_filter: bytes | None
    scratch_dir: Path | None  # where the service mounts each run's scratch (as root)


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


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def _stage_tree(source: Path, target: Path, left_out: frozenset[str] = frozenset()) -> None:
    """``target`` mirrors ``source``: directories 0755, files linked; symlinks inside kept."""
    target.mkdir(mode=0o755)
    for entry in os.scandir(source):
        if entry.name in left_out:
            continue
        path = Path(entry.path)
        if entry.is_symlink():
            link = os.readlink(path)
            if not os.path.isabs(link) and ".." not in Path(link).parts:
                os.symlink(link, target / entry.name)
        elif entry.is_dir():
            _stage_tree(path, target / entry.name)
        elif entry.is_file():
            _link_or_copy(path, target / entry.name)


def _runtime_sources() -> dict[str, str]:
    """What is staged: the interpreter, its shared library, the standard library, numpy."""
    python = os.path.realpath(sys.executable)
    sources = {"python": python, "stdlib": os.path.realpath(sysconfig.get_paths()["stdlib"])}
    library = sysconfig.get_config_var("INSTSONAME")
    libdir = sysconfig.get_config_var("LIBDIR")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and library and libdir:
        path = Path(libdir) / library
        if path.exists():
            sources["libpython"] = os.path.realpath(path)
    numpy = numpy_dir()
    if numpy is not None:
        sources["numpy"] = str(numpy)
        if numpy.with_name("numpy.libs").is_dir():  # the wheel's vendored OpenBLAS
            sources["numpy.libs"] = str(numpy.with_name("numpy.libs"))
    return sources


def _stage_key(sources: dict[str, str]) -> str:
    marks = {}
    for name, path in sorted(sources.items()):
        probe = Path(path) / "__init__.py" if name == "numpy" else Path(path)
        info = os.stat(probe)
        marks[name] = [path, info.st_size, info.st_mtime_ns, info.st_ino]
    marks["version"] = [sys.version]
    return hashlib.sha256(json.dumps(marks, sort_keys=True).encode()).hexdigest()[:16]


# Stages in use by this process: a shared flock on each stage directory, held for the life
# of the process (the layout binds them into every run), so that no other process removes them.
_held_stages: dict[Path, int] = {}
_held_lock = threading.Lock()
STAGE_PREFIXES = ("python-",)  # the runtimes: hundreds of MB each


def hold_stage(stage: Path) -> bool:
    """Hold a shared lock on ``stage`` for this process; False if it is gone (or was being
    removed) by the time the lock was granted: it must then be staged again."""
    with _held_lock:
        if stage in _held_stages:
            return True
        try:
            fd = os.open(stage, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            return False
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a cleaner removes it
        try:
            same = os.stat(stage).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return False
        _held_stages[stage] = fd
        return True


def remove_stale_stages(state: Path, keep: set[str]) -> list[str]:
    """Remove the staged runtimes (``python-*``) of other interpreters or numpy versions that
    no process holds (see :func:`hold_stage`); keep those named in ``keep`` and every one in
    use. Returns the names removed."""
    removed = []
    for entry in sorted(state.iterdir()):
        name = entry.name
        if name.startswith(".trash-"):  # a cleaner that died half-way: nobody can hold it
            shutil.rmtree(entry, ignore_errors=True)
            continue
        if name in keep or not name.startswith(STAGE_PREFIXES):
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use by a running service
            trash = state / f".trash-{name}-{os.getpid()}-{threading.get_ident()}"
            try:
                entry.rename(trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(name)
        finally:
            os.close(fd)
    return removed


def stage_runtime(state: Path) -> Path:
    """The staged interpreter, standard library and numpy, held by this process; made once
    per key, atomically."""
    for _ in range(3):
        stage = _stage_runtime_once(state)
        if hold_stage(stage):
            return stage
    raise OSError(f"{state}: the staged runtime keeps disappearing")


def _stage_runtime_once(state: Path) -> Path:
    sources = _runtime_sources()
    stage = state / f"python-{_stage_key(sources)}"
    if stage.is_dir():
        return stage
    building = Path(tempfile.mkdtemp(prefix=".python-", dir=state))
    try:
        building.chmod(0o755)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        prefix = building / "python"
        (prefix / "bin").mkdir(mode=0o755, parents=True)
        (prefix / "lib").mkdir(mode=0o755)
        _link_or_copy(Path(sources["python"]), prefix / "bin" / version)
        if "libpython" in sources:
            library = Path(sources["libpython"])
            _link_or_copy(library, prefix / "lib" / library.name)
        _stage_tree(Path(sources["stdlib"]), prefix / "lib" / version, STDLIB_LEFT_OUT)
        site = building / "site"
        site.mkdir(mode=0o755)
        for name in ("numpy", "numpy.libs"):
            if name in sources:
                _stage_tree(Path(sources[name]), site / name)
        try:
            building.rename(stage)
        except OSError as error:  # another process staged the same key first
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return stage


def stage_code(state: Path) -> Path:
    """The harness and the launcher, copied under a name keyed by their content, and held
    by this process."""
    for _ in range(3):
        code = _stage_code_once(state)
        if hold_stage(code):
            return code
    raise OSError(f"{state}: the staged harness keeps disappearing")


def _stage_code_once(state: Path) -> Path:
    files = {path.name: path.read_bytes() for path in (HARNESS, LAUNCHER)}
    digest = hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()[:16]
    code = state / f"code-{digest}"
    if not code.is_dir():
        building = Path(tempfile.mkdtemp(prefix=".code-", dir=state))
        try:
            building.chmod(0o755)
            for name, data in files.items():
                (building / name).write_bytes(data)
                (building / name).chmod(0o644)
            with contextlib.suppress(FileExistsError, OSError):
                building.rename(code)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return code


def _hidden_python_dirs() -> list[str]:
    """The host's own Python package directories under /usr (Debian's and /usr/local's)."""
    found = []
    for parent in (Path("/usr/lib"), Path("/usr/local/lib"), Path("/usr/share")):
        with contextlib.suppress(OSError):
            found += [
                str(entry)
                for entry in sorted(parent.iterdir())
                if entry.name.startswith(("python2", "python3", "pyshared"))
                and entry.is_dir()
                and not entry.is_symlink()
            ]
    return found


def _python_args(stage: Path, code: Path) -> tuple[str, list[str]]:
    """Binds of the staged runtime and code at neutral paths; the interpreter inside."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    args: list[str] = []
    for path in _hidden_python_dirs():
        args += ["--perms", "0755", "--tmpfs", path, "--remount-ro", path]
    args += ["--perms", "0755", "--dir", "/sandbox"]
    args += ["--ro-bind", str(stage / "python"), PYTHON_INSIDE]
    args += ["--ro-bind", str(stage / "site"), SITE_INSIDE]
    args += ["--ro-bind", str(code / "harness.py"), "/sandbox/harness.py"]
    args += ["--ro-bind", str(code / "confine.py"), "/sandbox/confine.py"]
    if any((stage / "python" / "lib").glob("libpython*")):
        args += ["--setenv", "LD_LIBRARY_PATH", f"{PYTHON_INSIDE}/lib"]
    return f"{PYTHON_INSIDE}/bin/{version}", args


def _namespace_args(root_mode: bool) -> list[str]:
    if root_mode:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]  # fmt: skip
    uid = str(USERNS_UID)
    return ["--unshare-all", "--unshare-user", "--uid", uid, "--gid", uid, "--disable-userns",
            "--cap-drop", "ALL"]  # fmt: skip


def remove_stale_run_dirs(runs_dir: Path, scratch_dir: Path | None = None) -> None:
    """Run directories (and scratch mounts) left by a process that died mid-run.

    They are named ``<pid>-...``; those of a live process are left alone.
    """
    for parent in (runs_dir, scratch_dir):
        if parent is None:
            continue
        for entry in parent.iterdir():
            pid = entry.name.split("-", 1)[0]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                if parent is scratch_dir:
                    _unmount(entry)
                    with contextlib.suppress(OSError):
                        entry.rmdir()
                else:
                    shutil.rmtree(entry, ignore_errors=True)
            except PermissionError:
                pass


_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MNT_DETACH = 0x2, 0x4, 0x8, 0x2


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _unmount(path: Path) -> None:
    _libc().umount2(os.fsencode(path), _MNT_DETACH)  # EINVAL when nothing is mounted: fine


@contextlib.contextmanager
def scratch_mount(layout: Layout, size_bytes: int, inodes: int) -> Iterator[Path | None]:
    """As root: a fresh tmpfs capped at ``size_bytes`` and ``inodes``, unmounted afterwards.

    Yields None when the service is not root (bwrap's ``--size`` tmpfs is used instead).
    """
    if layout.scratch_dir is None:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=layout.scratch_dir))
    try:
        options = f"size={size_bytes},nr_inodes={inodes},mode=1777".encode()
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        if _libc().mount(b"tmpfs", os.fsencode(path), b"tmpfs", flags, options) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"cannot mount the scratch tmpfs: {os.strerror(number)}")
        yield path
    finally:
        _unmount(path)
        with contextlib.suppress(OSError):
            path.rmdir()


def build_layout() -> Layout:
    """Raises FileNotFoundError naming a missing tool, OSError when files cannot be made."""
    root_mode = os.geteuid() == 0
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None or (root_mode and setpriv is None):
        raise FileNotFoundError("bwrap" if bwrap is None else "setpriv")
    state = state_dir()
    runs_dir = private_dir(state / "runs")
    scratch_dir = private_dir(state / "scratch") if root_mode else None
    remove_stale_run_dirs(runs_dir, scratch_dir)
    if root_mode:
        private_dir(state / "uids")
    etc = _synthetic_etc(state, root_mode)
    stage, code = stage_runtime(state), stage_code(state)
    remove_stale_stages(state, keep={stage.name, code.name})

    args = _namespace_args(root_mode)
    args += ["--die-with-parent", "--new-session", "--hostname", "witness", "--clearenv"]
    for name, value in SANDBOX_ENV.items():
        args += ["--setenv", name, value]
    args += _system_args()
    python, python_binds = _python_args(stage, code)
    args += python_binds
    args += ["--perms", "0755", "--dir", "/etc"]
    args += ["--ro-bind", str(etc / "passwd"), "/etc/passwd"]
    args += ["--ro-bind", str(etc / "group"), "/etc/group"]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
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
        exec_filter=exec_program(),
        scratch_dir=scratch_dir,
    )


@functools.lru_cache(maxsize=1)
def layout() -> Layout:
    return build_layout()


def confined_command(
    layout: Layout,
    directory: Path,
    scratch: Path | int,
    uid: int | None,
    seccomp_fd: int | None,
    *,
    rlimits: dict[str, list[int]],
    started_fd: int,
) -> list[str]:
    """The full command of one run whose files are in ``directory`` on the host.

    ``scratch`` is the run's mounted scratch tmpfs, or the byte size of one bwrap makes.
    ``started_fd`` is the write end of the pipe the launcher signals on once confined.
    """
    command = [layout.bwrap, *layout.static_args]
    if isinstance(scratch, Path):
        command += ["--bind", str(scratch), "/tmp"]
    else:
        command += ["--perms", "1777", "--size", str(scratch), "--tmpfs", "/tmp"]
    command += ["--chdir", "/tmp"]
    command += ["--ro-bind", str(directory), RUN_DIR_INSIDE]
    command += ["--bind", str(directory / "result.json"), f"{RUN_DIR_INSIDE}/result.json"]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    command.append("--")
    if uid is not None and layout.setpriv is not None:
        command += [layout.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]  # fmt: skip
    exec_filter = layout.exec_filter.hex() if layout.exec_filter is not None else "-"
    command += [layout.python, *PYTHON_FLAGS, "/sandbox/confine.py",
                json.dumps(rlimits, separators=(",", ":")), str(started_fd), exec_filter,
                "/sandbox/harness.py", f"{RUN_DIR_INSIDE}/job.json"]  # fmt: skip
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
