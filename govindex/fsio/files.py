"""One file, written atomically and durably: :func:`write_file`."""

from __future__ import annotations

import os
from pathlib import Path

from govindex.fsio.base import (
    Fill,
    absolute,
    fill_file,
    fsync_path,
    keep_mode,
    make_parents,
    os_error,
    remove,
    stale_temps,
    step,
    temp_for,
)
from govindex.fsio.target import file_target, refuse_link

# --- one file ---------------------------------------------------------------------------------


def write_file(path: Path | str, content: str | bytes | Fill) -> Path:
    """Write ``content`` (text as UTF-8, bytes, or a function that writes the file at the path it is
    given) to ``path`` atomically and durably; returns ``path``. Missing directories are created."""
    dest = absolute(path)
    refuse_link(dest)
    file_target(dest)
    for old, _ in stale_temps(dest.parent, dest.name, ("tmp",)):
        remove(old)
    tmp = temp_for(dest, "tmp")
    try:
        make_parents(dest)
        fill_file(tmp, content)
        step(f"write {tmp.name}")
        keep_mode(dest, tmp)
        fsync_path(tmp)
        step(f"fsync {tmp.name}")
        os.replace(tmp, dest)
        step(f"rename {dest.name}")
        fsync_path(dest.parent)
        step(f"fsync {dest.parent.name}/")
    except OSError as exc:
        raise os_error(dest, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest

