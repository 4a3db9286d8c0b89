"""The typed IR between `check` and everything after it: lets lowered once and shared, list
parameters given a scalar caught by `check`, `walk` and `to_syntax`, and the compiler computing
each shared unit-level node once (one staged column), results unchanged."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from govindex import ir
from govindex.check.functions import AGGREGATES, FORMULAS, ROW, Signature
from govindex.check.run import check, load
from govindex.check.size import MAX_NODES, MAX_THRESHOLDS
from govindex.eval.compile import compile_rules
from govindex.eval.evaluate import evaluate, score_col
from govindex.eval.facts import frames_from_rows
from govindex.lang import nodes as n
from govindex.lang.fmt import format_expr
from tests.conftest import ROOT

TABLE = """ruleset "t" {
  units: "units.csv"
  rounds: {1: "2019-01-01"}
  missing: zero
}
table t {
  unit: str
  round: int
  title: str
  n: float
  flag: bool
  at: datetime
  tags: list[str]
}
"""


def _point(probe: str, score: str = "x") -> str:
    return (f'indicator i "指标" {{\n  max: 1\n  point p "点" {{\n    kind: technical\n    max: 1\n'
            f"    probe: {probe}\n    score: {score}\n  }}\n}}\n")


def _write(tmp_path: Path, body: str, header: str = TABLE) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "units.csv").write_text("code,name,province\nA1,甲,河北\nA2,乙,四川\n", encoding="utf-8")
    (d / "a.rules").write_text(header, encoding="utf-8")
    (d / "b.rules").write_text(body, encoding="utf-8")
    return d


# ------------------------------------------------------------------ a scalar where a list is expected

_ROW_ARG = {"table": "t", "list": "tags", "str": "title", "num": "n", "bool": "flag", "datetime": "at",
            "any": "title", "strs": '["a"]', "nums": "[1]", "map": "{1: 1}"}
_LITERAL_ARG = {"str": '"a"'}
_FORMULA_ARG = {"num": "x", "any": "x", "map": "{1: 1}"}
_KW = {"cap": "1", "lo": "0", "hi": "1", "p10": "1", "median": "2", "half_life": "1", "mid": "0", "steepness": "1",
       "span": "1"}


def _call(sig: Signature, context: dict[str, str], bad: str, scalar: str) -> str:
    args = []
    for p in sig.params:
        if p.name == bad:
            args.append(scalar)
        elif p.required:
            args.append(_LITERAL_ARG.get(p.type, context[p.type]) if p.literal else context[p.type])
    kwargs = [f"{p.name}: {_KW[p.name]}" for p in sig.kwonly if p.required and p.name in _KW]
    return f"{sig.name}({', '.join(args + kwargs)})"


def _list_params() -> list[tuple[str, str, str, str]]:
    out = []
    for where, table in (("aggregate", AGGREGATES), ("row", ROW), ("formula", FORMULAS)):
        for sig in table.values():
            for p in sig.params:
                if p.is_list:
                    scalars = ['"a"', "1"] + (["title"] if where != "formula" else [])
                    out += [(where, sig.name, p.name, s) for s in scalars]
    return out


LIST_PARAMS = _list_params()


def test_the_catalogue_has_list_parameters():
    assert {(w, f, p) for w, f, p, _ in LIST_PARAMS} >= {
        ("aggregate", "coverage", "expected"), ("row", "has_any", "values"), ("row", "has_all", "values"),
        ("row", "contains_any", "keywords"), ("row", "has", "column"), ("formula", "steps", "table")}


@pytest.mark.parametrize("where,fn,param,scalar", LIST_PARAMS, ids=[f"{f}.{p}={s}" for _, f, p, s in LIST_PARAMS])
def test_a_scalar_for_a_list_parameter_is_a_located_diagnostic(tmp_path, where, fn, param, scalar):
    if where == "aggregate":
        body = _point(_call(AGGREGATES[fn], _ROW_ARG, param, scalar))
    elif where == "row":
        call = _call(ROW[fn], _ROW_ARG, param, scalar)
        body = _point(f"count(t, where: {call})" if ROW[fn].returns == "bool" else f"count(t, where: {call} > 0)")
    else:
        body = _point("max(t, n)", _call(FORMULAS[fn], _FORMULA_ARG, param, scalar))
    rs, diags = check(_write(tmp_path, body))  # never an exception
    errors = [d for d in diags if d.is_error]
    assert rs is None and errors, body
    assert any(d.code == "E106" and d.span.path.endswith("b.rules") and d.span.line > 0 for d in errors), \
        [d.render() for d in errors]


def test_the_scalar_of_has_any_gets_a_hint(tmp_path):
    _, diags = check(_write(tmp_path, _point('any(t, where: has_any(tags, "portal"))', "presence(x)")))
    (d,) = diags
    assert (d.code, d.span.line, d.span.col) == ("E106", 6, 40)
    assert "must be a list of strings" in d.message and d.hint == 'write a list, even of one: ["portal"]'


@pytest.mark.parametrize("probe", ['count(t, where: contains(title, title))', 'count(t, where: has(tags, title))',
                                   'count(t, where: title in [title])', 'count(t, where: present(t))',
                                   'count(t, where: matches(title, title))'])
def test_what_compile_needs_literal_is_literal(tmp_path, probe):
    rs, diags = check(_write(tmp_path, _point(probe)))
    assert rs is None and {d.code for d in diags} == {"E106"}, [d.render() for d in diags]


@pytest.mark.parametrize("probe", ["t", "(t)"])
def test_a_table_as_a_probe_is_one_diagnostic_not_a_crash(tmp_path, probe):
    """Found by the mutation fuzzer: the formula was lowered with `x` of type table."""
    rs, diags = check(_write(tmp_path, _point(probe, "linear(x, cap: 4)")))
    errors = [d for d in diags if d.is_error]
    assert rs is None and [d.code for d in errors] == ["E106"], [d.render() for d in diags]
    assert "not table" in errors[0].message


def test_a_let_of_a_literal_is_a_literal(tmp_path):
    body = 'let 栏目 = "住房"\nlet 栏目们 = ["住房", "社保"]\n' + _point(
        "count(t, where: contains(title, 栏目) or contains_any(title, 栏目们) or has(tags, 栏目))")
    assert load(_write(tmp_path, body))


# ------------------------------------------------------------------ lets: one node per context

LETS = TABLE + """table u {
  unit: str
  round: int
  title: str
}
let 住房 = contains(title, "住房")
let 页数 = count(t, where: 住房)
let 比例 = 页数 / (页数 + count(u, where: 住房))
"""


def _points(probes: list[str]) -> str:
    body = 'indicator i "指标" {\n  aggregate: capped_sum\n  max: 1\n'
    for k, pr in enumerate(probes):
        body += f'  point p{k} "点{k}" {{\n    kind: technical\n    max: 1\n    probe: {pr}\n    score: x\n  }}\n'
    return body + "}\n"


def test_a_let_is_one_node_wherever_it_is_used(tmp_path):
    rs = load(_write(tmp_path, _points(["比例", "比例 * 2", "1 - 比例", "页数"]), LETS))
    ratio = rs.nodes["p0"].probe
    assert isinstance(ratio, ir.Op)
    for p in ("p1", "p2"):
        (shared,) = [x for x in ir.children(rs.nodes[p].probe) if isinstance(x, ir.Op)]  # type: ignore[arg-type]
        assert shared is ratio
    count = rs.nodes["p3"].probe
    assert isinstance(count, ir.Agg) and count is ir.children(ratio)[0]


def test_a_let_means_what_its_names_mean_where_it_is_used(tmp_path):
    rs = load(_write(tmp_path, _points(["比例"]), LETS))
    aggs = ir.aggregates(rs.nodes["p0"].probe)
    assert [(a.table, a.where.args[0].table) for a in aggs] == [("t", "t"), ("u", "u")]  # type: ignore[union-attr]
    assert aggs[0].where != aggs[1].where  # title of t, title of u


def test_a_let_reading_entry_is_one_node_per_point(tmp_path):
    header = TABLE + "table manual {\n  unit: str\n  round: int\n  point: str\n  value: float\n}\n" \
        + "let 录入 = entry(manual)\nlet 一半 = 录入 / 2\n"
    rs = load(_write(tmp_path, _points(["一半", "一半"]), header))
    a, b = (rs.nodes[p].probe for p in ("p0", "p1"))
    assert a != b
    assert [x.point for x in ir.aggregates(a, b)] == ["p0", "p1"]  # type: ignore[union-attr]


def test_walk_visits_each_distinct_node_once(tmp_path):
    rs = load(_write(tmp_path, _points(["比例 + 比例 * 比例"]), LETS))
    nodes = list(ir.walk(rs.nodes["p0"].probe))
    assert len(nodes) == len(set(nodes)) == len({id(x) for x in nodes})
    assert sum(isinstance(x, ir.Agg) for x in nodes) == 2


def test_equal_nodes_are_equal_and_hash_alike_whatever_their_spans():
    a = ir.Const(1.0, "num", "1", n.Span("a", 1, 1, 1, 2))
    b = ir.Const(1.0, "num", "1.0", n.Span("b", 9, 9, 9, 9))
    assert a == b and hash(a) == hash(b)
    assert ir.Const(True, "bool") != ir.Const(1.0, "num")
    assert ir.Op("+", (a, b), "num") == ir.Op("+", (b, a), "num")


# ------------------------------------------------------------------ to_syntax: lets expanded, as written


@pytest.mark.parametrize("rules", ["rules/2019", "rules/2018", "examples/country-index"])
def test_to_syntax_is_the_expression_with_lets_expanded(rules):
    rs = load(ROOT / rules)
    lets = set(rs.lets)
    plain = 0
    for p in rs.points:
        for e, src in ((p.probe, p.probe_src), (p.score, p.score_src)):
            assert e is not None and src is not None
            named = {x.id if isinstance(x, n.Name) else x.fn for x in n.walk(src) if isinstance(x, (n.Name, n.Call))}
            if not named & lets:  # no let, no function call: shown as written
                plain += 1
                assert format_expr(ir.to_syntax(e)) == format_expr(src)
    assert plain > len(rs.points)


# ------------------------------------------------------------------ computed once: stages

TIERS = TABLE.replace("  tags: list[str]\n", "  tags: list[str]\n  metric: str\n")


def _tiers(depth: int, thresholds: int) -> str:
    grid = "{" + ", ".join(f"{i / thresholds:.6g}: {i / thresholds:.6g}" for i in range(thresholds)) + "}"
    out = [f'let t0_{i} = mean(t, n, where: metric == "m{i}")\n' for i in range(2 ** depth)]
    for d in range(1, depth + 1):
        out += [f"let t{d}_{i} = steps((t{d - 1}_{2 * i} + t{d - 1}_{2 * i + 1}) / 2, {grid})\n"
                for i in range(2 ** (depth - d))]
    probes = [f"t{d}_{i}" for d in range(1, depth + 1) for i in range(2 ** (depth - d))]
    return "".join(out) + _points(probes)


def test_shared_nodes_are_columns_computed_once(tmp_path):
    rs = load(_write(tmp_path, _tiers(3, 20), TIERS))
    plan = compile_rules(rs)
    # The 6 tier lets below the top, used by their own point and by the tier above: a column each;
    # the 7 steps' arguments, read once per threshold: a column each. The top tier is used by its
    # point alone: inlined in the point's value.
    columns = [c for stage in plan.stages for c in stage]
    assert len(columns) == 6 + 7
    assert len(plan.stages) == 5  # argument, steps, argument, steps, argument
    size = sum(len(str(e)) for e in [*plan.probes.values(), *columns])
    assert size < 60_000  # without sharing the top tier alone repeats its argument 20³ times


def test_staged_results_equal_a_hand_computation(tmp_path):
    rs = load(_write(tmp_path, _tiers(2, 4), TIERS))
    rows = [{"unit": "A1", "round": 1, "metric": f"m{i}", "n": v} for i, v in enumerate([0.1, 0.5, 0.9, 0.3])]
    rows += [{"unit": "A2", "round": 1, "metric": f"m{i}", "n": v} for i, v in enumerate([1.0, 1.0, 0.2, 0.2])]
    units = evaluate(rs, frames_from_rows(rs, {"t": rows}), [1]).units
    got = {r["code"]: [r[score_col(p)] for p in ("p0", "p1", "p2")] for r in units.iter_rows(named=True)}

    def floor4(v: float) -> float:  # the highest of the thresholds 0, 0.25, 0.5, 0.75 that v reaches
        return min(math.floor(v * 4) / 4, 0.75)

    for code, m in (("A1", [0.1, 0.5, 0.9, 0.3]), ("A2", [1.0, 1.0, 0.2, 0.2])):
        a, b = floor4((m[0] + m[1]) / 2), floor4((m[2] + m[3]) / 2)
        assert got[code] == pytest.approx([a, b, floor4((a + b) / 2)])


def test_a_formula_over_a_computed_value_stages_per_point(tmp_path):
    body = _point("max(t, n)", "steps(log(x + 1), {0.5: 0.5, 1: 1})")
    rs = load(_write(tmp_path, body))
    plan = compile_rules(rs)
    assert [len(s) for s in plan.formula_stages["p"]] == [1]
    rows = [{"unit": "A1", "round": 1, "n": 2.0}, {"unit": "A2", "round": 1, "n": 0.7}]
    units = evaluate(rs, frames_from_rows(rs, {"t": rows}), [1]).units
    assert dict(zip(units["code"], units[score_col("p")])) == {"A1": 1.0, "A2": 0.5}
    assert not [c for c in evaluate(rs, frames_from_rows(rs, {"t": rows}), [1]).rounds.columns if c.startswith("f:")]


# ------------------------------------------------------------------ W504, year, groups


def test_a_large_threshold_table_warns(tmp_path):
    grid = "{" + ", ".join(f"{i}: {i / 100}" for i in range(MAX_THRESHOLDS + 1)) + "}"
    rs, diags = check(_write(tmp_path, _point("max(t, n)", f"steps(x, {grid})")))
    assert rs is not None and [d.code for d in diags] == ["W504"]
    assert f"{MAX_THRESHOLDS + 1} entries" in diags[0].message
    ok = "{" + ", ".join(f"{i}: {i / 100}" for i in range(MAX_THRESHOLDS)) + "}"
    assert check(_write(tmp_path, _point("max(t, n)", f"steps(x, {ok})")))[1] == []


def test_a_long_expression_warns_even_shared(tmp_path):
    terms = " + ".join(f"count(t, where: n > {i})" for i in range(MAX_NODES // 3))
    rs, diags = check(_write(tmp_path, _point(terms)))
    assert rs is not None and [d.code for d in diags] == ["W504"] and "distinct operations" in diags[0].message


def test_shared_lets_do_not_count_twice(tmp_path):
    rs, diags = check(_write(tmp_path, _tiers(4, 40), TIERS))
    assert rs is not None and diags == []


@pytest.mark.parametrize("setting,message", [('year: "2019"', "`year` is the evaluation year"),
                                             ("year: 19.5", "`year` is the evaluation year"),
                                             ('groups: ["provnce"]', "not a column of the units registry"),
                                             ('groups: "province"', "`groups` lists columns")])
def test_year_and_groups_are_checked(tmp_path, setting, message):
    rs, diags = check(_write(tmp_path, _point("count(t)"), TABLE.replace("missing: zero", f"missing: zero\n  {setting}")))
    assert rs is None and [d.code for d in diags] == ["E207"] and message in diags[0].message


def test_year_and_groups_are_carried(tmp_path):
    header = TABLE.replace("missing: zero", 'missing: zero\n  year: 2019\n  groups: ["province"]')
    rs = load(_write(tmp_path, _point("count(t)"), header))
    assert (rs.year, rs.groups) == (2019, ("province",))
    assert rs.rounding == ir.Rounding("half_up", 2, "output")


def test_plan_has_no_python_callbacks():
    rs = load(ROOT / "rules" / "2019")
    plan = compile_rules(rs)
    text = " ".join(str(e) for e in [*plan.probes.values(), *plan.formulas.values()])
    assert "map_elements" not in text and "python" not in text.lower()


CURVE = """let level = mean(t, n)
let z = (log(level) - 1) / 0.8
let inner = 1.5976 * z + 0.070566 * z * z * z
let tail = 1 / (1 + inner * inner)
let cdf = if inner >= 0 then 1 - tail / 2 else tail / 2
let floored = steps(cdf, {0: 0, 0.2: 0.2, 0.4: 0.4, 0.6: 0.6, 0.8: 0.8})
""" + _points(["cdf", "floored", "(floored + cdf) / 2", "minmax(level) + 0 * cdf"]).replace(
    "score: x\n  }\n}", "score: steps(log(x + 1), {0.1: 0.5, 0.2: 1})\n  }\n}")


def test_staging_changes_no_value(tmp_path, monkeypatch):
    """The same rule set scored with shared nodes staged as columns and with everything inlined."""
    import random

    from govindex.eval import compile as compile_module

    rs = load(_write(tmp_path, CURVE))
    rng = random.Random(10)
    rows = [{"unit": u, "round": 1, "n": rng.lognormvariate(1, 0.8)} for u in ("A1", "A2") for _ in range(5)]
    staged = evaluate(rs, frames_from_rows(rs, {"t": rows}), [1])
    assert compile_rules(rs).stages
    monkeypatch.setattr(compile_module, "_computed", lambda e: False)
    assert not compile_rules(rs).stages
    inlined = evaluate(rs, frames_from_rows(rs, {"t": rows}), [1])
    assert staged.units.equals(inlined.units) and staged.rounds.equals(inlined.rounds)


@pytest.mark.parametrize("down", [False, True])
@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 64])
def test_steps_search_picks_what_the_chain_picks(down, size):
    """The binary search of `steps` against the when/then chain it replaces, at and around every
    threshold, and at null, NaN and ±inf."""
    from govindex.eval.compile import _search

    thresholds = sorted({round(0.37 * k * k - 3 * k, 3) for k in range(size)})
    pairs = [(t, pl.lit(float(k + 1))) for k, t in enumerate(thresholds)]
    xs = [None, float("nan"), float("inf"), -float("inf")] + [t + d for t in thresholds for d in (-1e-9, 0, 1e-9)]
    x = pl.col("x")
    chain = pl.lit(0.0)
    for t, rate in (pairs[::-1] if down else pairs):  # wrapped last = tested first: the engine's old order
        test = (x <= t) if down else (x >= t)
        chain = pl.when(test).then(rate).otherwise(chain)
    tree = _search(x, pairs, 0, len(pairs), pl.lit(0.0), down)
    df = pl.DataFrame({"x": xs}, schema={"x": pl.Float64}).select(chain.alias("chain"), tree.alias("tree"))
    assert df["chain"].to_list() == df["tree"].to_list()


def test_a_large_table_warns_once(tmp_path):
    rs, diags = check(_write(tmp_path, _tiers(2, MAX_THRESHOLDS + 10), TIERS))
    # three `steps` lets with the same table, three points reading them: one warning, at the first
    assert rs is not None and [(d.code, d.span.line) for d in diags] == [("W504", 5)]
