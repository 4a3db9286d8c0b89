"""Functions: `let f(a, b) = expr` — checked per call, one shared IR node per distinct argument,
every misuse a located diagnostic (E310–E315, W505, W501; E108 for a chain too deep), scores equal to the same rules
written out without the function."""

from __future__ import annotations

from pathlib import Path

import pytest

from govindex import ir
from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows
from govindex.lang.fmt import format_file
from govindex.lang.parse import parse_text

HEADER = """ruleset "t" {
  units: "units.csv"
  rounds: {1: "2019-01-01"}
  missing: zero
}
table t {
  unit: str
  round: int
  title: str
  n: float
  age_days: int
}
table u {
  unit: str
  round: int
  n: float
}
"""


def _write(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "rules"
    d.mkdir(parents=True, exist_ok=True)
    (d / "units.csv").write_text("code,name\nA1,甲\nA2,乙\n", encoding="utf-8")
    (d / "a.rules").write_text(HEADER, encoding="utf-8")
    (d / "b.rules").write_text(body, encoding="utf-8")
    return d


def _points(probes: list[str], scores: list[str] | None = None) -> str:
    body = 'indicator i "指标" {\n  aggregate: capped_sum\n  max: 1\n'
    for k, pr in enumerate(probes):
        sc = scores[k] if scores else "x"
        body += f'  point p{k} "点{k}" {{\n    kind: technical\n    max: 1\n    probe: {pr}\n    score: {sc}\n  }}\n'
    return body + "}\n"


def _codes(tmp_path: Path, body: str) -> list[tuple[str, int]]:
    _, diags = check(_write(tmp_path, body))
    return [(d.code, d.span.line) for d in diags]


# ------------------------------------------------------------------ sharing: one node per distinct argument

RECENT = "let recent(tbl, days) = count(tbl, where: age_days <= days)\n"


def test_twenty_calls_with_the_same_arguments_are_one_node(tmp_path):
    rs = load(_write(tmp_path, RECENT + _points(["recent(t, 30)"] * 20)))
    probes = [rs.nodes[f"p{k}"].probe for k in range(20)]
    assert isinstance(probes[0], ir.Agg)
    assert all(p is probes[0] for p in probes)
    assert rs.let_params == {"recent": ("tbl", "days")}
    assert rs.lets["recent"] == parse_text(RECENT).items[0].value  # type: ignore[union-attr]


def test_two_distinct_arguments_are_two_nodes(tmp_path):
    rs = load(_write(tmp_path, RECENT + _points(["recent(t, 30)", "recent(t, 90)"] * 10)))
    nodes = {id(rs.nodes[f"p{k}"].probe) for k in range(20)}
    assert len(nodes) == 2


def test_spelling_and_keywords_do_not_split_the_node(tmp_path):
    rs = load(_write(tmp_path, RECENT + _points(["recent(t, 30)", "recent(tbl: t, days: 30.0)", "recent(t, days: 30)"])))
    assert rs.nodes["p1"].probe is rs.nodes["p0"].probe is rs.nodes["p2"].probe


def test_a_function_scores_as_the_rules_written_out(tmp_path):
    fn = ("let share(a, b) = if a + b > 0 then a / (a + b) else 0\n"
          "let graded(v, grid) = steps(v, grid)\n"
          "let halves = {0.25: 0.5, 0.75: 1}\n")
    with_fn = fn + _points(["share(count(t, where: n > 1), count(u))", "count(t)"],
                           ["graded(x, halves)", "graded(x, {1: 0.5, 3: 1})"])
    written = _points(["if count(t, where: n > 1) + count(u) > 0 then count(t, where: n > 1) / "
                       "(count(t, where: n > 1) + count(u)) else 0", "count(t)"],
                      ["steps(x, {0.25: 0.5, 0.75: 1})", "steps(x, {1: 0.5, 3: 1})"])
    rows = {"t": [{"unit": "A1", "round": 1, "title": "a", "n": 2.0, "age_days": 3},
                  {"unit": "A1", "round": 1, "title": "b", "n": 0.5, "age_days": 40},
                  {"unit": "A2", "round": 1, "title": "c", "n": 5.0, "age_days": 1}],
            "u": [{"unit": "A1", "round": 1, "n": 1.0}]}
    got = []
    for k, body in enumerate((with_fn, written)):
        rs = load(_write(tmp_path / str(k), body))
        units = evaluate(rs, frames_from_rows(rs, rows), [1]).units
        got.append({r["code"]: (r[score_col("p0")], r[score_col("p1")]) for r in units.iter_rows(named=True)})
    assert got[0] == got[1]
    assert got[0] == {"A1": (0.5, 0.5), "A2": (0.0, 0.5)}  # A2 has no row of u: missing, scored 0


def test_functions_in_row_conditions_and_formulas(tmp_path):
    body = ('let titled(word) = contains(title, word)\n'
            'let capped(v, top) = min(v, top) / top\n'
            + _points(['count(t, where: titled("a") or titled("b"))'], ["capped(x, 4)"]))
    rs, diags = check(_write(tmp_path, body))
    assert rs is not None and [d.code for d in diags] == ["W502"]  # table u: not read here


def test_a_function_calling_a_function(tmp_path):
    body = ("let quotient(a, b) = a / b\nlet pct(a, b) = quotient(a, b) * 100\n"
            + _points(["pct(count(t), count(u) + 1)"]))
    rs, diags = check(_write(tmp_path, body))
    assert rs is not None and diags == []


# ------------------------------------------------------------------ diagnostics


def test_wrong_arity_is_e310_at_the_call(tmp_path):
    body = RECENT + _points(["recent(t)", "recent(t, 1, 2)", "recent(t, weeks: 3)"])
    _, diags = check(_write(tmp_path, body))
    e310 = [d for d in diags if d.code == "E310"]
    assert [d.span.path.endswith("b.rules") for d in e310] == [True] * 3
    assert "needs `days`" in e310[0].message and "defined at" in e310[0].hint
    assert "no parameter `weeks`" in e310[2].message and "days" in e310[2].hint


def test_a_type_error_in_the_body_is_reported_at_the_call(tmp_path):
    body = 'let half(v) = v / "2"\n' + _points(["half(count(t))"])
    _, diags = check(_write(tmp_path, body))
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "E106" and d.span.line == 8  # the point's probe line, not the let's
    assert "half(count(t))" in d.message and f"{d.span.path}:1:" in d.hint  # the body's place


def test_a_bad_argument_is_reported_at_the_argument(tmp_path):
    body = 'let half(v) = v / 2\n' + _points(['half("text")'])
    _, diags = check(_write(tmp_path, body))
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "E106" and (d.span.line, d.span.col) == (8, 17)  # at "text"
    assert "`half`" in d.hint and f"{d.span.path}:1:1" in d.hint


def test_shadowing_and_builtin_names(tmp_path):
    body = ("let limit = 3\n"
            "let f(t, limit, count, x) = t + limit + count + x\n"
            "let max(a) = a\n"
            + _points(["f(1, 2, 3, 4) + max(1)"]))
    codes = _codes(tmp_path, body)
    assert codes.count(("E311", 2)) == 4 and ("E312", 3) in codes


def test_function_as_value_and_value_called(tmp_path):
    body = "let double(v) = v * 2\nlet three = 3\n" + _points(["double + 1", "three(1)"])
    codes = [c for c, _ in _codes(tmp_path, body)]
    assert "E313" in codes and "E314" in codes


def test_recursion_is_e315_with_the_cycle(tmp_path):
    body = ("let a(v) = b(v) + 1\nlet b(v) = c + v\nlet c = a(1)\nlet self(v) = self(v)\n"
            + _points(["a(count(t))"]))
    _, diags = check(_write(tmp_path, body))
    e315 = [d for d in diags if d.code == "E315"]
    assert len(e315) == 2
    assert "a(…) → b(…) → c → a(…)" in e315[0].message and e315[0].span.line == 1
    assert "self(…) → self(…)" in e315[1].message
    assert not [d for d in diags if d.code == "E205"]


def test_unused_parameter_and_unused_function(tmp_path):
    body = "let f(a, b) = a * 2\nlet g(v) = v\n" + _points(["f(count(t), 1)"])
    _, diags = check(_write(tmp_path, body))
    got = [d for d in diags if d.code != "W502"]
    assert [(d.code, d.span.line) for d in got] == [("W505", 1), ("W501", 2)]
    assert "`b`" in got[0].message


def test_duplicate_parameter_is_a_syntax_error():
    from govindex.diagnostics import RuleError
    with pytest.raises(RuleError) as exc:
        parse_text("let f(a, a) = a\n")
    assert exc.value.diagnostics[0].code == "E001"


# ------------------------------------------------------------------ formatter


def test_functions_format_and_round_trip():
    src = "let recent(tbl,days)=count(tbl,where:age_days<=days)\n"
    out = format_file(parse_text(src))
    assert out == "let recent(tbl, days) = count(tbl, where: age_days <= days)\n"
    assert parse_text(out) == parse_text(src)


def test_a_deep_chain_of_functions_is_e108_not_a_crash(tmp_path):
    chain = "".join(f"let f{k}(v) = f{k + 1}(v) + 1\n" for k in range(400)) + "let f400(v) = v\n"
    _, diags = check(_write(tmp_path, chain + _points(["f0(count(t))"])))
    assert [d.code for d in diags if d.is_error] == ["E108"]
    short = "".join(f"let g{k}(v) = g{k + 1}(v) + 1\n" for k in range(40)) + "let g40(v) = v\n"
    rs, diags = check(_write(tmp_path, short + _points(["g0(count(t))"])))
    assert rs is not None


def test_a_call_displays_expanded_for_explain_and_diff(tmp_path):
    """`ir.to_syntax` shows what is computed: the body with the arguments in place."""
    from govindex.lang.fmt import format_expr
    rs = load(_write(tmp_path, RECENT + _points(["recent(t, 30) + 1"])))
    assert format_expr(ir.to_syntax(rs.nodes["p0"].probe)) == "count(t, where: age_days <= 30) + 1"


def test_an_argument_the_body_cannot_use_is_located_at_the_argument(tmp_path):
    body = "let twice(v) = v * 2\n" + _points(["twice(age_days > 3)", "twice(t)"])
    _, diags = check(_write(tmp_path, body))
    errs = [d for d in diags if d.is_error]
    assert [(d.code, d.span.line) for d in errs] == [("E104", 8), ("E106", 14)]
    assert all("`twice`, defined at" in d.hint for d in errs)


def test_functions_in_valid_when_and_row_values(tmp_path):
    body = ("let between(v, lo, hi) = v >= lo and v <= hi\n"
            + _points(["count(t, where: between(age_days, 0, 30))", "mean(u, n, where: between(n, 1, 9))"]))
    head = HEADER.replace("  age_days: int\n}", "  age_days: int\n  valid when between(n, 0, 1000)\n}")
    d = _write(tmp_path, body)
    (d / "a.rules").write_text(head, encoding="utf-8")
    rs, diags = check(d)
    assert rs is not None and diags == []
    assert rs.tables["t"].valid is not None
