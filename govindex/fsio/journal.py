"""Several files into an existing directory, all or nothing: :func:`commit` (plan, stage, journal,
rename) and :func:`recover_commits` (roll a journal forward, an uncommitted plan back)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from govindex.diagnostics import OutputError
from govindex.fsio.base import (
    Fill,
    absolute,
    fill_file,
    fsync_path,
    keep_mode,
    kind_of,
    lstat_or_none,
    make_parents,
    os_error,
    remove,
    stale_temps,
    step,
    temp_for,
)
from govindex.fsio.target import dir_target, refuse_link

# --- several files into a directory, all or nothing --------------------------------------------


def commit(root: Path | str, files: dict[Path, str | bytes | Fill]) -> list[Path]:
    """Write ``files`` (paths under ``root``; missing directories are created) all or nothing.

    Plan → stage and fsync every file next to its destination → the plan becomes the journal (the
    commit point) → renames → the journal goes. A kill before the commit point leaves the old
    files (:func:`recover_commits` deletes the staged ones), after it the new ones (it finishes
    the renames)."""
    base = _open(root)
    dests = [absolute(p) for p in files]
    for d in dests:
        _check_inside(base, d)
    temps = [temp_for(d, "tmp") for d in dests]
    made = _missing_dirs(base, dests)
    record = temp_for(base / "journal", "commit")
    renames = [[_rel(base, t), _rel(base, d)] for t, d in zip(temps, dests)]
    plan = {"dirs": [_rel(base, d) for d in made], "renames": renames}
    try:
        _record(base, record, plan)
        _stage(made, temps, dests, list(files.values()))
        os.rename(record / "plan.json", record / "journal.json")
        fsync_path(record)
        step("commit point")
        _apply(base, renames)
        shutil.rmtree(record)
        fsync_path(base)
        step(f"remove {record.name}")
    except BaseException as exc:
        if not (record / "journal.json").exists():
            _roll_back(base, record, plan)
        if isinstance(exc, OSError):
            raise os_error(base, exc) from None
        raise
    return dests


def _open(root: Path | str) -> Path:
    """The directory to commit into, created if missing, with any interrupted commit recovered."""
    base = absolute(root)
    dir_target(base)  # a link to a directory is fine here: files go into it, the link is not replaced
    try:
        make_parents(base / "_")
    except OSError as exc:
        raise os_error(base, exc) from None
    recover_commits(base)
    return base


def _record(base: Path, record: Path, plan: dict) -> None:
    os.mkdir(record)
    fill_file(record / "plan.json", json.dumps(plan, ensure_ascii=False))
    fsync_path(record / "plan.json")
    fsync_path(base)
    step("plan")


def _check_inside(base: Path, dest: Path) -> None:
    if base not in dest.parents:
        raise OutputError(f"{dest}: not inside {base}")
    refuse_link(dest)
    st = lstat_or_none(dest)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{dest}: is {kind_of(st.st_mode)}, not a regular file; govindex writes only regular files")


def _rel(base: Path, p: Path) -> str:
    return str(p.relative_to(base))


def _missing_dirs(base: Path, dests: list[Path]) -> list[Path]:
    out: list[Path] = []
    for d in dests:
        for parent in reversed(d.parents):
            if base in parent.parents and not parent.exists() and parent not in out:
                out.append(parent)
    return out


def _stage(made: list[Path], temps: list[Path], dests: list[Path], contents: list) -> None:
    for d in made:
        os.mkdir(d)
        step(f"mkdir {d.name}")
    for tmp, dest, content in zip(temps, dests, contents):
        fill_file(tmp, content)
        step(f"write {tmp.name}")
        keep_mode(dest, tmp)
        fsync_path(tmp)
        step(f"fsync {tmp.name}")
    for parent in dict.fromkeys(t.parent for t in temps):
        fsync_path(parent)
        step(f"fsync {parent.name}/")


def _apply(base: Path, renames: list[list[str]]) -> None:
    for tmp, dest in renames:
        if os.path.lexists(base / tmp):
            os.replace(base / tmp, base / dest)
            step(f"rename {dest}")
    for parent in dict.fromkeys((base / d).parent for _, d in renames):
        fsync_path(parent)
        step(f"fsync {parent.name}/")


def _roll_back(base: Path, record: Path, plan: dict) -> None:
    for tmp, _ in plan.get("renames", []):
        (base / tmp).unlink(missing_ok=True)
    for d in reversed(plan.get("dirs", [])):
        try:
            (base / d).rmdir()
        except OSError:
            pass  # not empty (someone else wrote there) or gone: leave it
    shutil.rmtree(record, ignore_errors=True)


def recover_commits(root: Path | str) -> list[str]:
    """Roll forward every journal a killed :func:`commit` left under ``root`` and roll back every
    uncommitted plan; returns one note per commit recovered."""
    base = absolute(root)
    notes = []
    for record, _ in stale_temps(base, None, ("commit",)):
        try:
            journal = record / "journal.json"
            if journal.exists():
                _apply(base, json.loads(journal.read_text(encoding="utf-8"))["renames"])
                notes.append(f"{base}: completed a write a killed process had committed")
            else:
                try:
                    plan = json.loads((record / "plan.json").read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    plan = {}  # killed while writing the plan: nothing was staged yet
                _roll_back(base, record, plan)
            remove(record)
            fsync_path(base)
        except (OSError, ValueError, KeyError) as exc:
            raise OutputError(f"{base}: cannot recover an interrupted write ({record.name}): {exc}") from None
    return notes

