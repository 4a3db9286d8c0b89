"""Where an output may go: :func:`file_target` and :func:`dir_target` check a path (and resolve a
symbolic link the user named, saying so in ``Target.notes``); :func:`refuse_link` is what every
writer does with a link it was not told about."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from govindex.diagnostics import OutputError
from govindex.fsio.base import PREFIX, absolute, kind_of, lstat_or_none


def _check_dir(path: Path, directory: Path) -> tuple[Path, ...]:
    """``directory`` (the parent of ``path``, or ``path`` itself) is a writable directory, or can be
    made one: returns the missing directories to create, outermost first."""
    missing: list[Path] = []
    while True:
        try:
            st = os.stat(directory)
            break
        except FileNotFoundError:
            missing.insert(0, directory)
            directory = directory.parent
        except OSError as exc:
            raise OutputError(f"{path}: cannot reach {directory}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path}: {directory} is {kind_of(st.st_mode)}, not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        what = "create anything in" if missing else "write in"
        raise OutputError(f"{path}: cannot {what} the directory {directory} (permission denied or read-only)")
    return tuple(missing)


@dataclass(frozen=True)
class Target:
    """Where an output goes: ``path``, the user's path — or the target of the link they named;
    ``creates``, the missing directories the writer will make on the way."""

    given: Path
    path: Path
    exists: bool
    linked: bool = False
    creates: tuple[Path, ...] = ()

    @property
    def notes(self) -> list[str]:
        """What to tell the user before writing: a link followed, directories created."""
        out = []
        if self.linked:
            out.append(f"{self.given} is a symbolic link: writing to its target {self.path} (the link stays)")
        if self.creates:
            out.append(f"creating the directory {self.creates[-1]} (it does not exist)")
        return out


def _resolve(path: Path | str) -> tuple[Path, os.stat_result | None, bool]:
    """The absolute path, what is there, and whether it was reached through a final symlink."""
    p = absolute(path)
    st = lstat_or_none(p)
    if st is None or not stat.S_ISLNK(st.st_mode):
        return p, st, False
    try:
        p = Path(os.path.realpath(p, strict=True))
    except FileNotFoundError:
        p = Path(os.path.realpath(p))  # a dangling link: its target is created
    except OSError as exc:
        raise OutputError(f"{path}: cannot follow the symbolic link: {exc.strerror}") from None
    return p, lstat_or_none(p), True


def file_target(path: Path | str) -> Target:
    """Check that ``path`` may become a regular file; a symbolic link is resolved (see ``notes``)."""
    p, st, linked = _resolve(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path}: is {kind_of(st.st_mode)}, not a regular file; govindex writes only "
                          f"regular files (choose a file path)")
    creates = _check_dir(p, p.parent)
    return Target(Path(path), p, st is not None, linked, creates)


def dir_target(path: Path | str, replace: bool = False, owned: Callable[[Path], bool] | None = None) -> Target:
    """Check that ``path`` may be written as a directory: files written into it, or (``replace``)
    the whole directory swapped for a new one — then, with ``owned``, every entry of the existing
    directory must be one of ours, so that replacing it loses nothing. A symbolic link is resolved."""
    p, st, linked = _resolve(path)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path}: is {kind_of(st.st_mode)}, not a directory (choose a directory path)")
    creates = _check_dir(p, p if st is not None and not replace else p.parent)
    if st is not None and owned is not None:
        foreign = sorted(e.name for e in _entries(p) if not owned(e))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputError(f"{path}: holds files govindex did not write there ({shown}); replacing the "
                              f"directory would delete them — move them, or choose another directory")
    return Target(Path(path), p, st is not None, linked, creates)


def _entries(directory: Path) -> list[Path]:
    try:
        return [e for e in directory.iterdir() if not e.name.startswith(PREFIX)]
    except OSError as exc:
        raise OutputError(f"{directory}: cannot list it: {exc.strerror}") from None


def refuse_link(path: Path) -> None:
    """Refuse a symbolic link: writers never replace one, nor write through one unannounced."""
    st = lstat_or_none(path)
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{path}: is a symbolic link to {os.readlink(path)}; govindex neither replaces a link "
                          f"nor writes through one unnoticed — give the link's target instead")

