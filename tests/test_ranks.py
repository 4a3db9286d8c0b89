"""Ranks (issue 11, item 4): the tie key, every tie method, labels and groups, against a reference
written in plain Python from the definitions in govindex/eval/ranks.py (decimal arithmetic for the
key, counting for the ranks), cross-checked with scipy.stats.rankdata when it is installed; ranks
do not depend on the order of the units nor of the children; bad settings are located errors."""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govindex.check.run import check, load
from govindex.eval.evaluate import evaluate
from govindex.eval.facts import frames_from_rows
from govindex.eval.ranks import label_expr, rank_expr, tie_keys, with_ranks
from govindex.ir import Ranking
from tests.test_exact_sums import _rules

METHODS = ("min", "dense", "average", "max", "ordinal")


def ref_key(v: float | None, digits: int = 12) -> float | None:
    """repr(v) rounded half-even in decimal to clamp(digits − 1 − e, 0, 22) decimals, e the
    exponent of its leading digit."""
    if v is None or v == 0.0:
        return None if v is None else 0.0
    d = Decimal(repr(v))
    places = min(max(digits - 1 - d.copy_abs().adjusted(), 0), 22)
    return float(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def ref_ranks(values: list[float | None], method: str, groups: list[str | None] | None = None,
              digits: int = 12) -> list[float | None]:
    """Higher is better; ``min`` = 1 + #better, ``max`` = #better-or-equal, ``average`` their mean,
    ``dense`` = 1 + #distinct better keys, ``ordinal`` = 1 + #better + #equal earlier in the list."""
    keys = [ref_key(v, digits) for v in values]
    groups = groups or [None] * len(values)
    out: list[float | None] = []
    for i, (k, g) in enumerate(zip(keys, groups)):
        if k is None:
            out.append(None)
            continue
        peers = [(j, x) for j, (x, h) in enumerate(zip(keys, groups)) if h == g and x is not None]
        better = sum(1 for _, x in peers if x > k)
        equal = sum(1 for _, x in peers if x == k)
        out.append({"min": 1 + better, "max": better + equal, "average": better + (equal + 1) / 2,
                    "dense": 1 + len({x for _, x in peers if x > k}),
                    "ordinal": 1 + better + sum(1 for j, x in peers if x == k and j < i)}[method])
    return out


def ref_labels(ranks: list[float | None], groups: list[str | None]) -> list[str | None]:
    def text(r: float) -> str:
        return str(int(r)) if r == int(r) else str(r)

    return [None if r is None else ("=" if sum(1 for s, h in zip(ranks, groups) if s == r and h == g) > 1 else "")
            + text(r) for r, g in zip(ranks, groups)]


def engine(values: list[float | None], ranking: Ranking, groups: list[str | None]) -> pl.DataFrame:
    keys = tie_keys(np.array([math.nan if v is None else v for v in values]), ranking.digits)
    df = pl.DataFrame({"v": keys, "g": groups}, schema={"v": pl.Float64, "g": pl.String}).fill_nan(None)
    df = df.with_columns(rank_expr(pl.col("v"), ranking).alias("k"))
    return df.with_columns(label_expr("k", ranking.by).alias("kl"))


# ------------------------------------------------------------------ the tie key

doubles = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13)


@settings(max_examples=300, deadline=None)
@given(st.lists(doubles, min_size=1, max_size=20), st.integers(1, 14))
def test_tie_key_is_the_decimal_rounding_to_n_significant_digits(values: list[float], digits: int) -> None:
    got = tie_keys(np.array(values), digits).tolist()
    assert got == [ref_key(v, digits) for v in values]


def test_the_same_875_13_along_two_sums_ties() -> None:
    a, b = 67.3076923076923, 67.30769230769232  # both 875/13, computed along different sums
    assert a != b and ref_key(a) == ref_key(b) == 67.3076923077
    df = engine([a, b, 60.0], Ranking(), [None] * 3)
    assert df["k"].to_list() == [1, 1, 3] and df["kl"].to_list() == ["=1", "=1", "3"]
    units = pl.DataFrame({"code": ["x", "y", "z"], "total": [a, b, 60.0]})
    rs = type("RS", (), {"nodes": {"total": type("N", (), {"rank": None})()}})()
    assert with_ranks(rs, units)["rank"].to_list() == [1, 1, 3]  # type: ignore[arg-type]


