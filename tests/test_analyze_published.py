"""``analyze`` issue 14: relative changes, 极差, shares of every count, ``--sd``, ``--from-published``
(the 2019 report's own derived figures from its own published means), and rounding once.

Every new key is checked against a plain-Python computation, on the hand-built 7-unit results of
tests/test_analyze.py and on the shipped example (rules/2019 on examples/2019/facts, with
rules/2018 on examples/2018/facts as --previous).
"""

from __future__ import annotations

import json
import statistics
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from typer.testing import CliRunner

from govindex.analysis.analyze import Options, analyze, load_results
from govindex.analysis.render import num, pct, rel, signed, to_markdown
from govindex.cli import app
from tests.conftest import ROOT
from tests.test_analyze import GRADES, TREE, UNITS, leaf_scores, previous, small, write_results  # noqa: F401

# --- the reference rounding: half up at the printed digits, from Decimal of the exact double -------

_CTX = Context(prec=500)


def once(v: float, digits: int, shift: int = 0) -> str:
    """``v`` × 10^shift rounded half up at ``digits`` decimals, computed exactly in Decimal."""
    d = _CTX.multiply(Decimal(v), Decimal(10) ** shift)
    r = d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=_CTX)
    return f"{(r + 0 if r else abs(r)):f}"


def half_up(v: float, digits: int) -> float:
    return float(once(v, digits))


def rel_ref(prev: float, cur: float) -> float | None:
    return None if prev == 0 else (cur - prev) / abs(prev)


# --- the report's own figures from its own published means ------------------------------------------

# L1 id → (name, max, previous mean, current mean): unrounded means whose 2-decimal published
# values are the report's 2.63 → 3.45, 5.16 → 6.97, 2.08 → 3.20.
PUBLISHED = {"x": ("智能问答", 5.0, 2.6349, 3.4512), "y": ("移动服务", 10.0, 5.1551, 6.9749),
             "z": ("回应关切", 5.0, 2.0751, 3.2049)}
SPREAD = (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)  # sums to 0: the mean is the target
ANHUI = (23.4651, 33.0701)  # 安徽's mean total, published 23.47 → 33.07


def _report_pair(root: Path) -> tuple[Path, Path]:
    tree = {k: (name, 1, None, mx) for k, (name, mx, _, _) in PUBLISHED.items()} | {"w": ("其他", 1, None, 80.0)}
    units = [(f"34000{i}", f"皖{i}", "安徽", "中部") if i < 3 else (f"13000{i}", f"冀{i}", "河北", "东部")
             for i in range(7)]
    out = []
    for side in (0, 1):
        scores = {}
        for i, u in enumerate(units):
            s = {k: v[2 + side] + SPREAD[i] for k, v in PUBLISHED.items()}
            total = (ANHUI[side] + (0.5, -0.5, 0.0)[i]) if i < 3 else 60.0 + SPREAD[i]
            s |= {"w": total - sum(s.values()), "total": total}
            scores[u[0]] = s
        d = root / ("cur" if side else "prev")
        write_results(d, tree, units, scores, name="2019" if side else "2018")
        out.append(d)
    return out[1], out[0]


@pytest.fixture
def report_pair(tmp_path):
    return _report_pair(tmp_path)


def test_from_published_reproduces_the_reports_relative_changes(report_pair):
    cur, prev = (load_results(p) for p in report_pair)
    pub = analyze(cur, prev, Options(clusters=0, published=2))["previous"]
    exact = analyze(cur, prev, Options(clusters=0))["previous"]
    by_pub = {x["id"]: x for x in pub["indicators"]}
    by_exact = {x["id"]: x for x in exact["indicators"]}
    for node, printed in (("x", "+31.18%"), ("y", "+35.08%"), ("z", "+53.85%")):
        _, _, p, c = PUBLISHED[node]
        m = by_pub[node]["mean"]
        assert abs(m["previous"] - p) < 1e-12 and abs(m["current"] - c) < 1e-12  # the figures stay exact
        assert m["change"] == half_up(c, 2) - half_up(p, 2)
        assert m["change_rel"] == rel_ref(half_up(p, 2), half_up(c, 2))
        assert rel(m["change_rel"]) == printed
        # unrounded, the same change prints differently: the reason for the option
        assert rel(by_exact[node]["mean"]["change_rel"]) == "+" + once(rel_ref(p, c) or 0.0, 2, 2) + "%" != printed
    anhui = next(g for g in by_pub["total"]["provinces"]["means"] if g["name"] == "安徽")["mean"]
    assert rel(anhui["change_rel"]) == "+40.90%"  # the report prints +40.9 %
    assert abs(anhui["change_rel"] - (33.07 - 23.47) / 23.47) < 1e-15


