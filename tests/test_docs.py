"""docs/rules-language.md is tested: its examples must do what the text says, and it must name
everything the engine knows, so that the reference cannot fall behind the code.

- every ```rules block parses; checked together with the example fixture (or on its own when it
  declares a `ruleset`) — and a one-point stub indicator when it declares none — it has no
  errors, and its inline tests pass;
- every ```rules-error block produces the code named on its `# expect Ennn ["message part"]` line:
  E001 from ``parse_text``, any other code from ``check`` of a directory holding the block (in
  ``example.rules``), the fixture (``00_fixture.rules``) and ``units.csv``; blocks that declare a
  `ruleset` or say `# standalone` are checked without the fixture;
- every rule-file diagnostic code (E, W) has a triggering example (except those no rule text can
  produce); every code of the registry (E, W, M, A, F, C) is in the tables of §15;
- every function, setting, policy, aggregator, rounding mode, column type, syntax-error label and
  CLI command/option is named in the document.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from govindex.check import functions
from govindex.check.run import INDICATOR_KEYS, POINT_KEYS, RULESET_KEYS, check
from govindex.cli import app
from govindex.diagnostics import CODES, RuleError
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows
from govindex.eval.inline_tests import run_tests
from govindex.lang.nodes import IndicatorDecl, RulesetDecl
from govindex.lang.parse import SYNTAX_EXAMPLES, parse_dir, parse_text

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "rules-language.md"
DOC = DOC_PATH.read_text(encoding="utf-8")

# The fixture the examples assume; the document shows it verbatim (test_fixture_is_in_the_doc).
FIXTURE_RULES = """\
# The fixture every example assumes (00_fixture.rules, next to units.csv).
ruleset "示例" {
  units: "units.csv"
  rounds: {1: "2019-01-01", 2: "2019-02-01"}
  missing: zero
}

table pages {
  unit: str
  round: int
  url: str
  status: int
  title: str
  depth: int
  markers: list[str]
  fetched: datetime
  valid when status >= 200 and status < 400
}

table posts {
  unit: str
  round: int
  platform: str
  published: datetime
  text: str
}

table interactions {
  unit: str
  round: int
  channel: str
  submitted: datetime
  replied: datetime
}

