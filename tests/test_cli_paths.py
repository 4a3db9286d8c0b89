"""No command shows a traceback for a path the user got wrong (issue 10, item 5).

Every command and sub-command of the CLI is enumerated from the typer app (a new command is
covered without touching this file), and each of its path parameters is given, in turn, a path
that does not exist and cannot be created (it lies under a regular file), the other parameters
being valid. The command must fail cleanly: exit 1 or 2, a message naming the path, no traceback.
A second pass gives each path parameter an existing path of the wrong kind (a regular file, then a
directory): the command may succeed or fail, but never with an exception.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from govindex.cli import app
from tests.conftest import ROOT
from tests.manual_books import fill

MINI = ROOT / "tests/fixtures/mini"
# Parameters that name a path without being typed as one (a URL is accepted too).
STR_PATHS = {("import", "source")}
# Commands that serve until Ctrl-C when every argument is valid; an existing path of the wrong
# kind for an output is a valid argument, so they are left out of that pass only.
SERVES = {"web serve"}
# Where a command needs more than the mini rule set to reach its other paths.
RULES_2019 = {"collect", "extract", "import"}
# Plain values a command needs to get as far as its paths (any other required one gets "1" or "x").
VALUES = {("import", "table"): "posts"}
# Paths the command writes into: a fresh directory rather than the shared read-only facts.
WRITES = {("import", "facts"), ("manual import", "facts"), ("manual resolve", "facts"), ("extract", "facts")}


def leaves(cmd, path: tuple[str, ...] = ()) -> Iterator[tuple[str, object]]:
    """Every command that runs something, as ("web serve", click command)."""
    subs = getattr(cmd, "commands", None)
    if subs is None:
        yield " ".join(path), cmd
        return
    for name, sub in sorted(subs.items()):
        yield from leaves(sub, (*path, name))


COMMANDS = dict(leaves(typer.main.get_command(app)))


def is_path(command: str, param) -> bool:
    return param.bare_type() == "Path" or (command, param.name) in STR_PATHS


CASES = [(c, p.name) for c, cmd in COMMANDS.items() for p in cmd.params if is_path(c, p)]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """A valid value for each path parameter name (a fresh directory for outputs)."""
    base = tmp_path_factory.mktemp("good")
    facts = base / "facts"
    shutil.copytree(MINI / "facts", facts)
    results, workbook = base / "results", base / "book.xlsx"
    runner = CliRunner()
    for args in (["score", str(MINI), "--facts", str(facts), "--out", str(results)],
                 ["manual", "template", str(MINI), "--round", "1", "--out", str(workbook)]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
    fill(workbook, workbook, {("100100", "qa_manual"): 1})
    (base / "channels.csv").write_text("unit,kind,url,name\n100100,portal,http://127.0.0.1:9/,门户\n",
                                       encoding="utf-8")
    (base / "posts.jsonl").write_text("", encoding="utf-8")
    (base / "res.csv").write_text("unit,point,value,reason,by\n100100,qa_manual,1,复核,李四\n", encoding="utf-8")
    return {"rules": MINI, "old": MINI, "new": MINI, "units_from": MINI, "registry": MINI / "units.csv",
            "facts": facts, "results": results, "previous": results, "workbook": workbook,
            "book_a": workbook, "book_b": workbook, "file": base / "res.csv",
            "channels": base / "channels.csv", "source": base / "posts.jsonl"}


def argv(command: str, values: dict[str, str]) -> list[str]:
    """The command line: ``values`` for the parameters named, a plain value for other required ones."""
    out = command.split()
    for p in COMMANDS[command].params:
        value = values.get(p.name, VALUES.get((command, p.name)))
        if value is None and p.required:
            value = "1" if p.bare_type() in ("int", "float") else "x"
        if value is None:
            continue
        out += [value] if p.param_type_name == "argument" else [p.opts[0], value]
    return out


def good_path(command: str, name: str, good: dict[str, Path], tmp: Path) -> Path:
    """A valid value; for an output (or a parameter this file does not know), a fresh path."""
    if (command, name) in WRITES or name not in good:
        return tmp / f"out-{name}"
    return ROOT / "rules/2019" if name == "rules" and command in RULES_2019 else good[name]


def run(command: str, name: str, bad: Path, good: dict[str, Path], tmp: Path):
    values = {p.name: str(good_path(command, p.name, good, tmp)) for p in COMMANDS[command].params
              if is_path(command, p)}
    values[name] = str(bad)
    # A command that would wait forever is a failure, not a hung suite.
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"{command} {name}={bad}: still running after 60 s"))
    signal.alarm(60)
    try:
        return CliRunner().invoke(app, argv(command, values))
    finally:
        signal.alarm(0)


def test_every_command_is_found():
    assert {"check", "score", "web serve", "manual import", "bench generate"} <= set(COMMANDS)
    assert ("web serve", "registry") in CASES and ("web serve", "out_dir") in CASES


@pytest.mark.parametrize(("command", "name"), CASES, ids=[f"{c}-{n}" for c, n in CASES])
def test_a_missing_path_is_a_clean_error(command, name, good, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-dir").write_text("a regular file\n", encoding="utf-8")
    bad = tmp_path / "not-a-dir" / "no-such-path"
    r = run(command, name, bad, good, tmp_path)
    assert r.exception is None or isinstance(r.exception, SystemExit), (r.output, r.exc_info)
    assert r.exit_code in (1, 2), r.output
    assert "Traceback" not in r.output
    assert "not-a-dir" in r.output, r.output


@pytest.mark.parametrize("kind", ["file", "dir"])
@pytest.mark.parametrize(("command", "name"), [(c, n) for c, n in CASES if c not in SERVES],
                         ids=[f"{c}-{n}" for c, n in CASES if c not in SERVES])
def test_a_path_of_the_wrong_kind_is_never_a_traceback(command, name, kind, good, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "wrong"
    if kind == "file":
        bad.write_text("neither rules, facts, a table nor a workbook\n", encoding="utf-8")
    else:
        bad.mkdir()
    r = run(command, name, bad, good, tmp_path)
    assert r.exception is None or isinstance(r.exception, SystemExit), (r.output, r.exc_info)
    assert r.exit_code in (0, 1, 2), r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(("name", "kind"), [("registry", "dir"), ("out_dir", "file")])
def test_web_serve_refuses_a_path_of_the_wrong_kind(name, kind, good, tmp_path, monkeypatch):
    """``--registry`` must be a CSV file and ``--dir`` a directory; the other way round is an error
    before anything is served."""
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "wrong"
    if kind == "file":
        bad.write_text("x\n", encoding="utf-8")
    else:
        bad.mkdir()
    r = run("web serve", name, bad, good, tmp_path)
    assert r.exception is None or isinstance(r.exception, SystemExit), (r.output, r.exc_info)
    assert r.exit_code in (1, 2) and "wrong" in r.output, r.output
