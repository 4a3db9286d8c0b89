"""kill -9 at every filesystem step of the three fsio writers (a real subprocess that SIGKILLs
itself after step N, via GOVINDEX_FSIO_KILL_AFTER): afterwards — once the next writer or reader has
recovered — the target is the complete old or the complete new one, never a mix, and no temp is
left anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from govindex import fsio
from govindex.fsio import base
from tests.conftest import ROOT

# The writer run in the subprocess: MODE TARGET GENERATION EXCHANGE.
WRITER = """
import sys
from pathlib import Path
import govindex.fsio.base as base
from govindex import fsio

mode, target, gen, exchange = sys.argv[1:]
base.EXCHANGE = exchange == "1"
root = Path(target)
if mode == "dir":
    def fill(stage):
        for i in range(3):
            (stage / f"f{i}.txt").write_text(f"{gen}-{i}")
        (stage / "sub").mkdir()
        (stage / "sub" / "g.txt").write_text(gen)
    fsio.replace_dir(root, fill, owned=lambda e: True, manifest=True)
elif mode == "commit":
    files = {root / "a" / "round=1" / "p.parquet": gen + "-a", root / "b.json": gen + "-b"}
    if gen == "new":  # the new generation adds a file in directories that do not exist yet
        files[root / "c" / "round=2" / "d.txt"] = gen + "-d"
    fsio.commit(root, files)
else:
    fsio.write_file(root, gen * 1000)
"""


def write(mode: str, target: Path, gen: str, exchange: bool, kill_after: int | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != fsio.KILL_ENV}
    if kill_after is not None:
        env[fsio.KILL_ENV] = str(kill_after)
    return subprocess.run([sys.executable, "-c", WRITER, mode, str(target), gen, "1" if exchange else "0"],
                          cwd=ROOT, env=env, timeout=60).returncode


def steps(mode: str, target: Path, gen: str, exchange: bool, monkeypatch) -> int:
    """How many steps the write takes from the current state (counted in-process, on a copy)."""
    monkeypatch.setattr(base, "EXCHANGE", exchange)
    scratch = target.parent.parent / f"count-{target.parent.name}"
    shutil.copytree(target.parent, scratch, symlinks=True)
    monkeypatch.setattr(sys, "argv", ["writer", mode, str(scratch / target.name), gen, "1" if exchange else "0"])
    try:
        before = base._steps
        exec(compile(WRITER, "writer", "exec"), {})
        return base._steps - before
    finally:
        shutil.rmtree(scratch)


def tree(root: Path) -> dict[str, str | None]:
    """Every path under ``root`` but fsio's temps: a file's text, None for a directory."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not any(part.startswith(fsio.PREFIX) for part in rel.parts):
            out[str(rel)] = p.read_text() if p.is_file() else None
    return out


def files(t: dict) -> dict:
    return {k: v for k, v in t.items() if v is not None}


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"{fsio.PREFIX}*"))


def generations(tmp_path: Path, mode: str, exchange: bool) -> tuple[Path, Path, dict, dict]:
    """A pristine old state, and the trees of the old and the new generation."""
    pristine, target = tmp_path / "pristine", tmp_path / "pristine" / "out"
    pristine.mkdir()
    assert write(mode, target, "old", exchange) == 0
    old = tree(pristine)
    scratch = tmp_path / "scratch"
    shutil.copytree(pristine, scratch)
    assert write(mode, scratch / "out", "new", exchange) == 0
    new = tree(scratch)
    shutil.rmtree(scratch)
    return pristine, target, _without_manifest(old), _without_manifest(new)


def _without_manifest(t: dict) -> dict:
    # generation.json differs run to run (its id); the manifest check covers it instead.
    return {k: v for k, v in t.items() if not k.endswith(fsio.MANIFEST)}


def recover(mode: str, target: Path) -> None:
    if mode == "dir":
        fsio.recover_dir(target)
    elif mode == "commit":
        fsio.recover_commits(target)
    else:  # the next write of the file is what cleans its temps
        for temp, _ in fsio.stale_temps(target.parent, target.name, ("tmp",)):
            temp.unlink()


def kill_everywhere(tmp_path: Path, mode: str, exchange: bool, monkeypatch) -> int:
    pristine, target, old, new = generations(tmp_path, mode, exchange)
    n = steps(mode, target, "new", exchange, monkeypatch)
    assert n >= 4
    for k in range(1, n + 1):
        work = tmp_path / f"kill-{k}"
        shutil.copytree(pristine, work, symlinks=True)
        assert write(mode, work / "out", "new", exchange, kill_after=k) == -9, f"step {k} did not kill"
        journal = any(p.name == "journal.json" for p in work.rglob("journal.json"))  # past the commit point
        gap = not os.path.lexists(work / "out")  # between the two renames of a swap
        if not journal and not gap:  # one generation already (a commit may have made empty directories)
            assert files(_without_manifest(tree(work))) in (files(old), files(new)), f"after a kill at step {k}: a mix"
        recover(mode, work / "out")
        seen = _without_manifest(tree(work))
        assert seen in (old, new), f"after a kill at step {k} and recovery: a mix"
        assert not (journal or gap) or seen == new, f"a kill at step {k} was not rolled forward"
        assert leftovers(work) == [], f"temps left after a kill at step {k} and recovery"
        if mode == "dir":
            gen, bad = fsio.check_manifest(work / "out", ["f0.txt", "f1.txt", "f2.txt", "sub/g.txt"])
            assert gen is not None and bad == []
        shutil.rmtree(work)
    return n


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_replace_dir_survives_a_kill_at_every_step(tmp_path, exchange, monkeypatch):
    assert kill_everywhere(tmp_path, "dir", exchange, monkeypatch) >= 9


def test_commit_survives_a_kill_at_every_step(tmp_path, monkeypatch):
    assert kill_everywhere(tmp_path, "commit", True, monkeypatch) >= 15


def test_write_file_survives_a_kill_at_every_step(tmp_path, monkeypatch):
    assert kill_everywhere(tmp_path, "file", True, monkeypatch) == 4
