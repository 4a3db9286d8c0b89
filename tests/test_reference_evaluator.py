"""The polars evaluator against a small pure-Python reference evaluator, on random facts.

The reference interprets the rule files as written (probes, formulas, ``valid when``: syntax, not
the checker's IR) for a subset of the language — row filters (comparisons, and/or/not with
three-valued logic, ``in``, ``has``, ``contains``), the aggregates
any/count/sum/mean/min/max/ratio/coverage/distinct, the formulas
presence/linear/steps/steps_down/log_scale/minmax/rank and ``x`` — then combines rounds
(latest/mean/max), applies missing policies (zero/exclude/null) and walks the tree (sum with
renormalisation over the children present). Only the *structure* of the tree (parents, maxima,
resolved policies) is taken from the checker, and :func:`test_policies_resolved` pins it down.

Semantics (engine/evaluate.py docstrings, SPEC.md §2):
- per unit × round and point: no rows in the table → ``no_data``; rows but none valid →
  ``error``; a null value → ``no_data``; otherwise ``ok``;
- rate = formula(value) clamped to [0, 1], null unless ``ok``; normalisations across units
  (minmax, rank) see only the ``ok`` values of the round;
- rounds combined per point; the combined status is ok if any round is ok, else error if any
  round is, else no_data;
- point score = rate × max (0 when null and the point's policy is ``zero``);
- a node: children present = non-null or policy ``zero``; score = Σ present × Σ max / Σ present
  max, capped at max; null when a ``null``-policy child is null or nothing is present; a null
  node whose own policy is ``zero`` scores 0.
"""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from govindex.check.run import load
from govindex.eval.compile import ROUND, value_col
from govindex.eval.evaluate import evaluate, rate_col, score_col, status_col
from govindex.eval.facts import frames_from_rows
from govindex.ir import ROOT, RuleSet
from govindex.lang import nodes as n

UNITS_CSV = """code,name,province
U1,一市,甲省
U2,二市,甲省
U3,三市,乙省
U4,四市,乙省
U5,五州,丙省
U6,六盟,丙省
"""
CODES = ["U1", "U2", "U3", "U4", "U5", "U6"]

RULES = """# Reference rule set: every aggregate, formula, rounds policy and missing policy once or more.
ruleset "reference" {
  units: "units.csv"
  rounds: {1: "2019-01-01", 2: "2019-02-01", 3: "2019-03-01"}
  max_total: 34
  missing: zero
}

table facts {
  unit: str
  round: int
  kind: str
  n: int
  tags: list[str]
  valid when n >= 0
}

indicator a "甲" {
  max: 14
  missing: exclude
  point p_any "有无" {
    kind: technical
    max: 2
    probe: any(facts, where: has(tags, "x") and not (kind == "c"))
    score: presence(x)
  }
  point p_count "数量" {
    kind: technical
    max: 3
    probe: count(facts, where: kind in ["a", "b"] or n > 5)
    score: linear(x, cap: 4)
    missing: exclude
    rounds: mean
  }
  point p_sum "合计" {
    kind: technical
    max: 3
    probe: sum(facts, n, where: not (kind in ["a", "b"]))
    score: steps(x, {1: 0.25, 5: 0.5, 10: 1})
    rounds: max
  }
  point p_ratio "比例" {
    kind: technical
    max: 3
    probe: ratio(facts, contains(kind, "b"), where: n >= 1)
    score: x
    missing: exclude
    rounds: mean
  }
  point p_mean "平均" {
    kind: technical
    max: 3
    probe: mean(facts, n, where: "y" in tags)
    score: log_scale(x, cap: 10)
    missing: null
    rounds: mean
  }
}

indicator b "乙" {
  max: 16
  point p_cov "集合度" {
    kind: technical
    max: 4
    probe: coverage(facts, tags, ["x", "y", "z"])
    score: x
    missing: exclude
    rounds: mean
  }
  point p_min "最小" {
    kind: technical
    max: 3
    probe: min(facts, n, where: kind != "c")
    score: steps_down(x, {0: 1, 2: 0.6, 4: 0.2})
    missing: exclude
    rounds: max
  }
  point p_max "最大" {
    kind: technical
    max: 3
    probe: max(facts, n)
    score: minmax(x)
    missing: exclude
  }
  indicator b1 "乙一" {
    max: 6
    missing: exclude
    point p_distinct "种类" {
      kind: technical
      max: 4
      probe: distinct(facts, kind, where: n < 8 and not has(tags, "z"))
      score: rank(x)
      missing: null
    }
    point p_z "标记" {
      kind: technical
      max: 2
      probe: count(facts, where: "z" in tags)
      score: linear(x, cap: 2)
      missing: exclude
    }
  }
}

indicator c "丙" {
  max: 4
  missing: zero
  point p_c "丙类" {
    kind: technical
    max: 4
    probe: max(facts, n, where: kind == "c" or has(tags, "w"))
    score: linear(x, cap: 10)
    missing: null
  }
}
"""

