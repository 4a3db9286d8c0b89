"""The formatter: parse(format(x)) == parse(x) for every shipped rule file; shipped files are canonical."""

from __future__ import annotations

from pathlib import Path

import pytest

from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_file, parse_text
from tests.conftest import ROOT

SHIPPED = sorted([*ROOT.glob("rules/**/*.rules"), *ROOT.glob("examples/**/*.rules"),
                  *ROOT.glob("tests/fixtures/mini/*.rules")])


def test_there_are_shipped_files():
    assert len(SHIPPED) >= 5


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_round_trip(path: Path):
    original = parse_file(path)
    text = format_file(original)
    again = parse_text(text, str(path))
    assert again == original
    assert [c.text for c in again.comments] == [c.text for c in original.comments]  # no comment lost
    assert format_file(again) == text  # idempotent


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_files_are_canonical(path: Path):
    assert format_file(parse_file(path)) == path.read_text(encoding="utf-8"), f"run `govindex fmt {path}`"


def test_wraps_long_expressions():
    src = ('indicator a "A" {\n  max: 1\n  point p "P" {\n    probe: coverage(pages, markers, '
           + "[" + ", ".join(f'"marker_{i}"' for i in range(12)) + '], where: has(markers, "x") and depth <= 3)\n  }\n}\n')
    out = format_file(parse_text(src))
    assert max(len(line) for line in out.splitlines()) <= 100
    assert parse_text(out) == parse_text(src)


def test_minimal_parentheses():
    src = 'let a = (1 + 2) * 3 - (4 - 5) + -(x) + (not (p or q)) * 1 + (if c then 1 else 2)\n'
    out = format_file(parse_text(src))
    assert out == 'let a = (1 + 2) * 3 - (4 - 5) + -x + (not (p or q)) * 1 + (if c then 1 else 2)\n'
