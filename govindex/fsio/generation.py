"""A directory as one generation: :func:`replace_dir` swaps a fully written, fsynced directory in
whole; :func:`recover_dir` finishes a swap a kill interrupted; the ``generation.json`` manifest
lets a reader check that the files it reads are of one generation (:func:`check_manifest`)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from govindex.diagnostics import OutputError
from govindex.fsio import base
from govindex.fsio.base import (
    Fill,
    absolute,
    fill_file,
    fsync_path,
    lstat_or_none,
    make_parents,
    os_error,
    remove,
    stale_temps,
    step,
    temp_for,
)
from govindex.fsio.target import dir_target, refuse_link

# --- a directory as one generation ------------------------------------------------------------

MANIFEST = "generation.json"


def replace_dir(path: Path | str, fill: Fill, owned: Callable[[Path], bool] | None = None,
                manifest: bool = False) -> Path:
    """Write a whole directory as one generation and swap it in (see the module docstring).

    ``fill`` writes every file into the staging directory it is given; ``owned`` says which entries
    of an existing directory are ours (anything else is refused before a byte is written);
    ``manifest`` adds :data:`MANIFEST`. Returns the directory."""
    dest = absolute(path)
    refuse_link(dest)
    recover_dir(dest)
    dir_target(dest, replace=True, owned=owned)
    stage = temp_for(dest, "new")
    try:
        make_parents(dest)
        os.mkdir(stage)
        step(f"mkdir {stage.name}")
        fill(stage)
        _sync_tree(stage)
        if manifest:
            write_manifest(stage)
        fsync_path(stage)
        step(f"fsync {stage.name}/")
        _swap(stage, dest)
    except OSError as exc:
        raise os_error(dest, exc) from None
    finally:
        if os.path.lexists(stage):
            remove(stage)
    return dest


def _sync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), key=lambda p: (-len(p.parts), str(p))):  # files before their directory
        fsync_path(p)
        step(f"fsync {p.relative_to(root)}")


def _swap(stage: Path, dest: Path) -> None:
    if lstat_or_none(dest) is None:
        os.rename(stage, dest)
        step(f"rename {stage.name} → {dest.name}")
        old = None
    elif base.EXCHANGE and _exchange(stage, dest):
        step(f"exchange {stage.name} ⇄ {dest.name}")
        old = stage  # the previous generation is where the new one was
    else:
        old = stage.with_name(stage.name[: -len("new")] + "old")
        os.rename(dest, old)
        step(f"rename {dest.name} → {old.name}")
        os.rename(stage, dest)
        step(f"rename {stage.name} → {dest.name}")
    fsync_path(dest.parent)
    step(f"fsync {dest.parent.name}/")
    if old is not None:
        shutil.rmtree(old)
        step(f"remove {old.name}")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    kernel, libc or filesystem lacks it, so the caller falls back to two renames."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def recover_dir(path: Path | str) -> str | None:
    """Finish a swap a killed writer left half done, and remove stale temps of ``path``.

    Returns what was done, for a note (None when there was nothing to do)."""
    dest = absolute(path)
    stale = stale_temps(dest.parent, dest.name, ("new", "old"))
    done = None
    try:
        if stale and lstat_or_none(dest) is None:
            done = _finish_swap(dest, stale)
        for temp, _ in stale:
            if os.path.lexists(temp):
                remove(temp)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot recover from an interrupted write: {exc.strerror}") from None
    return done


def _finish_swap(dest: Path, stale: list[tuple[Path, re.Match]]) -> str | None:
    # The old generation is moved aside only once the new one is complete and fsynced, so with the
    # directory gone and an `.old` present, its `.new` partner is whole: roll forward.
    by = {(m["pid"], m["token"], m["kind"]): temp for temp, m in stale}
    for (pid, token, kind), old in by.items():
        if kind != "old":
            continue
        new = by.get((pid, token, "new"))
        os.rename(new or old, dest)
        fsync_path(dest.parent)
        return f"{dest}: completed a replacement a killed process left half done" if new else \
            f"{dest}: restored the previous contents a killed process had moved aside"
    return None


def write_manifest(directory: Path) -> dict:
    """Write :data:`MANIFEST` into ``directory``: a generation id and every file's size and sha256."""
    files = {str(p.relative_to(directory)): _digest(p) for p in sorted(directory.rglob("*"))
             if p.is_file() and p.name != MANIFEST}
    gen = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(4)}"
    doc = {"generation": gen, "files": files}
    target = directory / MANIFEST
    fill_file(target, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    fsync_path(target)
    step(f"write {MANIFEST}")
    return doc


def _digest(path: Path) -> dict:
    with open(path, "rb") as fh:
        return {"bytes": os.fstat(fh.fileno()).st_size, "sha256": hashlib.file_digest(fh, "sha256").hexdigest()}


def check_manifest(directory: Path, names: list[str]) -> tuple[str | None, list[str]]:
    """The generation id of ``directory`` and the files of ``names`` that are not as its manifest
    records them (``(None, [])`` for a directory without a manifest)."""
    try:
        doc = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files, gen = doc["files"], str(doc["generation"])
    except FileNotFoundError:
        return None, []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return "?", [f"{MANIFEST} is unreadable ({exc})"]
    bad = []
    for name in names:
        want = files.get(name)
        p = directory / name
        if want is None:
            bad.append(f"{name} is not in the generation")
        elif not p.is_file() or _digest(p) != want:
            bad.append(f"{name} is not the file of generation {gen}")
    return gen, bad