# What the checker must resolve (policy defaults included): node → (missing, rounds, max).
EXPECTED_NODES = {
    "a": ("exclude", "", 14), "b": ("null", "", 16), "b1": ("exclude", "", 6), "c": ("zero", "", 4),
    "p_any": ("zero", "latest", 2), "p_count": ("exclude", "mean", 3), "p_sum": ("zero", "max", 3),
    "p_ratio": ("exclude", "mean", 3), "p_mean": ("null", "mean", 3), "p_cov": ("exclude", "mean", 4),
    "p_min": ("exclude", "max", 3), "p_max": ("exclude", "latest", 3), "p_distinct": ("null", "latest", 4),
    "p_z": ("exclude", "latest", 2), "p_c": ("null", "latest", 4),
}

TOL = 1e-9
OK, NO_DATA, ERROR = "ok", "no_data", "error"


@functools.cache
def _ruleset() -> RuleSet:
    d = Path(tempfile.mkdtemp(prefix="govindex-reference-"))
    (d / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    (d / "reference.rules").write_text(RULES, encoding="utf-8")
    return load(d)


@pytest.fixture
def rs() -> RuleSet:
    return _ruleset()


# ---------------------------------------------------------------- the reference evaluator


def _kleene_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _kleene_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


_CMP = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b != 0 else None,
}


def row_value(e: n.Expr, row: dict):
    """A row expression's value, None for null (SQL three-valued logic)."""
    if isinstance(e, n.Name):
        return row.get(e.id)
    if isinstance(e, (n.Number, n.String, n.Bool)):
        return e.value
    if isinstance(e, n.Null):
        return None
    if isinstance(e, n.ListLit):
        return [row_value(i, row) for i in e.items]
    if isinstance(e, n.Unary):
        v = row_value(e.operand, row)
        if v is None:
            return None
        return (not v) if e.op == "not" else -v
    if isinstance(e, n.Binary):
        a = row_value(e.left, row)
        b = row_value(e.right, row)
        if e.op == "and":
            return _kleene_and(a, b)
        if e.op == "or":
            return _kleene_or(a, b)
        if e.op in ("in", "not in"):
            if a is None or b is None:
                return None
            out = a in b
            return (not out) if e.op == "not in" else out
        if a is None or b is None:
            return None
        return _CMP[e.op](a, b)
    if isinstance(e, n.Call):
        a = row_value(e.args[0], row)
        b = row_value(e.args[1], row)
        if a is None:
            return None
        if e.fn in ("has", "contains"):
            return b in a  # list membership / substring
    raise NotImplementedError(f"reference: no row semantics for {e}")


def aggregate(call: n.Call, rows: list[dict], table_valid: n.Expr | None):
    """One aggregate over the rows of one unit × round (there is at least one row)."""
    def matches(r):
        ok = table_valid is None or row_value(table_valid, r) is True
        where = call.kwarg("where")
        return ok and (where is None or row_value(where, r) is True)

    m = [r for r in rows if matches(r)]
    fn = call.fn
    if fn == "any":
        return bool(m)
    if fn == "count":
        return float(len(m))
    if fn == "ratio":
        if not m:
            return None
        return sum(row_value(call.args[1], r) is True for r in m) / len(m)
    if fn == "coverage":
        expected = [i.value for i in call.args[2].items]
        cells = [row_value(call.args[1], r) or () for r in m]  # a list (by element) or a text (substring)
        found = [k for k in expected if any(k in cell for cell in cells)]
        return len(found) / len(expected) if expected else None
    vals = [row_value(call.args[1], r) for r in m]
    vals = [v for v in vals if v is not None]
    if fn == "sum":
        return float(sum(vals))
    if fn == "distinct":
        return float(len(set(vals)))
    if not vals:
        return None
    if fn == "mean":
        return sum(vals) / len(vals)
    if fn == "min":
        return min(vals)
    if fn == "max":
        return max(vals)
    raise NotImplementedError(f"reference: no aggregate {fn}")