def test_every_tie_method_on_one_example() -> None:
    """The worked example of docs §12 "Ranks": 90, 85, 85, 85, 70, 70, 60."""
    values = [90.0, 85.0, 85.0, 85.0, 70.0, 70.0, 60.0]
    want = {"min": [1, 2, 2, 2, 5, 5, 7], "max": [1, 4, 4, 4, 6, 6, 7], "dense": [1, 2, 2, 2, 3, 3, 4],
            "average": [1, 3, 3, 3, 5.5, 5.5, 7], "ordinal": [1, 2, 3, 4, 5, 6, 7]}
    labels = {"min": ["1", "=2", "=2", "=2", "=5", "=5", "7"], "average": ["1", "=3", "=3", "=3", "=5.5", "=5.5", "7"],
              "ordinal": ["1", "2", "3", "4", "5", "6", "7"]}
    for m in METHODS:
        df = engine(values, Ranking(ties=m), [None] * 7)  # type: ignore[arg-type]
        assert df["k"].to_list() == want[m] == ref_ranks(values, m), m
        if m in labels:
            assert df["kl"].to_list() == labels[m], m


values_with_ties = st.lists(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5, 67.3076923076923, 67.30769230769232,
                                                                   0.1 + 0.2, 0.3, 100.0, -1.0]),
                                      st.floats(0, 100)), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(values_with_ties, st.sampled_from(METHODS), st.booleans(), st.randoms(use_true_random=False))
def test_ranks_equal_the_reference_and_ignore_row_order(values: list[float | None], method: str, grouped: bool,
                                                         rnd: random.Random) -> None:
    groups = [rnd.choice(["a", "b", None]) for _ in values] if grouped else [None] * len(values)
    ranking = Ranking(ties=method, by="g" if grouped else None)  # type: ignore[arg-type]
    df = engine(values, ranking, groups)
    want = ref_ranks(values, method, groups)
    assert df["k"].to_list() == want
    assert df["kl"].to_list() == ref_labels(want, groups)
    if method != "ordinal":  # ordinal breaks ties by registry order, by definition
        order = list(range(len(values)))
        rnd.shuffle(order)
        moved = engine([values[i] for i in order], ranking, [groups[i] for i in order])
        assert [moved["k"][order.index(i)] for i in range(len(values))] == want


def test_reference_agrees_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(7)
    for _ in range(50):
        values = [rng.choice([1.0, 2.0, 3.0, 0.1 + 0.2, 0.3, rng.random()]) for _ in range(rng.randint(1, 15))]
        for m in METHODS:
            want = stats.rankdata([-(ref_key(v) or 0.0) for v in values], method=m).tolist()
            assert ref_ranks(values, m) == want, (values, m)


# ------------------------------------------------------------------ in a rule set


