"""``--out`` of every command that writes (score, analyze, report, manual template, bench generate,
collect, demo — and extract's facts directory) against what a user can pass: a regular file where a
directory goes and the reverse, a device node like /dev/full, a FIFO, a symbolic link, a missing
parent, an unwritable directory, a directory that is not ours. Each is a clean exit 1 naming the
path (or, for a link and a missing parent, the write with a note on stderr) — never a traceback,
never a device or a link replaced. Also: ``analyze``/``report`` on results with no units, and
``analyze --previous`` of an unrelated index."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.cli import app
from tests.conftest import ROOT

MINI = "tests/fixtures/mini"
FACTS = "tests/fixtures/mini/facts"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results") / "mini"
    r = CliRunner().invoke(app, ["score", str(ROOT / MINI), "--facts", str(ROOT / FACTS), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def run(*args):
    """Invoke the CLI in-process; anything but a clean exit (an exception escaping) fails the test."""
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


# Every command with an output path: how to call it, and whether the path is a file or a directory.
COMMANDS = {
    "score": (lambda out, res: ["score", MINI, "--facts", FACTS, "--out", out], "dir"),
    "analyze": (lambda out, res: ["analyze", res, "--out", out], "dir"),
    "report": (lambda out, res: ["report", res, "--out", out], "file"),
    "manual-template": (lambda out, res: ["manual", "template", MINI, "--round", "1", "--out", out], "file"),
    "bench-generate": (lambda out, res: ["bench", "generate", "--pages", "300", "--units-from", MINI, "--out", out],
                       "dir"),
    "collect": (lambda out, res: ["collect", MINI, "--channels", "none.csv", "--round", "1", "--out", out], "dir"),
    "demo": (lambda out, res: ["demo", "--rules", MINI, "--out", out], "dir"),
}
WRITES = [c for c in COMMANDS if c not in ("collect", "demo")]  # these two would crawl: refusals only


def call(command: str, out: Path, results: Path):
    make, _ = COMMANDS[command]
    return run(*make(out, results))


def char_device(path: Path) -> Path:
    """A node like /dev/full (1, 7) made in the test's directory: the red team's case, never the real one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_a_device_node_is_refused_untouched(command, results, tmp_path):
    full = char_device(tmp_path / "full")
    r = call(command, full, results)
    kind = "not a regular file" if COMMANDS[command][1] == "file" else "not a directory"
    assert r.exit_code == 1 and f"{full}: is a character device, {kind}" in r.stderr, r.output
    assert stat.S_ISCHR(full.lstat().st_mode)  # the device is still a device
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def _blocked(signum, frame):
    raise TimeoutError("the command blocked on the FIFO")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_is_refused_without_hanging(command, results, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    previous = signal.signal(signal.SIGALRM, _blocked)
    signal.alarm(10)  # opening the FIFO would block until a reader comes: fail instead of hanging
    try:
        r = call(command, fifo, results)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert r.exit_code == 1 and "is a FIFO (named pipe)" in r.stderr, r.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("command", [c for c, (_, kind) in COMMANDS.items() if kind == "dir"])
def test_a_file_where_a_directory_goes(command, results, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("mine", encoding="utf-8")
    r = call(command, f, results)
    assert r.exit_code == 1 and f"{f}: is a regular file, not a directory" in r.stderr, r.output
    assert f.read_text(encoding="utf-8") == "mine"


def test_a_directory_where_a_file_goes(results, tmp_path):
    d = tmp_path / "book.xlsx"
    d.mkdir()
    r = call("manual-template", d, results)
    assert r.exit_code == 1 and f"{d}: is a directory, not a regular file" in r.stderr, r.output
    r = call("report", tmp_path, results)  # documented: a directory gets report.html inside
    assert r.exit_code == 0 and (tmp_path / "report.html").is_file(), r.output


@pytest.mark.parametrize("command", WRITES)
def test_a_symlink_is_written_through_with_a_note_and_kept(command, results, tmp_path):
    kind = COMMANDS[command][1]
    real = tmp_path / "real"
    if kind == "dir":
        real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    r = call(command, link, results)
    assert r.exit_code == 0, r.output
    assert f"note: {link} is a symbolic link: writing to its target {real} (the link stays)" in r.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real.is_file() and real.stat().st_size > 0) if kind == "file" else any(real.iterdir())


@pytest.mark.parametrize("command", WRITES)
def test_a_missing_parent_is_created_and_said(command, results, tmp_path):
    out = tmp_path / "new" / "deeper" / ("out.xlsx" if command == "manual-template" else "out")
    r = call(command, out, results)
    assert r.exit_code == 0, r.output
    assert f"note: creating the directory {out.parent} (it does not exist)" in r.stderr
    assert out.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_parent_that_cannot_be_made_is_a_clean_error(command, results, tmp_path):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "sub" / "out"
    r = call(command, out, results)
    assert r.exit_code == 1 and f"{tmp_path / 'file'} is a regular file, not a directory" in r.stderr, r.output


def unprivileged() -> list[str]:
    """A command prefix that makes permission bits hold: root writes anywhere, so as root the
    command runs without CAP_DAC_OVERRIDE (util-linux setpriv)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permission bits do not apply")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unwritable_directory_is_a_clean_error(command, results, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    out = locked / ("out.xlsx" if command == "manual-template" else "out")
    make, _ = COMMANDS[command]
    p = subprocess.run([*unprivileged(), sys.executable, "-m", "govindex.cli", *map(str, make(out, results))],
                       cwd=ROOT, env={**os.environ, "COLUMNS": "120"}, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    assert f"{out}: cannot write in the directory {locked} (permission denied or read-only)" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and list(locked.iterdir()) == []


def test_extract_facts_that_are_not_a_directory(tmp_path):
    full = char_device(tmp_path / "full")
    for facts in (full, tmp_path / "file"):
        (tmp_path / "file").write_text("x")
        r = run("extract", "rules/2019", "--round", "4", "--facts", facts)
        assert r.exit_code == 1 and "no crawl archive" in r.stderr, r.output


# --- score --out: a directory of ours, replaced whole -------------------------------------------


def test_score_out_refuses_a_directory_that_is_not_a_results_directory(tmp_path):
    (tmp_path / "thesis.docx").write_text("years of work")
    r = run("score", MINI, "--facts", FACTS, "--out", tmp_path)
    assert r.exit_code == 1 and "holds files govindex did not write there (thesis.docx)" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.docx"]


def test_score_out_replaces_a_results_directory_and_says_what_went(results, tmp_path):
    out = tmp_path / "r"
    shutil.copytree(results, out)
    assert run("report", out).exit_code == 0 and run("analyze", out, "--out", out / "analysis").exit_code == 0
    (out / ".govindex-k2j4x9").mkdir()  # what a kill -9 during the old `score --out` left for ever
    (out / ".govindex-k2j4x9" / "scores.csv").write_text("half")
    gen = json.loads((out / "generation.json").read_text())["generation"]
    r = run("score", MINI, "--facts", FACTS, "--out", out)
    assert r.exit_code == 0, r.output
    assert f"replaced the previous results in {out}; analysis, report.html (made from them) went with them" in r.stderr
    assert json.loads((out / "generation.json").read_text())["generation"] != gen
    assert sorted(p.name for p in out.iterdir()) == ["generation.json", "integrity.json", "provenance.json", "scores.csv",
                                                     "scores.json", "scores.parquet", "scores.xlsx", "scores_long.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary directory left


def test_analyze_refuses_results_mixed_from_two_runs(results, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(results, a)
    assert run("score", MINI, "--facts", FACTS, "--round", "1", "--out", b).exit_code == 0
    shutil.copy(b / "scores_long.parquet", a / "scores_long.parquet")  # what a crash between renames left
    for cmd in (["analyze", a], ["report", a]):
        r = run(*cmd)
        assert r.exit_code == 1, r.output
        assert "the files are not of one scoring run (scores_long.parquet is not the file of generation" in r.stderr


# --- analyze / report on results with no units, or an unrelated previous year ---------------------


def rewrite_units(src: Path, dst: Path, codes: dict[str, str] | None) -> Path:
    """A copy of results with no units (``codes`` None) or with unit codes renamed, in both files."""
    shutil.copytree(src, dst)
    doc = json.loads((dst / "scores.json").read_text(encoding="utf-8"))
    long = pl.read_parquet(dst / "scores_long.parquet")
    if codes is None:
        doc["units"], long = [], long.clear()
    else:
        doc["units"] = [{**u, "code": codes.get(u["code"], u["code"])} for u in doc["units"]]
        long = long.with_columns(pl.col("code").replace(codes))
    (dst / "scores.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    long.write_parquet(dst / "scores_long.parquet")
    (dst / "generation.json").unlink()  # edited by hand: no longer the generation it records
    return dst


def codes_of(results: Path) -> list[str]:
    return [u["code"] for u in json.loads((results / "scores.json").read_text(encoding="utf-8"))["units"]]


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_results_with_no_units_are_an_error(command, results, tmp_path):
    empty = rewrite_units(results, tmp_path / "empty", None)
    r = run(command, empty)
    assert r.exit_code == 1 and "the results (mini) hold no units: nothing to analyze" in r.stderr, r.output
    r = run(command, results, "--previous", empty)
    assert r.exit_code == 1 and "the previous results (mini) hold no units" in r.stderr, r.output


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_previous_with_no_unit_in_common_is_an_error(command, results, tmp_path):
    other = rewrite_units(results, tmp_path / "other", {c: "X" + c for c in codes_of(results)})
    r = run(command, results, "--previous", other)
    assert r.exit_code == 1, r.output
    assert "the results (mini, 3 scored units) and --previous (mini, 3) share no unit code" in r.stderr, r.stderr


def test_previous_with_few_units_in_common_is_noted(results, tmp_path):
    few = rewrite_units(results, tmp_path / "few", {c: "X" + c for c in codes_of(results)[1:]})
    r = run("analyze", results, "--previous", few, "--format", "json")
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["notes"]
    assert any(n.startswith("only 1 unit(s) are scored in both years (3 now, 3 in mini)") for n in notes), notes
