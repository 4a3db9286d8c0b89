"""Reading rule files and the units registry: a BOM is accepted; what is not a regular UTF-8 file
of at most 16 MB is a located diagnostic (exit 1) — never a hang, a MemoryError or a traceback —
for `check`, `test` and `fmt` alike (issue 9, reproducers 8 and 9)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govindex.check.run import check
from govindex.cli import app
from govindex.lang.parse import parse_dir
from govindex.lang.source import MAX_BYTES, SourceError, read_source
from tests.conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"
BOM = "\ufeff".encode()


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real console entry point in a child process: a hang fails the test instead of the run."""
    return subprocess.run([sys.executable, "-m", "govindex.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


@pytest.fixture
def mini(tmp_path) -> Path:
    d = tmp_path / "mini"
    shutil.copytree(MINI, d)
    return d


# ---------------------------------------------------------------- byte-order marks


def test_bom_in_rule_file_is_accepted(mini):
    f = mini / "mini.rules"
    f.write_bytes(BOM + f.read_bytes())
    rs, diags = check(mini)
    assert rs is not None, [d.render() for d in diags]
    assert run("test", mini).exit_code == 0


def test_bom_in_units_csv_is_accepted(mini):
    f = mini / "units.csv"
    f.write_bytes(BOM + f.read_bytes())
    rs, diags = check(mini)
    assert rs is not None, [d.render() for d in diags]
    assert [u.code for u in rs.units][:1] == ["100100"]  # the first column is `code`, not "\ufeffcode"


def test_fmt_keeps_a_bom_and_sees_nothing_to_change(mini):
    f = mini / "mini.rules"
    f.write_bytes(BOM + f.read_bytes())
    r = run("fmt", "--check", f)
    assert r.exit_code == 0, r.output
    assert run("fmt", f).exit_code == 0 and f.read_bytes().startswith(BOM)


def test_a_bom_is_not_a_column(tmp_path):
    text = b'ruleset "x" { units: units.csv }\n'
    spans = []
    for data in (text, BOM + text):
        (tmp_path / "a.rules").write_bytes(data)
        (d,) = parse_dir(tmp_path)[1]
        spans.append((d.code, d.span.line, d.span.col))
    assert spans[0] == spans[1] and spans[0][0] == "E001"


# ---------------------------------------------------------------- encodings


def test_non_utf8_rule_file_is_located_with_an_encoding_hint(tmp_path):
    (tmp_path / "a.rules").write_bytes("# 评价规则\nlet x = 1\n".encode("gbk"))
    _, diags = parse_dir(tmp_path)
    (d,) = diags
    assert d.code == "E002" and (d.span.line, d.span.col) == (1, 3)  # not 0:0
    assert "GB18030" in d.hint and "UTF-8" in d.hint
    r = run("check", tmp_path)
    assert r.exit_code == 1 and "a.rules:1:3: error[E002" in r.stderr


def test_non_utf8_on_a_later_line_is_located_there(tmp_path):
    (tmp_path / "a.rules").write_bytes(b"let x = 1\nlet y = \"" + "评价".encode("gbk") + b"\"\n")
    _, diags = parse_dir(tmp_path)
    assert (diags[0].span.line, diags[0].span.col) == (2, 10)


def test_fmt_non_utf8_is_a_diagnostic_not_a_traceback(tmp_path):
    (tmp_path / "a.rules").write_bytes("# 评价\n".encode("gbk"))
    r = run("fmt", tmp_path)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception
    assert "E002" in r.stderr and "Traceback" not in r.output


def test_units_csv_not_utf8_is_e302_located(mini):
    (mini / "units.csv").write_bytes("code,name\n100100,甲市\n".encode("gbk"))
    _, diags = check(mini)
    (d,) = [d for d in diags if d.code == "E302"]
    assert "units.csv:2:8" in d.message and "GB18030" in d.hint


# ---------------------------------------------------------------- what is not a regular file


def test_directory_named_rules_is_e002_for_check_and_fmt(tmp_path):
    shutil.copytree(MINI, tmp_path / "r")
    (tmp_path / "r" / "x.rules").mkdir()
    _, diags = check(tmp_path / "r")
    assert [(d.code, Path(d.span.path).name) for d in diags] == [("E002", "x.rules")]
    assert "is a directory" in diags[0].message
    r = run("fmt", tmp_path / "r")
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit) and "is a directory" in r.stderr
    assert "1 unchanged" in r.stdout  # mini.rules was still looked at


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_rule_file_does_not_hang(tmp_path):
    shutil.copytree(MINI, tmp_path / "r")
    os.mkfifo(tmp_path / "r" / "pipe.rules")
    for args in (("check", tmp_path / "r"), ("fmt", "--check", tmp_path / "r"), ("test", tmp_path / "r")):
        r = cli(*args)
        assert r.returncode == 1, r.stderr
        assert "pipe.rules:1:1: error[E002" in r.stderr and "FIFO" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_symlink_to_dev_zero_is_refused_not_read(tmp_path):
    shutil.copytree(MINI, tmp_path / "r")
    (tmp_path / "r" / "zero.rules").symlink_to("/dev/zero")
    r = cli("check", tmp_path / "r")
    assert r.returncode == 1 and "zero.rules (→ /dev/zero) is a character device" in r.stderr
    assert "MemoryError" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_units_registry_fifo_does_not_hang(mini):
    (mini / "units.csv").unlink()
    os.mkfifo(mini / "units.csv")
    r = cli("check", mini)
    assert r.returncode == 1 and "E302" in r.stderr and "FIFO" in r.stderr


def test_file_over_the_size_cap_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.rules"
    with big.open("wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(SourceError) as info:
        read_source(big)
    assert "16 MB" in str(info.value)
    _, diags = parse_dir(tmp_path)
    assert diags[0].code == "E002" and "16 MB" in diags[0].message


def test_unreadable_file_names_the_reason(tmp_path):
    with pytest.raises(SourceError) as info:
        read_source(tmp_path / "absent.rules")
    assert "No such file" in str(info.value)


# ---------------------------------------------------------------- fmt arguments


def test_fmt_check_on_a_missing_path_fails():
    r = cli("fmt", "--check", "/nonexistent/rules")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "/nonexistent/rules:1:1: error[E002" in r.stderr and "No such file" in r.stderr


def test_fmt_on_a_directory_without_rules_fails(tmp_path):
    r = run("fmt", "--check", tmp_path)
    assert r.exit_code == 1 and "E003" in r.stderr


def test_check_on_a_missing_path_is_e002():
    _, diags = check(Path("/nonexistent/rules"))
    assert [d.code for d in diags] == ["E002"]
