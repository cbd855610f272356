"""Reading a content tree's files without trusting them: regular files inside the tree only,
each under a size cap and valid UTF-8; anything else is a ``file:line`` problem.

Symlinks are never followed, whether they lead out of the tree or stay inside it: a content
file or a context directory that is a symlink is refused, with where it leads. The tree's own
root may be a symlink (it is the path the operator chose). Files are opened with
``O_NOFOLLOW`` and ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a FIFO
or a device cannot block the read and a swap after the listing cannot slip a link in.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from server.ingest.problems import Problems

MAX_FILE_BYTES = 512 * 1024
"""Size cap of one content file (the largest bundled concept file is about 40 KB)."""

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def read_content_file(path: Path | str, shown: str, root: Path, problems: Problems) -> str | None:
    """The text of one content file, or None after adding the problem that stops it."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            problems.add(shown, 1, symlink_problem(path, root))
        else:
            problems.add(shown, 1, f"cannot be read: {error.strerror}")
        return None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        problems.add(shown, 1, f"is not a regular file ({_kind(mode)})")
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        problems.add(shown, 1, f"is over the size limit of {MAX_FILE_BYTES} bytes")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        problems.add(
            shown,
            line,
            f"is not valid UTF-8: byte 0x{data[error.start]:02x} at column {column} "
            f"({error.reason})",
        )
        return None


def concept_paths(root: Path, shown_root: str, problems: Problems) -> list[tuple[str, str, str]]:
    """``(path, context, file name)`` of each ``<context>/<slug>.md``, sorted, no symlink followed.

    A context directory or a ``.md`` file that is a symlink is a problem; other entries
    (a README at the top, notes without ``.md``) are not content and are left alone. Paths are
    plain strings: a large tree has thousands, and ``Path`` objects cost more than the reads.
    """
    paths: list[tuple[str, str, str]] = []
    for context in _entries(root):
        if context.is_symlink():
            if Path(context.path).is_dir():  # would have been read as a context
                problems.add(f"{shown_root}/{context.name}", 1, symlink_problem(context, root))
            continue
        if not context.is_dir(follow_symlinks=False):
            continue
        for entry in _entries(Path(context.path)):
            if entry.name.endswith(".md"):
                paths.append((entry.path, context.name, entry.name))
    return paths  # sorted already: contexts in name order, each context's files in name order


def symlink_problem(path: Path | str | os.DirEntry[str], root: Path) -> str:
    target = Path(os.path.realpath(path))
    if target.is_relative_to(root.resolve()):
        return "is a symlink (within the content tree); symlinks are not followed"
    return "is a symlink to outside the content tree; symlinks are not followed"


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError:
        return []


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"
