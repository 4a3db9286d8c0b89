"""The primitives of :mod:`govindex.fsio`: the kill-test hook, what is at a path, temp names,
fsync, and the errors an ``OSError`` becomes."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import signal
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from govindex.diagnostics import OutputError

PREFIX = ".govindex-"
KILL_ENV = "GOVINDEX_FSIO_KILL_AFTER"
TRACE_ENV = "GOVINDEX_FSIO_TRACE"
# .govindex-<name>.<pid>.<token>.<kind>: <name> may hold dots, so the fields are taken from the end.
_TEMP = re.compile(r"^\.govindex-(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.(?P<kind>tmp|new|old|commit)$")
EXCHANGE = sys.platform == "linux"  # tests turn it off to exercise the two-rename swap

Fill = Callable[[Path], None]  # writes the file (or the directory's contents) at the path it is given
_steps = 0


def step(label: str) -> None:
    """Count one durable filesystem step; the kill-test hook acts here (see the module docstring)."""
    global _steps
    _steps += 1
    if os.environ.get(TRACE_ENV):
        print(f"fsio step {_steps}: {label}", file=sys.stderr, flush=True)
    if os.environ.get(KILL_ENV) == str(_steps):
        os.kill(os.getpid(), signal.SIGKILL)


# --- what is at a path ------------------------------------------------------------------------


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def kind_of(mode: int) -> str:
    """What an ``st_mode`` is, in words: ``a character device``, ``a FIFO (named pipe)``…"""
    return next((name for test, name in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else "a special file")


def lstat_or_none(path: Path) -> os.stat_result | None:
    """``os.lstat`` (the link itself, never its target), or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent)
        raise OutputError(f"{path}: {blocker} is {kind_of(os.stat(blocker).st_mode)}, not a directory") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot look at it: {exc.strerror}") from None


def absolute(path: Path | str) -> Path:
    """``path`` made absolute and normalised; the root directory is refused."""
    # Normalised (no `.`/`..`) but links left alone: a link is for the caller to resolve, or refuse.
    p = Path(os.path.abspath(os.fspath(path)))
    if p.name == "":
        raise OutputError(f"{path}: govindex does not write over the root directory")
    return p


# --- durability -------------------------------------------------------------------------------


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory's fsync makes the renames in it durable)."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_for(dest: Path, kind: str) -> Path:
    """A fresh temp name next to ``dest``: ``.govindex-<name>.<pid>.<token>.<kind>``."""
    return dest.parent / f"{PREFIX}{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours always does; another user's counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temps(directory: Path, name: str | None, kinds: tuple[str, ...]) -> list[tuple[Path, re.Match]]:
    """Temps of ``kinds`` in ``directory`` (for ``name`` only, if given) whose writing process is gone."""
    try:
        entries = list(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []  # no such directory, so no temps in it (what is wrong with the path is said elsewhere)
    found = [(e, m) for e in entries if (m := _TEMP.match(e.name))]
    return [(e, m) for e, m in found
            if m["kind"] in kinds and name in (None, m["name"]) and not alive(int(m["pid"]))]


def remove(path: Path) -> None:
    """Delete a temp, file or directory (a link is unlinked, never followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def os_error(path: Path, exc: OSError) -> OutputError:
    """The user-facing error for an ``OSError`` met while writing ``path``."""
    hint = {errno.ENOSPC: " (the disk is full)", errno.EROFS: " (a read-only filesystem)",
            errno.EACCES: " (permission denied)", errno.EPERM: " (not permitted)"}.get(exc.errno or 0, "")
    return OutputError(f"{path}: cannot write it: {exc.strerror or exc}{hint}")


def fill_file(tmp: Path, content: str | bytes | Fill) -> None:
    """Create ``tmp`` with ``content``: text (UTF-8), bytes, or a function that writes the file."""
    if callable(content):
        content(tmp)
        return
    data = content.encode("utf-8") if isinstance(content, str) else content
    # os.open with 0o666 (not mkstemp's 0o600): the file gets the usual umask permissions.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()


def make_parents(path: Path) -> None:
    """Create the missing directories above ``path`` (each durable before anything goes in it)."""
    missing = [d for d in reversed(path.parents) if not d.exists()]
    for d in missing:
        os.mkdir(d)
        fsync_path(d.parent)
        step(f"mkdir {d.name}")


def keep_mode(dest: Path, tmp: Path) -> None:
    """Give ``tmp`` the permission bits of the ``dest`` it replaces, if there is one."""
    # Replacing a file keeps its permission bits (a results file shared with a group stays shared).
    try:
        os.chmod(tmp, stat.S_IMODE(os.stat(dest).st_mode))
    except FileNotFoundError:
        pass