table manual {
  unit: str
  round: int
  point: str
  value: float
}
"""

FIXTURE_UNITS = """\
code,name,province,macro_region
100100,甲市,河北,东部
100200,乙市,河北,东部
200100,丙州,四川,西部
"""

# Codes about files rather than their text: no rule text can produce them. Each is verified
# directly below instead (test_untriggerable_code).
RULE_CODES = {c: name for c, name in CODES.items() if c[0] in "EW"}  # the codes rule text can produce
UNTRIGGERABLE = {
    "E002": "a file that cannot be read or is not UTF-8; a document example is UTF-8 text",
    "E003": "a directory without .rules files; an example is always a .rules file",
}
# Composition errors that need a base rule set beside the example: tests/test_compose.py triggers them.
NEEDS_A_BASE = {"E330", "E333", "E334", "E338"}

_FENCE = re.compile(r"^```(rules|rules-error)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_EXPECT = re.compile(r'^#\s*expect\s+([EW]\d{3})(?:\s+"([^"]*)")?\s*$', re.M)


def _blocks(kind: str) -> list[tuple[int, str]]:
    out = []
    for m in _FENCE.finditer(DOC):
        if m.group(1) == kind:
            out.append((DOC.count("\n", 0, m.start()) + 1, m.group(2)))
    return out


RULES_BLOCKS = _blocks("rules")
ERROR_BLOCKS = _blocks("rules-error")
ALL_RULES_TEXT = "\n".join(text for _, text in RULES_BLOCKS)


def _ids(blocks):
    return [f"line{line}" for line, _ in blocks]


def _expected(text: str) -> tuple[str, str | None]:
    m = _EXPECT.search(text)
    assert m, "a rules-error block needs a line `# expect Ennn`"
    return m.group(1), m.group(2)


def _standalone(text: str) -> bool:
    if re.search(r"^#\s*standalone\b", text, re.M):
        return True
    return any(isinstance(it, RulesetDecl) for it in parse_text(text).items)


def _ruleset_dir(tmp_path: Path, text: str, stub: bool = False) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "units.csv").write_text(FIXTURE_UNITS, encoding="utf-8")
    if not _standalone(text):
        (d / "00_fixture.rules").write_text(FIXTURE_RULES, encoding="utf-8")
    (d / "example.rules").write_text(text, encoding="utf-8")
    if stub:
        (d / "zz_stub.rules").write_text(_stub(text), encoding="utf-8")
    return d


def _stub(text: str) -> str:
    """One indicator with one point for a block that declares none (the header alone, tables,
    grading): a rule set with nothing to score is an error (E210), the block is not."""
    items = parse_text(text).items + (() if _standalone(text) else parse_text(FIXTURE_RULES).items)
    if any(isinstance(it, IndicatorDecl) for it in items):
        return ""
    header = next((it for it in items if isinstance(it, RulesetDecl)), None)
    settings = {st.key: st.value for st in header.settings} if header else {}
    total = settings["max_total"].text if "max_total" in settings else "100"
    weighted = getattr(settings.get("aggregate"), "id", "sum") in ("mean", "wmean", "geomean")
    size = "weight: 1" if weighted else f"max: {total}"
    return (f'indicator 文档占位 "占位" {{\n  {size}\n  point 文档占位点 "占位" {{\n    kind: technical\n'
            f"    max: {total}\n    probe: 1\n    score: x\n    missing: zero\n  }}\n}}\n")


def _render(diags) -> str:
    return "\n".join(f"{d.span}: {d.code} {d.message}" for d in diags)


# ------------------------------------------------------------------ the document's examples


def test_doc_has_examples():
    assert len(RULES_BLOCKS) >= 20
    assert len(ERROR_BLOCKS) >= len(RULE_CODES) - len(UNTRIGGERABLE) - len(NEEDS_A_BASE)


@pytest.mark.parametrize("line,text", RULES_BLOCKS, ids=_ids(RULES_BLOCKS))
def test_rules_block_parses(line, text):
    parse_text(text, f"docs/rules-language.md:{line}")


@pytest.mark.parametrize("line,text", RULES_BLOCKS, ids=_ids(RULES_BLOCKS))
def test_rules_block_checks_and_its_tests_pass(tmp_path, line, text):
    rs, diags = check(_ruleset_dir(tmp_path, text, stub=True))
    errors = [d for d in diags if d.is_error]
    assert not errors, f"example at docs line {line}:\n{_render(errors)}"
    assert rs is not None
    failed = [o for o in run_tests(rs) if not o.passed]
    assert not failed, f"example at docs line {line}: " + "; ".join(o.describe() for o in failed)


@pytest.mark.parametrize("line,text", ERROR_BLOCKS, ids=_ids(ERROR_BLOCKS))
def test_error_block_produces_its_code(tmp_path, line, text):
    code, fragment = _expected(text)
    assert code in RULE_CODES, f"docs line {line}: unknown code {code}"
    if code == "E001":
        with pytest.raises(RuleError) as exc:
            parse_text(text)
        diags = exc.value.diagnostics
        assert [d.code for d in diags] == ["E001"]
        if fragment:
            assert fragment in diags[0].message, f"docs line {line}: {diags[0].message!r}"
        return
    parse_text(text)  # semantic examples must be well-formed
    _, diags = check(_ruleset_dir(tmp_path, text))
    mine = [d for d in diags if Path(d.span.path).name == "example.rules" and d.code == code]
    assert mine, f"docs line {line}: expected {code}, got:\n{_render(diags)}"
    if fragment:
        assert any(fragment in d.message for d in mine), _render(mine)


@pytest.mark.parametrize("code", sorted(RULE_CODES))
def test_every_code_has_a_triggering_example(code):
    if code in UNTRIGGERABLE:
        pytest.skip(f"{code} cannot be triggered by rule text: {UNTRIGGERABLE[code]}")
    if code in NEEDS_A_BASE:
        pytest.skip(f"{code} needs a base rule set: tests/test_compose.py")
    assert code in {_expected(text)[0] for _, text in ERROR_BLOCKS}, f"no ```rules-error example for {code}"


@pytest.mark.parametrize("code", sorted(UNTRIGGERABLE))
def test_untriggerable_code(tmp_path, code):
    """What the document says about the codes without a rule-text example holds."""
    if code == "E002":
        (tmp_path / "bad.rules").write_bytes("# 评价\n".encode("gbk"))
    _, diags = parse_dir(tmp_path)
    assert code in {d.code for d in diags}


def test_fixture_is_in_the_doc():
    assert FIXTURE_RULES.strip() in DOC
    assert FIXTURE_UNITS.strip() in DOC


def _formula_table() -> list[tuple[str, list[float]]]:
    """The rows of the table under "Every formula at work": formula, values at x = 2, 5, 8."""
    part = DOC.split("### Every formula at work", 1)[1]
    table = re.search(r"^\|.*?(?=^[^|])", part, re.M | re.S).group(0).splitlines()
    rows = []
    for line in table[2:]:  # after the header and the |---| line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0].strip("`"), [float(c) for c in cells[1:]]))
    return rows


def test_formula_table_values(tmp_path):
    """Every figure of the formula table is what govindex computes (to the 4 decimals shown)."""
    rows = _formula_table()
    assert {f.split("(")[0] for f, _ in rows} >= set(functions.FORMULAS)
    points = "\n".join(f'  point t{i} "t{i}" {{ kind: technical  max: 1  probe: sum(manual, value)  score: {f} }}'
                       for i, (f, _) in enumerate(rows))
    units = ["100100", "100200", "200100"]
    text = f'indicator t "t" {{\n  max: {len(rows)}\n{points}\n}}\n'
    rs, diags = check(_ruleset_dir(tmp_path, text))
    assert rs is not None, _render(diags)
    manual = [{"unit": u, "round": 1, "point": "-", "value": float(x)} for u, x in zip(units, (2, 5, 8))]
    scores = evaluate(rs, frames_from_rows(rs, {"manual": manual})).units
    by_code = {r["code"]: r for r in scores.iter_rows(named=True)}
    for i, (formula, want) in enumerate(rows):
        got = [by_code[u][score_col(f"t{i}")] for u in units]
        assert got == pytest.approx(want, abs=6e-5), f"{formula}: the document says {want}, govindex computes {got}"


# ------------------------------------------------------------------ the document names everything


DIAGNOSTICS = DOC.split("\n## 15. Diagnostics", 1)[1].split("\n## ", 1)[0]  # §15


@pytest.mark.parametrize("code", sorted(CODES))
def test_doc_lists_every_code(code):
    assert re.search(rf"\|\s*`{code}`\s*\|\s*`{re.escape(CODES[code])}`\s*\|", DIAGNOSTICS), \
        f"{code} {CODES[code]} is missing from the diagnostics tables of §15"


def test_every_prefix_is_registered_and_documented():
    """Rules (E, W), manual workbooks (M), adapters (A), facts (F), channels (C): one registry."""
    assert {c[0] for c in CODES} == set("EWMAFC")
    documented = set(re.findall(r"^\|\s*`([A-Z]\d{3})`\s*\|", DIAGNOSTICS, re.M))
    assert documented == set(CODES), f"documented but not registered: {sorted(documented - set(CODES))}"


FUNCTIONS = sorted({*functions.AGGREGATES, *functions.ROW, *functions.FORMULAS})


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_has_a_rules_example(name):
    assert re.search(rf"(?<![\w\u4e00-\u9fff]){name}\(", ALL_RULES_TEXT), f"no ```rules example calls {name}(...)"
    assert f"`{name}`" in DOC


@pytest.mark.parametrize("key", sorted(RULESET_KEYS | INDICATOR_KEYS | POINT_KEYS))
def test_every_setting_is_documented_and_used(key):
    assert f"`{key}`" in DOC
    assert re.search(rf"^\s*{key}:", ALL_RULES_TEXT, re.M), f"no ```rules example sets `{key}:`"


@pytest.mark.parametrize("key", sorted(RULESET_KEYS | INDICATOR_KEYS | POINT_KEYS))
def test_every_setting_has_a_table_row(key):
    assert re.search(rf"^\|\s*`{key}`\s*\|", DOC, re.M), f"setting `{key}` has no row in a settings table"


@pytest.mark.parametrize("policy", sorted(functions.MISSING_POLICIES))
def test_missing_policies(policy):
    assert f"`{policy}`" in DOC
    assert re.search(rf"^\s*missing:\s*{policy}\b", ALL_RULES_TEXT, re.M), f"no example uses `missing: {policy}`"


@pytest.mark.parametrize("policy", sorted(functions.ROUND_POLICIES))
def test_round_policies(policy):
    assert f"`{policy}`" in DOC
    assert re.search(rf"^\s*rounds(_policy)?:\s*{policy}\b", ALL_RULES_TEXT, re.M), f"no example uses `rounds: {policy}`"


@pytest.mark.parametrize("agg", sorted(functions.AGGREGATORS))
def test_aggregators(agg):
    assert re.search(rf"^\|\s*`{agg}`\s*\|", DOC, re.M), f"aggregator `{agg}` has no table row"
    assert re.search(rf"^\s*aggregate:\s*{agg}\b", ALL_RULES_TEXT, re.M), f"no example uses `aggregate: {agg}`"


@pytest.mark.parametrize("mode", functions.ROUNDING_MODES)
def test_rounding_modes(mode):
    assert f'`"{mode}"`' in DOC or f"`{mode}`" in DOC


@pytest.mark.parametrize("ctype", functions.COLUMN_TYPES)
def test_column_types(ctype):
    assert re.search(rf"^\|\s*`{re.escape(ctype)}`\s*\|", DOC, re.M), f"column type `{ctype}` has no table row"
    assert re.search(rf":\s*{re.escape(ctype)}\s*(#.*)?$", ALL_RULES_TEXT, re.M), f"no example declares a {ctype} column"


@pytest.mark.parametrize("label", sorted(SYNTAX_EXAMPLES))
def test_syntax_error_labels(label):
    assert label in DOC
    assert any(_expected(t) == ("E001", label) for _, t in ERROR_BLOCKS), f"no example expects the label {label!r}"


_COMMANDS = typer.main.get_command(app).commands


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_cli_commands_and_options(command):
    assert f"### `govindex {command}" in DOC, f"no section for `govindex {command}`"
    section = DOC.split(f"### `govindex {command}", 1)[1].split("\n### ", 1)[0]
    heading = section.splitlines()[0]
    for param in _COMMANDS[command].params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in heading, f"`govindex {command}` option {opt} is not documented"
