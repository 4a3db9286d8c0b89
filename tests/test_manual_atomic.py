"""A manual import is atomic: a real process killed with SIGKILL at any point of the write —
before the temp file, with half a temp file, before its fsync, before the rename, after it — and
at timed moments of the whole run, leaves the round as it was or as the import makes it, never
half, never a second partition; the next import removes the dead writer's temp file."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from govindex.check.run import load
from govindex.collect.manual import write_template
from govindex.collect.manual_import import import_workbook
from govindex.eval.facts import scan
from tests.conftest import ROOT
from tests.manual_books import fill

MINI = ROOT / "tests" / "fixtures" / "mini"

# Runs one import in a fresh process; `where`/`nth`/`when` choose the call at which the process
# kills itself with SIGKILL (no cleanup, no finally, no atexit: as kill -9 from outside).
DRIVER = r"""
import os, signal, sys
from pathlib import Path
import polars as pl
where, nth, when, book, facts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def patch(owner, name):
    orig, calls = getattr(owner, name), [0]
    def wrapper(*a, **k):
        calls[0] += 1
        if calls[0] == nth and when == "before":
            die()
        out = orig(*a, **k)
        if calls[0] == nth and when == "half":  # the temp file written halfway
            p = Path(a[1])
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
            die()
        if calls[0] == nth and when == "after":
            die()
        return out
    setattr(owner, name, wrapper)

if where == "slow-read":  # hold the round between reading and writing it
    import time
    import govindex.collect.manual_merge as mm
    read = mm._existing
    mm._existing = lambda *a: (read(*a), time.sleep(float(when)))[0]
elif where != "none":
    patch(pl.DataFrame if where == "write_parquet" else os, where)
from govindex.check.run import load
from govindex.collect.manual_import import import_workbook
import_workbook(Path(book), load(Path(sys.argv[6])), 2, Path(facts))
"""

OLD = {("100100", 1.0)}
NEW = {("100100", 1.0), ("100200", 0.5)}
POINTS = [("write_parquet", 1, "before", OLD), ("write_parquet", 1, "half", OLD), ("fsync", 1, "before", OLD),
          ("replace", 1, "before", OLD), ("replace", 1, "after", NEW), ("fsync", 2, "after", NEW)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("atomic")
    rs = load(MINI)
    tpl = write_template(rs, 2, d / "tpl.xlsx")
    a = fill(tpl, d / "a.xlsx", {("100100", "qa_manual"): 1})
    b = fill(tpl, d / "b.xlsx", {("100200", "qa_manual"): 0.5})
    fill(tpl, d / "c.xlsx", {("200100", "qa_manual"): 0})
    base = d / "base"
    import_workbook(a, rs, 2, base)
    (d / "driver.py").write_text(DRIVER, encoding="utf-8")
    return rs, d, b, base


def _state(rs, facts: Path) -> set[tuple[str, float]]:
    round_dir = facts / "manual" / "round=2"
    assert [p.name for p in round_dir.glob("*.parquet")] == ["part-0.parquet"]  # never a second partition
    df = scan(rs, facts, "manual").collect()  # what scoring reads: never half a file
    return {(r["unit"], r["value"]) for r in df.to_dicts()}


def _start(d: Path, b: Path, facts: Path, where: str, nth: int, when: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(d / "driver.py"), where, str(nth), when, str(b), str(facts), str(MINI)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_at_each_step_of_the_write_leaves_the_old_round_or_the_new(setup):
    rs, d, b, base = setup
    runs = []
    for i, (where, nth, when, want) in enumerate(POINTS):
        facts = d / f"k{i}"
        shutil.copytree(base, facts)
        runs.append((facts, want, _start(d, b, facts, where, nth, when)))
    for facts, want, proc in runs:
        assert proc.wait(60) == -signal.SIGKILL, proc.stderr.read().decode()
        assert _state(rs, facts) == want
    leftovers = list((runs[3][0] / "manual" / "round=2").glob(".govindex-part-0.parquet.*.tmp"))
    assert leftovers  # killed before the rename: the temp file stays …
    import_workbook(b, rs, 2, runs[3][0])  # … until the next import of the round removes it
    assert _state(rs, runs[3][0]) == NEW and not list((runs[3][0] / "manual" / "round=2").glob(".*.tmp"))


def test_kill_9_at_timed_moments_leaves_the_old_round_or_the_new(setup):
    rs, d, b, base = setup
    facts = d / "timed-ref"
    shutil.copytree(base, facts)
    t0 = time.perf_counter()
    assert _start(d, b, facts, "none", 0, "").wait(60) == 0
    took = time.perf_counter() - t0
    runs = []
    for i in range(5):
        facts = d / f"t{i}"
        shutil.copytree(base, facts)
        runs.append((facts, _start(d, b, facts, "none", 0, "")))
    t0 = time.perf_counter()
    # Five at once on a shared machine run slower than the reference: spread the kills wide.
    for (_, proc), frac in zip(runs, (0.5, 1.0, 1.5, 2.0, 2.5)):
        time.sleep(max(0.0, t0 + took * frac - time.perf_counter()))
        proc.kill()
    for facts, proc in runs:
        proc.wait(60)
        assert _state(rs, facts) in (OLD, NEW)  # which one depends on the moment (and the machine's load)


def test_two_collectors_importing_at_once_lose_nothing(setup):
    rs, d, b, base = setup
    facts = d / "together"
    shutil.copytree(base, facts)
    slow = _start(d, d / "c.xlsx", facts, "slow-read", 0, "2.0")  # reads the round, then holds it 2 s
    time.sleep(1.0)
    fast = _start(d, b, facts, "none", 0, "")  # without the lock: reads the old round, and one book is lost
    assert slow.wait(60) == 0 and fast.wait(60) == 0, (slow.stderr.read(), fast.stderr.read())
    assert _state(rs, facts) == NEW | {("200100", 0.0)}
