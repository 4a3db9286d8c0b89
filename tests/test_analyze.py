"""``govindex analyze``: every statistic against a hand-computed small case, k-means, internal
consistency on a 334-unit result, year-over-year changes, and the CLI end to end."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.analysis import stats as st
from govindex.analysis.analyze import Options, analyze, load_results
from govindex.analysis.render import to_markdown
from govindex.cli import app
from tests.conftest import ROOT, assert_golden

# --- a results directory written by hand ---------------------------------------------------------

# id → (name, level, parent, max). L2 "b1" has two L3 children; leaves carry the hand-picked numbers.
TREE = {
    "a": ("服务供给", 1, None, 60.0), "a1": ("目录覆盖", 2, "a", 30.0), "a2": ("服务贯通", 2, "a", 30.0),
    "b": ("服务响应", 1, None, 40.0), "b1": ("诉求受理", 2, "b", 40.0),
    "b1a": ("办事受理", 3, "b1", 20.0), "b1b": ("互动受理", 3, "b1", 20.0),
}
UNITS = [  # code, name, province, macro_region, leaves (a1, a2, b1a, b1b) — None: a null total
    ("100001", "甲市", "河北", "东部", (24, 27, 18, 16)),  # a 51, b 34, total 85
    ("100002", "乙市", "河北", "东部", (18, 21, 12, 14)),  # a 39, b 26, total 65
    ("100003", "丙市", "河北", "东部", (12, 15, 10, 8)),  # a 27, b 18, total 45
    ("200001", "丁州", "四川", "西部", (21, 18, 16, 10)),  # a 39, b 26, total 65
    ("200002", "戊市", "四川", "西部", (15, 9, 8, 8)),  # a 24, b 16, total 40
    ("200003", "己市", "四川", "西部", (0, 6, 4, 0)),  # a 6, b 4, total 10
    ("200004", "庚市", "四川", "西部", None),  # null: left out of everything
]
GRADES = {"100001": "A", "100002": "B", "200001": "B", "100003": "C", "200002": "C", "200003": "D"}
GRADING = {"label": "等级划分", "method": "thresholds",
           "classes": [{"id": c, "label": label, "count": 0, "lowest": None, "highest": None, "mean": None, "cut": None}
                       for c, label in (("A", "创新领先"), ("B", "积极追赶"), ("C", "稳步推进"), ("D", "亟待发展"))],
           "breaks": []}


def leaf_scores(leaves: tuple | None) -> dict[str, float | None]:
    if leaves is None:
        return dict.fromkeys(["total", *TREE], None)
    a1, a2, b1a, b1b = (float(v) for v in leaves)
    return {"a1": a1, "a2": a2, "a": a1 + a2, "b1a": b1a, "b1b": b1b, "b1": b1a + b1b, "b": b1a + b1b,
            "total": a1 + a2 + b1a + b1b}


def write_results(path, tree: dict, units: list[tuple], scores: dict[str, dict], grades: dict | None = None,
                  attrs: tuple[str, ...] = ("province", "macro_region"), name: str = "手算") -> None:
    """scores.json and scores_long.parquet as `score --out` writes them (ranks: ties share the best)."""
    path.mkdir(parents=True, exist_ok=True)
    totals = {u[0]: scores[u[0]]["total"] for u in units}
    ranked = [t for t in totals.values() if t is not None]
    docs, long = [], []
    for u in units:
        code, s = u[0], scores[u[0]]
        t = s["total"]
        doc = {"code": code, "name": u[1], **dict(zip(attrs, u[2:2 + len(attrs)])), "total": t,
               "rank": None if t is None else 1 + sum(o > t for o in ranked)}
        if grades is not None:
            doc.update(grade=grades.get(code), sublevel=grades.get(code))
        doc.update(scores={i: s[i] for i in tree}, points={}, status={})
        docs.append(doc)
        for node, (_, level, _, mx) in {"total": ("总分", 0, None, 100.0), **tree}.items():
            long.append({"code": code, "node": node, "level": level, "kind": "indicator", "score": s[node],
                         "max": mx, "rate": None if s[node] is None else s[node] / mx, "status": None})
    docs.sort(key=lambda d: (d["rank"] is None, d["rank"] or 0, d["code"]))
    doc = {"ruleset": name, "rounds": [1], "max_total": 100.0,
           "indicators": [{"id": i, "name": n, "level": lv, "parent": p, "max": m, "aggregate": "sum"}
                          for i, (n, lv, p, m) in tree.items()],
           "points": [], **({"grading": GRADING} if grades is not None else {}), "units": docs}
    (path / "scores.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    pl.DataFrame(long, schema={"code": pl.String, "node": pl.String, "level": pl.Int32, "kind": pl.String,
                               "score": pl.Float64, "max": pl.Float64, "rate": pl.Float64,
                               "status": pl.String}).write_parquet(path / "scores_long.parquet")


@pytest.fixture
def small(tmp_path):
    d = tmp_path / "small"
    write_results(d, TREE, UNITS, {u[0]: leaf_scores(u[4]) for u in UNITS}, GRADES)
    return d


@pytest.fixture
def doc(small):
    return analyze(load_results(small), options=Options(clusters=2))


def ind(doc: dict, node: str) -> dict:
    return next(x for x in doc["indicators"] + doc["l3"] if x["id"] == node)


def close(a: float | None, b: float, tol: float = 1e-6) -> bool:
    return a is not None and abs(a - b) <= tol


# --- each statistic by hand ----------------------------------------------------------------------


def test_units_scored_and_null(doc):
    assert (doc["units_total"], doc["units_scored"], doc["units_null"]) == (7, 6, 1)
    assert doc["sd"] == "population"
    assert any("null total" in n for n in doc["notes"])


def test_total_mean_rate_extremes_top3(doc):
    t = ind(doc, "total")
    # 85 + 65 + 45 + 65 + 40 + 10 = 310 over 6 units
    assert t["n"] == 6 and close(t["mean"], 310 / 6) and close(t["rate"], 310 / 6 / 100)
    assert t["lowest"] == {"score": 10.0, "count": 1, "code": "200003", "name": "己市"}
    assert t["highest"] == {"score": 85.0, "count": 1, "code": "100001", "name": "甲市"}
    # 乙市 and 丁州 tie at 65: the lower code first
    assert [u["name"] for u in t["top"]] == ["甲市", "乙市", "丁州"]
    assert t["zero"] == 0


def test_above_mean_and_rate_above_60_are_strict(doc):
    # a1: 24 18 12 21 15 0, mean 15 — 丙 at 15 is not above; rate > 60% means > 18: 乙 at 18 is not
    a1 = ind(doc, "a1")
    assert close(a1["mean"], 15.0) and close(a1["rate"], 0.5)
    assert a1["above_mean"] == {"count": 3, "share": 0.5}
    assert a1["rate_above_60"] == {"count": 2, "share": 2 / 6}
    assert a1["zero"] == 1
    # total: above the mean 51.67 are 85, 65, 65; above 60 too
    assert ind(doc, "total")["above_mean"] == {"count": 3, "share": 0.5}
    assert ind(doc, "total")["rate_above_60"] == {"count": 3, "share": 0.5}


def test_regions_and_share_of_reference(doc):
    assert doc["reference_region"] == "东部" and doc["regions"] == ["东部", "西部"]
    east, west = ind(doc, "total")["regions"]
    assert (east["name"], east["n"], west["n"]) == ("东部", 3, 3)
    assert close(east["mean"], (85 + 65 + 45) / 3) and close(west["mean"], (65 + 40 + 10) / 3)
    assert east["share_of_reference"] == 1.0
    assert close(west["share_of_reference"], (115 / 3) / 65)


def test_provinces_sd_ratio_and_excess(doc):
    p = ind(doc, "total")["provinces"]
    # province means 65 and 38.33: population SD of two values is half their distance
    assert close(p["sd"], (65 - 115 / 3) / 2)
    assert p["highest"]["name"] == "河北" and p["lowest"]["name"] == "四川"
    assert close(p["ratio"], 65 / (115 / 3))  # 1.6957: the report's 广东 / 西藏 = 1.69×
    m = 310 / 6
    unit_sd = math.sqrt(sum((v - m) ** 2 for v in (85, 65, 45, 65, 40, 10)) / 6)  # 23.7463
    assert close(p["unit_sd"], unit_sd) and close(ind(doc, "total")["sd"], unit_sd)
    assert close(p["unit_sd_excess_pct"], (unit_sd / ((65 - 115 / 3) / 2) - 1) * 100)  # 78.10%


def test_within_province_sd(doc):
    p = ind(doc, "total")["provinces"]
    hebei = math.sqrt((20**2 + 0**2 + 20**2) / 3)  # 85 65 45 around 65
    w = 115 / 3
    sichuan = math.sqrt(((65 - w) ** 2 + (40 - w) ** 2 + (10 - w) ** 2) / 3)
    assert [g["name"] for g in p["within_sd_largest"]] == ["四川", "河北"]
    assert [g["name"] for g in p["within_sd_smallest"]] == ["河北", "四川"]
    assert close(p["within_sd_largest"][0]["sd"], sichuan) and close(p["within_sd_smallest"][0]["sd"], hebei)
    assert [g["name"] for g in p["groups"]] == ["河北", "四川"]  # by mean, highest first


def test_l1_l2_present_and_l3_rates(doc):
    assert [x["id"] for x in doc["indicators"]] == ["total", "a", "a1", "a2", "b", "b1"]
    assert [x["id"] for x in doc["l3"]] == ["b1a", "b1b"]
    b1a, b1b = doc["l3"]
    assert close(b1a["mean"], 68 / 6) and close(b1a["rate"], 68 / 6 / 20)  # 18 12 10 16 8 4
    assert close(b1b["rate"], 56 / 6 / 20) and b1b["zero"] == 1  # 16 14 8 10 8 0
    assert close(ind(doc, "a")["mean"], 31.0) and close(ind(doc, "b1")["mean"], 124 / 6)


def test_grade_counts_and_class_means(doc):
    g = doc["grading"]
    got = {c["id"]: (c["count"], c["mean"]) for c in g["classes"]}
    assert got == {"A": (1, 85.0), "B": (2, 65.0), "C": (2, 42.5), "D": (1, 10.0)}
    assert close(g["classes"][2]["share"], 2 / 6) and g["sublevels"]["B"] == 2


def test_reference_region_fallback_and_option(small):
    res = load_results(small)
    assert analyze(res, options=Options(reference_region="西部"))["reference_region"] == "西部"
    west = ind(analyze(res, options=Options(reference_region="西部")), "total")["regions"][1]
    assert west["share_of_reference"] == 1.0


def test_without_default_attributes(tmp_path):
    d = tmp_path / "country"
    units = [("ARE", "UAE", "MENA", "High", (20, 20, 10, 10)), ("KEN", "Kenya", "SSA", "Lower", (5, 5, 5, 5)),
             ("NGA", "Nigeria", "SSA", "Lower", (1, 3, 2, 2))]
    write_results(d, TREE, units, {u[0]: leaf_scores(u[4]) for u in units}, attrs=("region", "income"))
    doc = analyze(load_results(d))
    assert doc["region_attr"] is None and doc["province_attr"] is None and doc["reference_region"] is None
    assert ind(doc, "total")["regions"] is None and ind(doc, "total")["provinces"] is None
    assert any("macro_region" in n for n in doc["notes"]) and any("province" in n for n in doc["notes"])
    doc = analyze(load_results(d), options=Options(region_attr="region"))
    # no 东部: the region with the highest mean total is the reference
    assert doc["reference_region"] == "MENA"
    assert close(ind(doc, "total")["regions"][1]["share_of_reference"], (20 + 8) / 2 / 60)


# --- k-means -------------------------------------------------------------------------------------


def test_kmeans_recovers_obvious_clusters_deterministically():
    rng = np.random.default_rng(42)
    centres = np.array([[0.9, 0.9, 0.8], [0.2, 0.3, 0.2], [0.5, 0.9, 0.1]])
    x = np.vstack([c + rng.normal(0, 0.02, size=(30, 3)) for c in centres])
    truth = np.repeat([0, 1, 2], 30)
    a, b = st.kmeans(x, 3, seed=0), st.kmeans(x, 3, seed=0)
    assert np.array_equal(a.labels, b.labels) and a.inertia == b.inertia
    # each true group maps to exactly one cluster
    assert all(len(set(a.labels[truth == g])) == 1 for g in range(3))
    assert len(set(a.labels)) == 3


def test_kmeans_clamps_k_and_handles_duplicates():
    x = np.array([[0.5, 0.5]] * 3 + [[1.0, 1.0]])
    km = st.kmeans(x, 10)
    assert km.centers.shape[0] == 4 and km.inertia == pytest.approx(0.0)


def test_clusters_numbered_by_mean_total(doc):
    c = doc["clusters"]
    assert c["k"] == 2 and c["features"] == ["a1", "a2", "b1"] and c["units"] == 6
    assert sum(k["size"] for k in c["clusters"]) == 6
    assert c["clusters"][0]["mean_total"] >= c["clusters"][1]["mean_total"]
    # the cluster of 甲市 is the best one; 己市 is in the last
    assert "100001" in [m["code"] for m in c["clusters"][0]["members"]]
    assert "200003" in [m["code"] for m in c["clusters"][-1]["members"]]
    for k in c["clusters"]:  # a profile is the members' mean L2 rate
        members = {m["code"] for m in k["members"]}
        a1 = [leaf_scores(u[4])["a1"] / 30 for u in UNITS if u[0] in members]
        assert close(k["rates"]["a1"], sum(a1) / len(a1))


def test_same_input_same_clusters(small):
    runs = [analyze(load_results(small), options=Options(clusters=3))["clusters"] for _ in range(2)]
    assert runs[0] == runs[1]


# --- a 334-unit result: internal consistency ---------------------------------------------------

BIG_TREE = {f"l{i}": (f"一级{i}", 1, None, m) for i, m in enumerate((40.0, 40.0, 20.0))}
BIG_TREE |= {f"l{i}_{j}": (f"二级{i}{j}", 2, f"l{i}", m / 2) for i, m in enumerate((40.0, 40.0, 20.0)) for j in (0, 1)}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    with (ROOT / "rules/2019/units.csv").open(encoding="utf-8") as f:
        reg = [(r["code"], r["name"], r["province"], r["macro_region"]) for r in csv.DictReader(f)]
    rng = np.random.default_rng(7)
    scores, units = {}, []
    for code, name, prov, region in reg:
        s = {}
        for i, m in enumerate((40.0, 40.0, 20.0)):
            kids = [float(v) for v in np.clip(rng.normal(0.62, 0.15, 2), 0, 1) * m / 2]
            kids[1] = 0.0 if rng.random() < 0.05 else kids[1]
            s |= {f"l{i}_0": kids[0], f"l{i}_1": kids[1], f"l{i}": sum(kids)}
        s["total"] = s["l0"] + s["l1"] + s["l2"]
        scores[code] = s
        units.append((code, name, prov, region))
    d = tmp_path_factory.mktemp("big")
    write_results(d, BIG_TREE, units, scores)
    return d, scores


def test_big_result_is_consistent(big):
    d, scores = big
    doc = analyze(load_results(d))
    n = doc["units_scored"]
    assert n == 334 and doc["units_null"] == 0
    for x in doc["indicators"]:
        vals = [s[x["id"]] for s in scores.values()]
        assert x["n"] == n and close(x["mean"], sum(vals) / n)
        for key in ("above_mean", "rate_above_60"):
            assert close(x[key]["share"], x[key]["count"] / n)
        assert x["zero"] == sum(v == 0 for v in vals)
        p = x["provinces"]
        assert close(p["unit_sd_excess_pct"], (p["unit_sd"] / p["sd"] - 1) * 100, 1e-3)
        assert close(p["ratio"], p["highest"]["mean"] / p["lowest"]["mean"], 1e-5)
        assert len(p["groups"]) == 27 and sum(g["n"] for g in p["groups"]) == n
        regions = {r["name"]: r for r in x["regions"]}
        assert regions["东部"]["share_of_reference"] == 1.0
        assert {r: regions[r]["n"] for r in regions} == {"东部": 86, "中部": 82, "西部": 130, "东北": 36}
        assert close(sum(r["mean"] * r["n"] for r in x["regions"]) / n, x["mean"], 1e-4)
    c = doc["clusters"]
    assert c["k"] == 4 and sum(k["size"] for k in c["clusters"]) == n
    assert [k["mean_total"] for k in c["clusters"]] == sorted((k["mean_total"] for k in c["clusters"]), reverse=True)


# --- year over year ------------------------------------------------------------------------------

PREV_TOTALS = {"100001": 80, "100002": 70, "100003": 45, "200001": 60, "200002": 50, "200003": 10}


@pytest.fixture
def previous(tmp_path):
    """Last year: a tree without a2 and with an extra c, other totals, and 庚市 absent."""
    tree = {k: v for k, v in TREE.items() if k != "a2"} | {"c": ("旧指标", 1, None, 10.0)}
    units = [u[:4] for u in UNITS if u[0] != "200004"]
    scores = {}
    for u in UNITS[:-1]:
        s = leaf_scores(u[4])
        s |= {"total": float(PREV_TOTALS[u[0]]), "a1": s["a1"] + 3, "c": 5.0}
        scores[u[0]] = s
    d = tmp_path / "prev"
    write_results(d, tree, units, scores, GRADES, name="去年")
    return d


def test_previous_changes_are_differences(small, previous):
    cur = analyze(load_results(small))
    prev = analyze(load_results(previous))
    doc = analyze(load_results(small), load_results(previous))
    p = doc["previous"]
    assert p["ruleset"] == "去年"
    by = {x["id"]: x for x in p["indicators"]}
    for x in cur["indicators"]:
        if x["id"] not in by:
            continue
        old = ind(prev, x["id"])
        for f in ("mean", "rate", "sd", "zero"):
            assert close(by[x["id"]][f]["change"], x[f] - old[f], 2e-6)
        for f in ("above_mean", "rate_above_60"):
            assert close(by[x["id"]][f]["share"]["change"], x[f]["share"] - old[f]["share"], 2e-6)
        for r, o, c in zip(by[x["id"]]["regions"], old["regions"], x["regions"]):
            assert close(r["share_of_reference"]["change"], c["share_of_reference"] - o["share_of_reference"], 2e-6)
    # a1 was 3 points higher last year for every unit
    assert close(by["a1"]["mean"]["change"], -3.0) and close(by["a1"]["mean"]["previous"], 18.0)
    assert close(by["total"]["mean"]["change"], (310 - 315) / 6)


def test_previous_unmatched_indicators_and_units(small, previous):
    p = analyze(load_results(small), load_results(previous))["previous"]
    assert p["unmatched"]["indicators_current"] == ["a2"]
    assert p["unmatched"]["indicators_previous"] == ["c"]
    assert p["unmatched"]["units_current"] == ["200004"] and p["unmatched"]["units_previous"] == []
    assert "a2" not in [x["id"] for x in p["indicators"]]


def test_movers_by_rank_and_total(small, previous):
    m = analyze(load_results(small), load_results(previous))["previous"]["movers"]
    # ranks last year 80:1 70:2 60:3 50:4 45:5 10:6; this year 85:1 65:2 65:2 45:4 40:5 10:6
    assert [(u["code"], u["previous"], u["current"], u["change"]) for u in m["rank_up"]] == [
        ("100003", 5, 4, 1), ("200001", 3, 2, 1)]
    assert [(u["code"], u["change"]) for u in m["rank_down"]] == [("200002", -1)]
    assert [(u["code"], u["change"]) for u in m["total_up"]] == [("100001", 5.0), ("200001", 5.0)]
    assert [(u["code"], u["change"]) for u in m["total_down"]] == [("200002", -10.0), ("100002", -5.0)]


def test_grading_changes(small, previous):
    g = analyze(load_results(small), load_results(previous))["previous"]["grading"]
    a = next(c for c in g if c["id"] == "A")
    assert a["count"] == {"previous": 1, "current": 1, "change": 0, "change_rel": 0.0} and a["mean"]["change"] == 5.0


# --- Markdown and the CLI ------------------------------------------------------------------------


@pytest.fixture
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "160")


def run(*args: str):
    return CliRunner().invoke(app, ["analyze", *map(str, args)])


def test_markdown_golden(small, previous, _cwd):
    r = run(small, "--previous", previous, "--format", "md", "--clusters", "2")
    assert r.exit_code == 0, r.output
    assert_golden("analyze_small.md", r.stdout)
    assert r.stdout == to_markdown(analyze(load_results(small), load_results(previous), Options(clusters=2)))


def test_cli_text(small, _cwd):
    r = run(small, "--clusters", "2")
    assert r.exit_code == 0, r.output
    for s in ("National figures", "目录覆盖", "Means by macro_region (share of 东部)", "Dispersion", "+78.10%",
              "SD within each province", "L3 score rates", "等级划分", "Clusters", "1 unit(s) with a null total"):
        assert s in r.stdout, s


def test_cli_json_and_out(small, tmp_path, _cwd):
    r = run(small, "--format", "json", "--out", tmp_path / "an")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["sd"] == "population" and doc["units_scored"] == 6
    assert json.loads((tmp_path / "an" / "analysis.json").read_text(encoding="utf-8")) == doc
    assert (tmp_path / "an" / "analysis.md").read_text(encoding="utf-8").startswith("# 手算: analysis")
    assert sorted(p.name for p in (tmp_path / "an").iterdir()) == ["analysis.json", "analysis.md"]
    r = run(small, "--out", tmp_path / "an2")
    assert "wrote" in r.stdout and (tmp_path / "an2" / "analysis.md").exists()


def test_cli_on_scored_mini(tmp_path, _cwd):
    res = tmp_path / "mini"
    r = CliRunner().invoke(app, ["score", "tests/fixtures/mini", "--facts", "tests/fixtures/mini/facts",
                                 "--out", str(res)])
    assert r.exit_code == 0, r.output
    r = run(res, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    total = ind(doc, "total")
    assert doc["units_scored"] == 3 and close(total["mean"], (8 + 3 + 0) / 3)
    assert doc["clusters"]["features"] == ["web", "qa"]  # no L2: clusters over L1
    assert run(res, "--format", "md", "--previous", res).exit_code == 0


def test_cli_errors(small, tmp_path, _cwd):
    r = run(tmp_path)
    assert r.exit_code == 1 and "not a results directory" in r.stderr and "Traceback" not in r.output
    assert run(small, "--previous", tmp_path / "nope").exit_code == 1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "scores.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "bad" / "scores_long.parquet").write_text("x", encoding="utf-8")
    r = run(tmp_path / "bad")
    assert r.exit_code == 1 and "cannot read" in r.stderr
    r = run(small, "--reference-region", "南极")
    assert r.exit_code == 2 and "no region `南极`" in r.stderr
    r = run(small, "--region-attr", "continent")
    assert r.exit_code == 2 and "province, macro_region" in r.stderr


def test_every_json_key_is_documented_in_the_readme(small, previous):
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Analysis: govindex analyze", 1)[1]
    keys: set[str] = set()

    def walk(v, dynamic: bool = False) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if not dynamic:
                    keys.add(k)
                walk(x, dynamic=k in ("rates", "sublevels", "sublevel_shares"))  # keyed by indicator id / sublevel
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(analyze(load_results(small), load_results(previous), Options(clusters=2)))
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks are not key lists
    documented = {w for span in re.findall(r"`([^`]+)`", text) for w in re.split(r"[\s,]+", span)}
    missing = sorted(keys - documented)
    assert not missing, f"undocumented analysis keys: {missing}"