def _kw(call: n.Call, name: str) -> float:
    v = call.kwarg(name)
    assert isinstance(v, n.Number)
    return v.value


def _num(v):
    return None if v is None else float(v)


def formula(e: n.Expr, xs: dict[str, object]) -> dict[str, float | None]:
    """A formula over every unit's ``x`` of one round at once (normalisations need them all)."""
    if isinstance(e, n.Name) and e.id == "x":
        return {u: _num(v) for u, v in xs.items()}
    if isinstance(e, n.Number):
        return {u: e.value for u in xs}
    assert isinstance(e, n.Call), e
    arg = formula(e.args[0], xs)
    present = {u: v for u, v in arg.items() if v is not None}
    out: dict[str, float | None] = {}
    for u, x in arg.items():
        if x is None:
            out[u] = None
        elif e.fn == "presence":
            out[u] = 1.0 if x > 0 else 0.0
        elif e.fn == "linear":
            out[u] = x / _kw(e, "cap")
        elif e.fn == "log_scale":
            out[u] = math.log1p(max(x, 0.0)) / math.log1p(_kw(e, "cap"))
        elif e.fn in ("steps", "steps_down"):
            table = {float(p.key): p.value.value for p in e.args[1].pairs}
            if e.fn == "steps":
                hits = [t for t in table if t <= x]
                out[u] = table[max(hits)] if hits else 0.0
            else:
                hits = [t for t in table if t >= x]
                out[u] = table[min(hits)] if hits else 0.0
        elif e.fn == "minmax":
            lo, hi = min(present.values()), max(present.values())
            # all equal: nobody is ahead; a positive common value is full marks, zero none
            out[u] = (x - lo) / (hi - lo) if hi > lo else (1.0 if x > 0 else 0.0)
        elif e.fn == "rank":
            vals = list(present.values())
            below, equal = sum(v < x for v in vals), sum(v == x for v in vals)
            avg_rank = below + (equal + 1) / 2  # 1-based, ties averaged
            out[u] = (avg_rank - 1) / (len(vals) - 1) if len(vals) > 1 else 1.0
        else:
            raise NotImplementedError(f"reference: no formula {e.fn}")
    return out


def reference(rs: RuleSet, rows: list[dict], rounds: list[int] | None = None) -> dict[str, dict[str, object]]:
    """unit code → {"s:<node>": score, "st:<point>": status, "r:<point>": rate, "total": total}."""
    return reference_rounds(rs, rows, rounds)[0]