def test_from_published_on_the_command_line(report_pair):
    r = CliRunner().invoke(app, ["analyze", str(report_pair[0]), "--previous", str(report_pair[1]),
                                 "--from-published", "2", "--clusters", "0", "--format", "md"])
    assert r.exit_code == 0, r.output
    for s in ("3.45 (+0.82, +31.18%)", "6.97 (+1.81, +35.08%)", "3.20 (+1.12, +53.85%)", "33.07 (+9.60, +40.90%)",
              "from the values as published, rounded half up at 2 decimals"):
        assert s in r.stdout, s
    r = CliRunner().invoke(app, ["analyze", str(report_pair[0]), "--from-published", "-1"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_from_published_rounds_the_inputs_of_every_derived_figure(report_pair):
    cur = load_results(report_pair[0])
    doc = analyze(cur, options=Options(clusters=0, published=2))
    total = doc["indicators"][0]
    p = total["provinces"]
    hi, lo = p["highest"]["mean"], p["lowest"]["mean"]
    assert p["range"]["value"] == half_up(hi, 2) - half_up(lo, 2)
    assert p["ratio"] == half_up(hi, 2) / half_up(lo, 2)
    assert p["unit_sd_excess_pct"] == (half_up(p["unit_sd"], 2) / half_up(p["sd"], 2) - 1) * 100
    for x in doc["indicators"]:
        assert x["rate"] == half_up(x["mean"], 2) / x["max"]
        by = {r["name"]: r for r in x["regions"]}
        for r in x["regions"]:
            assert r["share_of_reference"] == half_up(r["mean"], 2) / half_up(by["东部"]["mean"], 2)


# --- every new key by hand on the 7-unit results ----------------------------------------------------


def _hand(units: list[tuple]) -> dict[str, dict[str, float]]:
    return {u[0]: leaf_scores(u[4]) for u in units if u[4] is not None}


def _prev_hand() -> dict[str, dict[str, float]]:
    from tests.test_analyze import PREV_TOTALS

    out = {}
    for u in UNITS[:-1]:
        s = leaf_scores(u[4])
        out[u[0]] = s | {"total": float(PREV_TOTALS[u[0]]), "a1": s["a1"] + 3, "c": 5.0}
    return out


def test_new_keys_by_hand_on_seven_units(small, previous):  # noqa: F811
    doc = analyze(load_results(small), load_results(previous), Options(clusters=2))
    now, then = _hand(UNITS), _prev_hand()
    prov = {u[0]: u[2] for u in UNITS}
    region = {u[0]: u[3] for u in UNITS}
    assert doc["units_null_share"] == 1 / 7 and doc["from_published"] is None and doc["sd"] == "population"
    for x in doc["indicators"] + doc["l3"]:
        vals = [s[x["id"]] for s in now.values()]
        zero = sum(v == 0 for v in vals)
        assert x["zero"] == zero and x["zero_share"] == zero / len(vals)
    for x in doc["indicators"]:
        node = x["id"]
        for r in x["regions"]:
            n = sum(region[c] == r["name"] for c in now)
            assert r["n"] == n and r["share"] == n / len(now)
        means = {}
        for g in x["provinces"]["groups"]:
            vals = [s[node] for c, s in now.items() if prov[c] == g["name"]]
            assert g["share"] == len(vals) / len(now)
            means[g["name"]] = statistics.fmean(vals)
            assert abs(g["rate"] - means[g["name"]] / x["max"]) < 1e-12
        hi, lo = max(means, key=means.__getitem__), min(means, key=means.__getitem__)
        rng = x["provinces"]["range"]
        assert (rng["highest"], rng["lowest"]) == (hi, lo)
        assert abs(rng["value"] - (means[hi] - means[lo])) < 1e-12
    subs = doc["grading"]["sublevel_shares"]
    assert subs == {g: sum(v == g for v in GRADES.values()) / 6 for g in "ABCD"}
    assert [k["share"] for k in doc["clusters"]["clusters"]] == [k["size"] / 6 for k in doc["clusters"]["clusters"]]
    # year over year: relative changes of means, SDs, counts, the range and each province's mean
    p = {x["id"]: x for x in doc["previous"]["indicators"]}
    for node, x in p.items():
        cur = [s[node] for s in now.values()]
        old = [s[node] for c, s in then.items()]
        m_now, m_old = statistics.fmean(cur), statistics.fmean(old)
        assert abs(x["mean"]["change_rel"] - (m_now - m_old) / m_old) < 1e-12
        assert abs(x["sd"]["change_rel"] - rel_ref(statistics.pstdev(old), statistics.pstdev(cur))) < 1e-12
        z_now, z_old = sum(v == 0 for v in cur), sum(v == 0 for v in old)
        assert x["zero"]["change_rel"] == rel_ref(z_old, z_now)
        pm = {}
        for side, data in (("now", now), ("old", then)):
            groups: dict[str, list[float]] = {}
            for c, s in data.items():
                groups.setdefault(prov[c], []).append(s[node])
            pm[side] = {k: statistics.fmean(v) for k, v in groups.items()}
        rng = {k: max(v.values()) - min(v.values()) for k, v in pm.items()}
        assert abs(x["provinces"]["range"]["change"] - (rng["now"] - rng["old"])) < 1e-12
        assert abs(x["provinces"]["range"]["change_rel"] - (rng["now"] - rng["old"]) / rng["old"]) < 1e-12
        for g in x["provinces"]["means"]:
            o, c = pm["old"][g["name"]], pm["now"][g["name"]]
            assert abs(g["mean"]["change_rel"] - (c - o) / o) < 1e-12
    for u in doc["previous"]["movers"]["total_up"] + doc["previous"]["movers"]["total_down"]:
        assert u["change_rel"] == (now[u["code"]]["total"] - then[u["code"]]["total"]) / then[u["code"]]["total"]
    grade = {c["id"]: c for c in doc["previous"]["grading"]}
    assert grade["A"]["count"]["change_rel"] == 0.0 and grade["A"]["mean"]["change_rel"] == (85 - 80) / 80


def test_sample_sd_everywhere(small):  # noqa: F811
    doc = analyze(load_results(small), options=Options(clusters=0, sd="sample"))
    now = _hand(UNITS)
    prov = {u[0]: u[2] for u in UNITS}
    assert doc["sd"] == "sample"
    for x in doc["indicators"]:
        vals = [s[x["id"]] for s in now.values()]
        assert abs(x["sd"] - statistics.stdev(vals)) < 1e-12
        groups: dict[str, list[float]] = {}
        for c, s in now.items():
            groups.setdefault(prov[c], []).append(s[x["id"]])
        for g in x["provinces"]["groups"]:
            assert abs(g["sd"] - statistics.stdev(groups[g["name"]])) < 1e-12
        assert abs(x["provinces"]["sd"] - statistics.stdev([statistics.fmean(v) for v in groups.values()])) < 1e-12
    r = CliRunner().invoke(app, ["analyze", str(small), "--sd", "sample", "--clusters", "0", "--format", "md"])
    assert r.exit_code == 0 and "Standard deviations: sample (divide by n − 1)" in r.stdout
    r = CliRunner().invoke(app, ["analyze", str(small), "--sd", "bessel"])
    assert r.exit_code == 2 and "Traceback" not in r.output


# --- rounding once -----------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(hs.floats(min_value=-1e9, max_value=1e9, allow_nan=False), hs.integers(0, 4))
def test_printed_figure_is_the_exact_value_rounded_once(v: float, digits: int) -> None:
    assert num(v, digits) == once(v, digits)
    assert pct(v, digits) == once(v, digits, 2) + "%"
    r = once(v, digits)
    assert signed(v, digits) == ("+" if Decimal(r) > 0 else "") + r
    p = once(v, 2, 2)
    assert rel(v) == ("+" if Decimal(p) > 0 else "") + p + "%"


@settings(max_examples=200, deadline=None)
@given(hs.integers(0, 10**6), hs.sampled_from([0.0, 1e-13, -1e-13, 1e-7]))
def test_near_ties_round_from_the_exact_value(k: int, eps: float) -> None:
    # k.xx5 ± a hair: half up from the exact double, never pushed over a tie by a relative tolerance
    v = (k + 0.5) / 100 + eps
    assert num(v, 2) == once(v, 2) and pct(v / 100, 2) == once(v / 100, 2, 2) + "%"


def test_ties_go_away_from_zero_and_no_minus_zero():
    assert num(0.125) == "0.13" and num(-0.125) == "-0.13" and num(2.5, 0) == "3"
    assert num(2.675) == "2.67"  # the double is 2.67499999…
    assert num(-0.001) == "0.00" and signed(-0.001) == "0.00" and pct(-1e-7) == "0.00%"


def _rate_result(root: Path, rate: float) -> Path:
    tree = {"a": ("服务供给", 1, None, 100.0)}
    units = [(f"10000{i}", f"市{i}", "河北", "东部") for i in range(7)]
    scores = {u[0]: {"a": rate * 100, "total": rate * 100} for u in units}
    write_results(root, tree, units, scores)
    return root


def test_json_keeps_the_exact_value_and_text_rounds_it_once(tmp_path):
    # 0.5764496 was written 0.57645 (6 decimals) and printed 57.65%; its once-rounded figure is 57.64%.
    d = _rate_result(tmp_path / "r", 0.5764496)
    r = CliRunner().invoke(app, ["analyze", str(d), "--format", "json", "--clusters", "0"])
    doc = json.loads(r.stdout)
    a = next(x for x in doc["indicators"] if x["id"] == "a")
    assert a["rate"] == a["mean"] / 100 and abs(a["rate"] - 0.5764496) < 1e-15
    md = to_markdown(doc)
    assert "57.64%" in md and "57.65%" not in md


def test_report_charts_print_once_rounded_figures():
    from govindex.report import charts as ch

    # 12.25 and 6.25 % are exact doubles, halfway at 1 decimal: half up gives 12.3 and 6.3
    # (Python's format, used before, gave the even 12.2 and 6.2 where the tables said 12.3).
    bars = ch.grouped_bars("c", "t", "d", ["g"], [ch.Series("s", "s", "#000")], [[12.25]], 100.0)
    assert ">12.3<" in bars.markup and ">12.2<" not in bars.markup
    heat = ch.heatmap("h", "t", "d", [ch.Series("1", "1", "#000")], ["c", "d"], [[0.0625, 0.5]])
    assert ": 6.3%" in heat.markup and ">6.3<" in heat.markup and "6.2" not in heat.markup


# --- the shipped example -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[Path, Path]:
    """rules/2019 on examples/2019/facts and rules/2018 on examples/2018/facts (about 30 s)."""
    out = []
    for year in ("2019", "2018"):
        d = tmp_path_factory.mktemp(f"ex{year}") / "out"
        r = CliRunner().invoke(app, ["score", str(ROOT / "rules" / year), "--facts",
                                     str(ROOT / "examples" / year / "facts"), "--out", str(d)])
        assert r.exit_code == 0, r.output
        out.append(d)
    return out[0], out[1]


def _plain(results: Path) -> tuple[dict, dict[str, dict[str, float]]]:
    """scores.json and {node: {code: unrounded score}} read without govindex."""
    doc = json.loads((results / "scores.json").read_text(encoding="utf-8"))
    frame = pl.read_parquet(results / "scores_long.parquet", columns=["code", "node", "score"])
    scores: dict[str, dict[str, float]] = {}
    for code, node, score in frame.iter_rows():
        if score is not None:
            scores.setdefault(node, {})[code] = score
    return doc, scores


def _province_means(doc: dict, scores: dict[str, float], scored: set[str]) -> dict[str, float]:
    prov = {u["code"]: u["province"] for u in doc["units"]}
    groups: dict[str, list[float]] = {}
    for c, v in scores.items():
        if c in scored:
            groups.setdefault(prov[c], []).append(v)
    return {k: statistics.fmean(v) for k, v in groups.items()}


@pytest.mark.parametrize("digits", [None, 2])
def test_example_new_keys_against_plain_python(example, digits):
    cur, prev = example
    doc = analyze(load_results(cur), load_results(prev), Options(clusters=0, published=digits))
    pub = (lambda v: v) if digits is None else (lambda v: half_up(v, digits))
    (j_now, s_now), (j_old, s_old) = _plain(cur), _plain(prev)
    scored_now = set(s_now["total"]) & {u["code"] for u in j_now["units"]}
    scored_old = set(s_old["total"]) & {u["code"] for u in j_old["units"]}
    checked = 0
    changes = {x["id"]: x for x in doc["previous"]["indicators"]}
    for x in doc["indicators"]:
        vals = [s_now[x["id"]][c] for c in scored_now if c in s_now[x["id"]]]
        zero = sum(abs(v) <= 1e-9 for v in vals)
        assert x["zero"] == zero and x["zero_share"] == zero / len(vals)
        means = _province_means(j_now, s_now[x["id"]], scored_now)
        hi, lo = max(means, key=means.__getitem__), min(means, key=means.__getitem__)
        assert (x["provinces"]["range"]["highest"], x["provinces"]["range"]["lowest"]) == (hi, lo)
        assert abs(x["provinces"]["range"]["value"] - (pub(means[hi]) - pub(means[lo]))) < 1e-9
        if x["id"] not in changes:
            continue
        c = changes[x["id"]]
        old = [s_old[x["id"]][k] for k in scored_old if k in s_old[x["id"]]]
        m_now, m_old = pub(statistics.fmean(vals)), pub(statistics.fmean(old))
        assert abs(c["mean"]["change_rel"] - (m_now - m_old) / m_old) < 1e-9
        old_means = _province_means(j_old, s_old[x["id"]], scored_old)
        for g in c["provinces"]["means"]:
            o, n = pub(old_means[g["name"]]), pub(means[g["name"]])
            assert abs(g["mean"]["change_rel"] - rel_ref(o, n)) < 1e-9  # type: ignore[operator]
            checked += 1
    assert checked > 300  # 31 provinces × the matched indicators
