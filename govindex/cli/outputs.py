"""``--out`` for every command: the path is checked before any work is done (a device node, a FIFO
or an unwritable directory costs nothing), and a symbolic link the user named is followed, and a
missing directory created, only with a note on stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from govindex.cli.base import err
from govindex.fsio import dir_target, file_target, recover_dir


def out_dir(path: Path, replace: bool = False, owned: Callable[[Path], bool] | None = None) -> Path:
    """The directory to write: ``path``, or the target of the link it is (said on stderr).

    ``replace``: the directory is swapped whole, so an existing one must hold only ``owned`` entries.
    Raises :class:`~govindex.diagnostics.OutputError` (exit 1) for anything that cannot be one."""
    if replace:
        _say(recover_dir(path))
    target = dir_target(path, replace=replace, owned=owned)
    for note in target.notes:
        _say(note)
    return target.path


def out_file(path: Path) -> Path:
    """The file to write: ``path``, or the target of the link it is (said on stderr)."""
    target = file_target(path)
    for note in target.notes:
        _say(note)
    return target.path


def _say(note: str | None) -> None:
    if note:
        err.print(f"note: {note}", markup=False, highlight=False)
