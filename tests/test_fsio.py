"""govindex.fsio, the one output mechanism: atomic files, a directory as one generation, a journaled
multi-file commit, and what it refuses (devices, FIFOs, sockets, links, foreign directories)."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from govindex import fsio
from govindex.diagnostics import OutputError
from govindex.fsio import base


def dead_pid() -> int:
    """The pid of a process that has ended (a killed writer's temps carry one)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def temps(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"{fsio.PREFIX}*"))


def char_device(path: Path) -> Path:
    """A node like /dev/full (major 1, minor 7), made in the test's directory — never the real one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    return path


@pytest.fixture(params=[True, False], ids=["exchange", "two-renames"])
def exchange(request, monkeypatch):
    """Both ways of swapping a directory in: renameat2(RENAME_EXCHANGE), and two renames."""
    monkeypatch.setattr(base, "EXCHANGE", request.param)
    return request.param


# --- one file ------------------------------------------------------------------------------------


def test_write_file_replaces_atomically_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    assert fsio.write_file(target, "新") == target
    assert target.read_text(encoding="utf-8") == "新"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # a replaced file keeps its permissions
    fsio.write_file(tmp_path / "b.bin", b"\x00\x01")
    fsio.write_file(tmp_path / "c.txt", lambda p: p.write_text("by a writer"))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert (tmp_path / "c.txt").read_text() == "by a writer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.txt"]


def test_missing_directories_are_created_and_announced(tmp_path):
    target = fsio.file_target(tmp_path / "x" / "y" / "r.html")
    assert target.creates == (tmp_path / "x", tmp_path / "x" / "y")
    assert target.notes == [f"creating the directory {tmp_path / 'x' / 'y'} (it does not exist)"]
    fsio.write_file(tmp_path / "x" / "y" / "r.html", "<p>")
    assert (tmp_path / "x" / "y" / "r.html").read_text() == "<p>"


def test_a_symlink_is_never_replaced_nor_silently_written_through(tmp_path):
    real = tmp_path / "real.html"
    real.write_text("theirs")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    with pytest.raises(OutputError, match="is a symbolic link to .*real.html"):
        fsio.write_file(link, "ours")
    assert link.is_symlink() and real.read_text() == "theirs"
    target = fsio.file_target(link)  # what the command line does with a link the user named
    assert target.path == real and target.linked
    assert target.notes == [f"{link} is a symbolic link: writing to its target {real} (the link stays)"]
    fsio.write_file(target.path, "ours")
    assert link.is_symlink() and link.read_text() == "ours"


def test_special_files_are_refused_untouched(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    sock = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    full = char_device(tmp_path / "full")
    (tmp_path / "dir").mkdir()
    cases = {fifo: r"a FIFO \(named pipe\)", sock: "a socket", full: "a character device", tmp_path / "dir": "a directory"}
    try:
        for path, kind in cases.items():
            with pytest.raises(OutputError, match=f"is {kind}, not a regular file"):
                fsio.write_file(path, "x")
            with pytest.raises(OutputError, match=f"is {kind}, not a regular file"):
                fsio.file_target(path)
        link = tmp_path / "to-full"
        link.symlink_to(full)
        with pytest.raises(OutputError, match="is a character device"):
            fsio.file_target(link)  # a link to a device is refused after it is followed
    finally:
        server.close()
    assert stat.S_ISCHR(full.lstat().st_mode) and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert temps(tmp_path) == []


def test_unusable_parents_are_clean_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a regular file, not a directory"):
        fsio.write_file(tmp_path / "file" / "sub" / "a.txt", "x")
    with pytest.raises(OutputError, match="is a regular file, not a directory"):
        fsio.dir_target(tmp_path / "file")
    with pytest.raises(OutputError, match="root directory"):
        fsio.dir_target("/", replace=True)


def test_an_os_error_while_writing_is_an_output_error_and_no_temp_stays(tmp_path):
    def full_disk(path: Path) -> None:
        path.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(OutputError, match=r"a.txt: cannot write it: No space left on device \(the disk is full\)"):
        fsio.write_file(tmp_path / "a.txt", full_disk)
    assert (tmp_path / "a.txt").read_text() == "old" and temps(tmp_path) == []


def test_stale_temps_of_dead_writers_go_live_ones_stay(tmp_path):
    dead, live = dead_pid(), os.getppid()
    stale = tmp_path / f".govindex-a.txt.{dead}.0123abcd.tmp"
    alive = tmp_path / f".govindex-a.txt.{live}.0123abcd.tmp"
    other = tmp_path / f".govindex-b.txt.{dead}.0123abcd.tmp"
    for p in (stale, alive, other):
        p.write_text("x")
    fsio.write_file(tmp_path / "a.txt", "new")
    assert not stale.exists() and alive.exists() and other.exists()  # only a.txt's, only the dead's


# --- a directory as one generation ---------------------------------------------------------------


def fill_with(gen: str):
    def fill(stage: Path) -> None:
        for i in range(3):
            (stage / f"f{i}.txt").write_text(f"{gen}-{i}")
    return fill


def test_replace_dir_swaps_a_whole_generation_with_a_manifest(tmp_path, exchange):
    out = tmp_path / "results"
    fsio.replace_dir(out, fill_with("one"), manifest=True)
    first = json.loads((out / fsio.MANIFEST).read_text())
    fsio.replace_dir(out, fill_with("two"), owned=lambda e: e.name.startswith("f") or e.name == fsio.MANIFEST,
                     manifest=True)
    doc = json.loads((out / fsio.MANIFEST).read_text())
    assert doc["generation"] != first["generation"]
    assert sorted(doc["files"]) == ["f0.txt", "f1.txt", "f2.txt"] and doc["files"]["f0.txt"]["bytes"] == 5
    assert (out / "f1.txt").read_text() == "two-1"
    assert fsio.check_manifest(out, ["f0.txt", "f2.txt"]) == (doc["generation"], [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_directory_that_is_not_ours_is_refused_untouched(tmp_path):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    with pytest.raises(OutputError, match=r"holds files govindex did not write there \(thesis.docx\)"):
        fsio.replace_dir(out, fill_with("x"), owned=lambda e: e.name.startswith("f"))
    assert [p.name for p in out.iterdir()] == ["thesis.docx"] and temps(tmp_path) == []


def test_replace_dir_refuses_a_file_a_device_and_a_link(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a regular file, not a directory"):
        fsio.replace_dir(tmp_path / "file", fill_with("x"))
    with pytest.raises(OutputError, match="is a character device, not a directory"):
        fsio.replace_dir(char_device(tmp_path / "full"), fill_with("x"))
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputError, match="is a symbolic link"):
        fsio.replace_dir(tmp_path / "link", fill_with("x"))
    assert (tmp_path / "link").is_symlink() and list((tmp_path / "real").iterdir()) == []


def test_a_failing_fill_leaves_the_old_generation_and_no_temp(tmp_path, exchange):
    out = tmp_path / "results"
    fsio.replace_dir(out, fill_with("one"))

    def broken(stage: Path) -> None:
        (stage / "f0.txt").write_text("half")
        raise ValueError("a bug in a writer")

    with pytest.raises(ValueError):
        fsio.replace_dir(out, broken, owned=lambda e: True)
    assert (out / "f0.txt").read_text() == "one-0" and temps(tmp_path) == []


def swap_interrupted(tmp_path: Path, moved_aside: bool) -> tuple[Path, Path, Path]:
    """The state a kill between the two renames leaves: no directory, its `.old` and its `.new`."""
    out, pid = tmp_path / "results", dead_pid()
    old, new = (tmp_path / f".govindex-results.{pid}.89abcdef.{k}" for k in ("old", "new"))
    for d, gen in ((old, "one"), (new, "two")):
        d.mkdir()
        fill_with(gen)(d)
    if not moved_aside:
        old.rename(out)
    return out, old, new


def test_recover_dir_rolls_an_interrupted_swap_forward(tmp_path):
    out, _, _ = swap_interrupted(tmp_path, moved_aside=True)
    assert "completed a replacement" in fsio.recover_dir(out)
    assert (out / "f0.txt").read_text() == "two-0" and temps(tmp_path) == []


def test_recover_dir_drops_an_unfinished_new_generation(tmp_path):
    out, _, _ = swap_interrupted(tmp_path, moved_aside=False)
    assert fsio.recover_dir(out) is None
    assert (out / "f0.txt").read_text() == "one-0" and temps(tmp_path) == []


def test_check_manifest_names_a_file_of_another_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    fsio.replace_dir(a, fill_with("one"), manifest=True)
    fsio.replace_dir(b, fill_with("two"), manifest=True)
    os.replace(b / "f1.txt", a / "f1.txt")
    gen, bad = fsio.check_manifest(a, ["f0.txt", "f1.txt"])
    assert bad == [f"f1.txt is not the file of generation {gen}"]
    assert fsio.check_manifest(tmp_path, ["f0.txt"]) == (None, [])  # no manifest: nothing to check


# --- several files, all or nothing ---------------------------------------------------------------


def tree(root: Path) -> dict[str, str | None]:
    """Every path under ``root``: a file's text, None for a directory."""
    return {str(p.relative_to(root)): (p.read_text() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_commit_writes_every_file_and_creates_directories(tmp_path):
    root = tmp_path / "facts"
    fsio.commit(root, {root / "pages" / "round=1" / "part-0.parquet": "p", root / "cleaning" / "round=1.json": "{}"})
    assert tree(root) == {"cleaning": None, "cleaning/round=1.json": "{}", "pages": None, "pages/round=1": None,
                          "pages/round=1/part-0.parquet": "p"}


def test_commit_failing_before_the_commit_point_changes_nothing(tmp_path):
    root = tmp_path / "facts"
    fsio.commit(root, {root / "a.txt": "old"})
    before = tree(root)

    def broken(path: Path) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    with pytest.raises(OutputError, match="permission denied"):
        fsio.commit(root, {root / "a.txt": "new", root / "new" / "deep" / "b.txt": broken})
    assert tree(root) == before  # a.txt is the old one, the directories made for b.txt are gone


def test_commit_refuses_a_link_or_a_device_among_its_files(tmp_path):
    root = tmp_path / "facts"
    root.mkdir()
    (root / "a.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(OutputError, match="is a symbolic link"):
        fsio.commit(root, {root / "a.txt": "x"})
    char_device(root / "b.txt")
    with pytest.raises(OutputError, match="is a character device"):
        fsio.commit(root, {root / "b.txt": "x"})
    assert not (tmp_path / "elsewhere.txt").exists() and temps(root) == []


def test_commit_writes_into_a_linked_directory_and_keeps_the_link(tmp_path):
    (tmp_path / "disk").mkdir()
    root = tmp_path / "facts"
    root.symlink_to(tmp_path / "disk")  # facts kept on another disk, linked in
    fsio.commit(root, {root / "pages" / "round=1" / "part-0.parquet": "p"})
    assert root.is_symlink() and (tmp_path / "disk" / "pages" / "round=1" / "part-0.parquet").read_text() == "p"