def reference_rounds(rs: RuleSet, rows: list[dict], rounds: list[int] | None = None):
    """(per unit as :func:`reference`, per (unit, round) → {"v:<point>", "st:<point>", "r:<point>"})."""
    (table,) = rs.tables.values()
    # The syntax as written, not the checker's IR: the reference shares nothing with the engine.
    valid_src = next(it.valid for f in rs.files for it in f.items if isinstance(it, n.TableDecl) and it.name == table.name)
    round_ids = sorted(rounds or rs.rounds)
    codes = [u.code for u in rs.units]
    out: dict[str, dict[str, object]] = {c: {} for c in codes}
    by_round: dict[tuple[str, int], dict[str, object]] = {(c, r): {} for c in codes for r in round_ids}
    for p in rs.points:
        per_round: dict[str, list[tuple[int, str, float | None]]] = {c: [] for c in codes}
        for r in round_ids:
            values, statuses = {}, {}
            for c in codes:
                mine = [x for x in rows if x["unit"] == c and x["round"] == r]
                valid = [x for x in mine if valid_src is None or row_value(valid_src, x) is True]
                if not mine:
                    statuses[c], values[c] = NO_DATA, None
                elif not valid:
                    statuses[c], values[c] = ERROR, None
                else:
                    assert isinstance(p.probe_src, n.Call)
                    v = aggregate(p.probe_src, mine, valid_src)
                    statuses[c], values[c] = (OK, v) if v is not None else (NO_DATA, None)
            rates = formula(p.score_src, values)
            for c in codes:
                rate = rates[c] if statuses[c] == OK else None
                if rate is not None:
                    rate = min(1.0, max(0.0, rate))
                per_round[c].append((r, statuses[c], rate))
                by_round[c, r].update({value_col(p.id): values[c], status_col(p.id): statuses[c], rate_col(p.id): rate})
        for c in codes:
            sts = [s for _, s, _ in per_round[c]]
            rated = [(r, x) for r, _, x in per_round[c] if x is not None]
            if not rated:
                rate = None
            elif p.rounds == "latest":
                rate = max(rated)[1]
            elif p.rounds == "mean":
                rate = sum(x for _, x in rated) / len(rated)
            elif p.rounds == "max":
                rate = max(x for _, x in rated)
            else:
                raise NotImplementedError(p.rounds)
            out[c][status_col(p.id)] = OK if OK in sts else ERROR if ERROR in sts else NO_DATA
            out[c][rate_col(p.id)] = rate
            score = None if rate is None else rate * p.max
            if score is None and p.missing == "zero":
                score = 0.0
            out[c][score_col(p.id)] = score
    for c in codes:
        _node(rs, ROOT, out[c])
        out[c]["total"] = out[c][score_col(ROOT)]
    return out, by_round


def _node(rs: RuleSet, ident: str, scores: dict[str, object]) -> float | None:
    node = rs.nodes[ident]
    if node.is_point:
        return scores[score_col(ident)]  # type: ignore[return-value]
    assert node.aggregate == "sum"
    kids = [(rs.nodes[k], _node(rs, k, scores)) for k in node.children]
    if any(k.missing == "null" and s is None for k, s in kids):
        val = None
    else:
        present = [(k, s or 0.0) for k, s in kids if s is not None or k.missing == "zero"]
        den = sum(k.max for k, _ in present)
        total_max = sum(k.max for k, _ in kids)
        val = min(node.max, sum(s for _, s in present) * total_max / den) if den > 0 else None
    if val is None and node.missing == "zero":
        val = 0.0
    scores[score_col(ident)] = val
    return val


# ---------------------------------------------------------------- random facts

row_strategy = st.fixed_dictionaries({
    "unit": st.sampled_from([*CODES, "ZZ"]),  # ZZ: not in the registry, must be ignored
    "round": st.sampled_from([1, 1, 2, 2, 3, 3, 4]),  # round 4 is not declared, must be ignored
    "kind": st.sampled_from(["a", "b", "c", "ab", "bc", "", None]),
    "n": st.integers(-2, 12) | st.none(),  # n < 0 or null: invalid row
    "tags": st.lists(st.sampled_from(["x", "y", "z", "w"]), unique=True, max_size=3) | st.none(),
})
rows_strategy = st.lists(row_strategy, max_size=30)
rounds_strategy = st.none() | st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=3, unique=True)


def _engine(rs: RuleSet, rows: list[dict], rounds: list[int] | None) -> dict[str, dict[str, object]]:
    return _engine_rounds(rs, rows, rounds)[0]


def _engine_rounds(rs: RuleSet, rows: list[dict], rounds: list[int] | None):
    sc = evaluate(rs, frames_from_rows(rs, {"facts": rows}), rounds)
    units = {r["code"]: r for r in sc.units.iter_rows(named=True)}
    return units, {(r["code"], r[ROUND]): r for r in sc.rounds.iter_rows(named=True)}


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def _diff(rs: RuleSet, got: dict, want: dict) -> list[str]:
    cols = [score_col(x) for x in rs.nodes] + ["total"]
    cols += [c(p.id) for p in rs.points for c in (status_col, rate_col)]
    bad = []
    for code, exp in want.items():
        for col in cols:
            if not _close(got[code][col], exp[col]):
                bad.append(f"{code} {col}: engine {got[code][col]!r}, reference {exp[col]!r}")
    return bad