def _score(text: str, tmp: Path, facts: dict[str, dict[str, float | None]]) -> pl.DataFrame:
    tmp.mkdir()
    (tmp / "units.csv").write_text("code,name,province\n" + "".join(f"{u},{u},P{i % 2}\n" for i, u in enumerate(facts)),
                                   encoding="utf-8")
    (tmp / "index.rules").write_text(text, encoding="utf-8")
    rs = load(tmp)
    return evaluate(rs, frames_from_rows(rs, {"t": [{"unit": u, "round": 1, **v} for u, v in facts.items()]})).units


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ranks_of_every_node_ignore_child_and_unit_order(tmp_path_factory, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    points = [f"s{i}" for i in range(6)] + [f"{k}{i}" for k in "wg" for i in range(5)]
    pool = [0.1, 0.3, 1 / 3, 2 / 3, 1.0, 0.7]
    facts = {f"U{i}": {p: rng.choice(pool) for p in points} for i in range(9)}
    ranks = '  ranks: {levels: "all", ties: "min"}\n}'

    def run(order: random.Random | None, units: list[str], name: str) -> dict[str, dict[str, object]]:
        text = _rules(order).replace("missing: exclude\n}", "missing: exclude\n" + ranks, 1)
        df = _score(text, tmp_path_factory.mktemp(name) / "r", {u: facts[u] for u in units})
        cols = [c for c in df.columns if c.startswith(("k:", "kl:"))] + ["rank"]
        return {r["code"]: {c: r[c] for c in cols} for r in df.to_dicts()}

    base = run(None, list(facts), "a")
    shuffled = list(facts)
    rng.shuffle(shuffled)
    assert run(random.Random(seed ^ 3), list(facts), "b") == base
    assert run(None, shuffled, "c") == base
    some = next(iter(base.values()))
    assert {"k:total", "k:S", "k:s0", "kl:G"} <= set(some)


def test_rank_settings_per_node_groups_and_reported(tmp_path: Path) -> None:
    text = _rules(None).replace('  max: 5.9\n', '  max: 5.9\n  rank: {ties: "dense", by: "province", on: "reported"}\n')
    text = text.replace('  max: 10.0\n', '  max: 10.0\n  rank: true\n')
    facts = {f"U{i}": {p: v for p in [f"s{j}" for j in range(6)] + [f"{k}{j}" for k in "wg" for j in range(5)]}
             for i, v in enumerate([0.5, 0.5, 0.25, 0.25, 0.9, 0.5 + 1e-9])}
    df = _score(text, tmp_path / "r", facts).sort("code")
    assert "k:G" not in df.columns and "k:W" in df.columns
    by_code = {r["code"]: r for r in df.to_dicts()}
    # S on its reported value (2 decimals), dense within provinces P0 = U0, U2, U4; P1 = U1, U3, U5
    assert [by_code[f"U{i}"]["k:S"] for i in range(6)] == [2, 1, 3, 2, 1, 1]
    assert [by_code[f"U{i}"]["kl:S"] for i in range(6)] == ["2", "=1", "3", "2", "1", "=1"]


BAD = [('  rank: {ties: "first"}\n', "E220", "bad `ties`"), ("  rank: 3\n", "E220", "true, false or a map"),
       ('  rank: {by: "region"}\n', "E221", "not a column"), ('  rank: {digits: 20}\n', "E220", "bad `digits`"),
       ('  rank: {order: "desc"}\n', "E220", "no entry `order`")]


@pytest.mark.parametrize(("setting", "code", "part"), BAD)
def test_bad_rank_settings_are_located_errors(tmp_path: Path, setting: str, code: str, part: str) -> None:
    text = _rules(None).replace('  max: 5.9\n', '  max: 5.9\n' + setting)
    (tmp_path / "units.csv").write_text("code,name,province\nU1,U1,P\n", encoding="utf-8")
    (tmp_path / "index.rules").write_text(text, encoding="utf-8")
    rs, diags = check(tmp_path)
    line = text.splitlines().index(setting.rstrip("\n")) + 1
    assert rs is None and [(d.code, d.span.line) for d in diags if d.is_error] == [(code, line)]
    assert part in diags[0].message and diags[0].hint


def test_bad_ranks_default_is_located(tmp_path: Path) -> None:
    text = _rules(None).replace("missing: exclude\n}", 'missing: exclude\n  ranks: {levels: "some"}\n}', 1)
    (tmp_path / "units.csv").write_text("code,name\nU1,U1\n", encoding="utf-8")
    (tmp_path / "index.rules").write_text(text, encoding="utf-8")
    rs, diags = check(tmp_path)
    assert rs is None and [(d.code, d.span.line) for d in diags] == [("E220", 6)]
    assert math.isfinite(len(diags))


def test_the_documented_example_ranks_as_the_text_says(tmp_path: Path) -> None:
    from tests.test_docs import DOC, FIXTURE_UNITS

    block = DOC[DOC.index('ruleset "排名示例"'):]
    block = block[:block.index("\n```")]
    (tmp_path / "units.csv").write_text(FIXTURE_UNITS, encoding="utf-8")
    (tmp_path / "index.rules").write_text(block, encoding="utf-8")
    rs = load(tmp_path)
    rows = [{"unit": u, "round": 1, "a": a, "b": b} for u, a, b in (("100100", 0.6, 0.3), ("100200", 0.6, 0.3),
                                                                   ("200100", 0.2, 0.9))]
    units = {r["code"]: r for r in evaluate(rs, frames_from_rows(rs, {"t": rows})).units.to_dicts()}
    got = {c: (u["rank"], u["kl:total"], u["kl:甲"], u["kl:pa"]) for c, u in units.items()}
    assert got == {"100100": (2, "=2", "=1", "=1"), "100200": (2, "=2", "=1", "=1"), "200100": (1, "1", "1", "3")}
    assert "k:乙" not in units["100100"] and "k:pb" not in units["100100"]


def test_two_totals_of_875_13_along_different_sums_tie_end_to_end(tmp_path: Path) -> None:
    text = """ruleset "875/13" {
  units: "units.csv"
  rounds: {1: "2024-01-01"}
  missing: zero
}

table t {
  unit: str
  round: int
  a: float
  b: float
}

indicator I "I" {
  max: 100
  point pa "a" {
    kind: technical
    max: 10
    probe: max(t, a)
    score: x
  }
  point pb "b" {
    kind: technical
    max: 90
    probe: max(t, b)
    score: x
  }
}
"""
    (tmp_path / "units.csv").write_text("code,name\nU1,U1\nU2,U2\nU3,U3\n", encoding="utf-8")
    (tmp_path / "index.rules").write_text(text, encoding="utf-8")
    rs = load(tmp_path)
    t = 875 / 13
    rows = [{"unit": "U1", "round": 1, "a": 1.0, "b": (t - 10) / 90}, {"unit": "U2", "round": 1, "a": 0.35, "b": (t - 3.5) / 90},
            {"unit": "U3", "round": 1, "a": 0.5, "b": 0.5}]
    units = {r["code"]: r for r in evaluate(rs, frames_from_rows(rs, {"t": rows})).units.to_dicts()}
    assert units["U1"]["total"] == 67.3076923076923 and units["U2"]["total"] == 67.30769230769232
    assert [units[u]["rank"] for u in ("U1", "U2", "U3")] == [1, 1, 3]
