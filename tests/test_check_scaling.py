"""`check` is linear in the rule text (issue 9, reproducer 8: 250,000 unused lets took > 150 s), and
lets cannot blow an expression up: exponentially (lets that use the previous one twice) or in
depth (a chain too deep for any recursive pass). Work is measured by counting calls (a complexity
proxy that does not depend on the machine), not by timing; bench/check_lets.py times it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govindex.check.run import check
from govindex.check.shape import MAX_DEPTH
from govindex.cli import app
from tests.conftest import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"
SCORE_LINE = "score: linear(x, cap: 4)"


def calls(fn) -> int:
    """How many Python and builtin calls ``fn()`` makes."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def mini_with_lets(tmp_path: Path, name: str, lets: str, score: str = SCORE_LINE) -> Path:
    d = tmp_path / name
    shutil.copytree(MINI, d)
    (d / "lets.rules").write_text(lets, encoding="utf-8")
    f = d / "mini.rules"
    f.write_text(f.read_text(encoding="utf-8").replace(SCORE_LINE, score), encoding="utf-8")
    return d


def unused(n: int) -> str:
    return "".join(f"let v{i} = {i}\n" for i in range(n))


def doubling(n: int) -> str:
    return "let d0 = x\n" + "".join(f"let d{i} = d{i - 1} + d{i - 1}\n" for i in range(1, n))


def chain(n: int) -> str:
    return "let c0 = x\n" + "".join(f"let c{i} = c{i - 1} + 0\n" for i in range(1, n))


def growth(make, sizes: tuple[int, int, int]) -> float:
    """Work added by the second step of sizes over work added by the first: 2.0 when linear
    in equal steps, about 3 when quadratic (the fixed cost cancels out)."""
    dirs = [make(n) for n in sizes]
    check(dirs[0])  # warm: the parser is built once per process
    c0, c1, c2 = (calls(lambda d=d: check(d)) for d in dirs)
    return (c2 - c1) / (c1 - c0)


def test_unused_lets_are_linear(tmp_path):
    def make(n):
        d = tmp_path / f"u{n}"
        return d if d.exists() else mini_with_lets(tmp_path, f"u{n}", unused(n))

    assert sum(d.code == "W501" for d in check(make(800))[1]) == 800
    ratio = growth(make, (0, 400, 800))
    # 1.0 measured (equal steps, equal work); locating each W501 by scanning all items made it 2.7.
    assert ratio < 1.25, ratio


def test_rendering_many_diagnostics_reads_the_file_once(tmp_path):
    d = mini_with_lets(tmp_path, "u", unused(300))
    diags = [x for x in check(d)[1] if x.code == "W501"]
    opened = []
    real_open = __import__("os").open

    def counting_open(path, *args, **kwargs):
        opened.append(path)
        return real_open(path, *args, **kwargs)

    import os
    os.open = counting_open
    try:
        text = "\n".join(x.render() for x in diags)
    finally:
        os.open = real_open
    assert "let v299 = 299" in text
    assert len(opened) <= 1


def test_doubling_lets_are_shared_not_expanded(tmp_path):
    """Each let uses the one before twice: inlined, 17 of them would be 131,073 nodes; lowered
    once and shared (the IR is a DAG), they are 17 nodes, checked and scored in linear time."""
    a = mini_with_lets(tmp_path, "d16", doubling(16), "score: linear(d15, cap: 4)")
    b = mini_with_lets(tmp_path, "d17", doubling(17), "score: linear(d16, cap: 4)")
    rs, diags = check(b)
    assert rs is not None, [x.render() for x in diags if x.is_error]
    assert not [x for x in diags if x.code == "W501"]
    # One more doubling must cost about one more let, not twice the work.
    check(a)
    ratio = calls(lambda: check(b)) / calls(lambda: check(a))
    assert ratio < 1.2, ratio
    r = CliRunner().invoke(app, ["score", str(b), "--facts", str(b / "facts")])
    assert r.exit_code == 0, (r.output, r.exception)


def test_long_let_chain_is_e108_not_recursion_error(tmp_path):
    d = mini_with_lets(tmp_path, "c", chain(3000), "score: linear(c2999, cap: 4)")
    rs, diags = check(d)
    assert rs is None and [x.code for x in diags if x.is_error] == ["E108"]
    r = CliRunner().invoke(app, ["score", str(d), "--facts", str(d / "facts")])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit) and "E108" in r.stderr


@pytest.mark.parametrize("command", ["check", "score", "explain", "test"])
def test_the_deepest_chain_allowed_runs_everywhere(tmp_path, command):
    n = (MAX_DEPTH - 2) // 2  # each let is a name and a `+`: two levels
    d = mini_with_lets(tmp_path, "c", chain(n), f"score: linear(c{n - 1}, cap: 4)")
    rs, diags = check(d)
    assert rs is not None, [x.render() for x in diags if x.is_error]
    args = {"check": [], "score": ["--facts", str(d / "facts")], "test": [],
            "explain": ["--facts", str(d / "facts"), "--unit", "100100"]}[command]
    r = CliRunner().invoke(app, [command, str(d), *args])
    assert r.exit_code == 0, (r.output, r.exception)
    d2 = mini_with_lets(tmp_path, "c2", chain(n + 2), f"score: linear(c{n + 1}, cap: 4)")
    assert [x.code for x in check(d2)[1] if x.is_error] == ["E108"]