FEW = dict(unit="U1", round=1, kind="a", n=3, tags=["x", "y"])


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, rounds=rounds_strategy)
@example(rows=[], rounds=None)  # nobody has data: every status no_data
@example(rows=[dict(FEW, n=-1), dict(FEW, n=None, unit="U2")], rounds=None)  # rows, none valid: error
@example(rows=[FEW, dict(FEW, round=2, n=-1), dict(FEW, unit="U2", round=3, tags=[])], rounds=None)
@example(rows=[dict(FEW, unit=u, n=i, kind=k) for i, (u, k) in enumerate(zip(CODES, "aabbcc"))], rounds=[1])
@example(rows=[dict(FEW, kind=None, tags=None), dict(FEW, unit="U3", tags=[], kind="c", n=7)], rounds=[1, 3])
def test_engine_matches_reference(rows, rounds):
    rs = _ruleset()
    (got, got_rounds), (want, want_rounds) = _engine_rounds(rs, rows, rounds), reference_rounds(rs, rows, rounds)
    assert set(got) == set(want)
    assert set(got_rounds) == set(want_rounds)
    bad = _diff(rs, got, want)
    for key, exp in want_rounds.items():  # per unit × round: probe values, statuses, rates
        bad += [f"{key} {col}: engine {got_rounds[key][col]!r}, reference {v!r}"
                for col, v in exp.items() if not _close(got_rounds[key][col], v)]
    assert not bad, "\n".join(bad[:20])


@settings(max_examples=100, deadline=None)
@given(rows=rows_strategy, rounds=rounds_strategy)
def test_scores_bounded_and_sums_add_up(rows, rounds):
    rs = _ruleset()
    got = _engine(rs, rows, rounds)
    for code, row in got.items():
        for node in rs.nodes.values():
            s = row[score_col(node.id)]
            assert s is None or -TOL <= s <= node.max * (1 + TOL), (code, node.id, s)
            if node.is_point or node.aggregate != "sum":
                continue
            kids = [row[score_col(k)] for k in node.children]
            if all(k is not None for k in kids):  # nothing excluded, nothing null
                assert s is not None and _close(s, sum(kids)), (code, node.id, s, kids)
        assert _close(row["total"], row[score_col(ROOT)])


def test_policies_resolved(rs):
    """The tree the reference walks: policies (with their defaults) and maxima as intended."""
    for ident, (missing, rounds, max_) in EXPECTED_NODES.items():
        node = rs.nodes[ident]
        assert (node.missing, node.rounds, node.max) == (missing, rounds, max_), ident
    assert rs.nodes[ROOT].max == 34
    assert rs.nodes["b1"].parent == "b"


def test_hand_computed_unit(rs):
    """One unit worked by hand, so the reference itself is checked against arithmetic."""
    rows = [
        dict(unit="U1", round=1, kind="a", n=3, tags=["x", "y"]),
        dict(unit="U1", round=2, kind="b", n=6, tags=["z"]),
        dict(unit="U2", round=2, kind="c", n=1, tags=["w"]),
    ]
    r = reference(rs, rows)["U1"]
    assert r[rate_col("p_any")] == 0.0  # round 2 is latest with data; no "x" there
    assert r[rate_col("p_count")] == pytest.approx((1 / 4 + 1 / 4) / 2)
    assert r[rate_col("p_sum")] == 0.0  # only kinds a and b
    assert r[rate_col("p_ratio")] == pytest.approx(0.5)  # round 1: 0, round 2: 1
    assert r[rate_col("p_mean")] == pytest.approx(math.log(4) / math.log(11))
    assert r[rate_col("p_cov")] == pytest.approx(1 / 3 + 1 / 6)  # mean of 2/3 and 1/3
    assert r[rate_col("p_min")] == pytest.approx(0.2)  # round 1: min 3 → 0.2; round 2: 6 → 0
    assert r[rate_col("p_max")] == pytest.approx(1.0)  # round 2: 6 vs U2's 1
    assert r[rate_col("p_distinct")] == 0.0  # latest round 2: U1 0 kinds (its row has "z"), U2 1: lowest
    assert r[score_col("b1")] is not None
    got = _engine(rs, rows, None)
    assert not _diff(rs, got, reference(rs, rows))
