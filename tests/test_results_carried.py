"""Results carry the method's intermediate values (issue 11, item 9): scores_long has, per unit ×
node, the probe value, the formula rate, the exact rate, the value on the scale and as reported;
ranks and reasons (``why``, made by the engine) and the other per-node fields (grade, imputed,
treated — made here as synthetic columns on this plain rule set) appear in every output and in
``explain``, which also shows the children excluded and the renormalisation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from govindex.check.run import load
from govindex.eval.compile import ROUND, value_col
from govindex.eval.evaluate import Scores, evaluate, rate_col, score_col
from govindex.eval.explain import explain, render_text
from govindex.eval.facts import frames_from_rows
from govindex.eval.rounding import round_expr
from govindex.results import long_table, strict_json, to_json, wide_table, write_excel, write_outputs
from tests.conftest import assert_golden
from tests.test_exact_sums import _rules

POINTS = [f"s{i}" for i in range(6)] + [f"{k}{i}" for k in "wg" for i in range(5)]
VALUES = {"U1": 0.5, "U2": 0.5, "U3": 0.25, "U4": 0.8}


@pytest.fixture()
def scored(tmp_path: Path) -> tuple[Scores, dict]:
    text = _rules(None).replace("missing: exclude\n}", 'missing: exclude\n  ranks: {levels: [0, 1]}\n}', 1)
    text = text.replace('  max: 10.0\n', '  max: 10.0\n  rank: {ties: "dense", by: "province"}\n')
    d = tmp_path / "r"
    d.mkdir()
    (d / "units.csv").write_text("code,name,province\n" + "".join(f"{u},{u},P{i % 2}\n" for i, u in enumerate(VALUES)),
                                 encoding="utf-8")
    (d / "index.rules").write_text(text, encoding="utf-8")
    rs = load(d)
    rows = [{"unit": u, "round": 1, **{p: (None if (u, p) in (("U1", "s1"), ("U3", "w2")) else v) for p in POINTS}}
            for u, v in VALUES.items()]
    sources = frames_from_rows(rs, {"t": rows})
    sc = evaluate(rs, sources)
    # What a grading, an impute and a treat stage would add: a grade, imputation flags, treated values.
    sc.units = sc.units.with_columns(
        pl.when(pl.col("s:S") > 2).then(pl.lit("A")).otherwise(pl.lit("B")).alias("g:S"),
        (pl.col("code") == "U1").alias("imp:s0"), (pl.col("r:s0") * 0.5).alias("tv:s0"))
    return sc, sources


def test_long_table_holds_every_intermediate_value(scored) -> None:  # type: ignore[no-untyped-def]
    sc, _ = scored
    long = {(r["code"], r["node"]): r for r in long_table(sc).to_dicts()}
    units = {r["code"]: r for r in sc.units.to_dicts()}
    latest = {r["code"]: r for r in sc.rounds.sort(ROUND).to_dicts()}  # one round: the latest
    for code, u in units.items():
        for x in sc.rs.nodes.values():
            r = long[(code, x.id)]
            s = u[score_col(x.id)]
            assert r["score"] == s and r["max"] == x.max
            # the exact rate as the parent reads it (r:<node>; a point scored 0 by policy reads 0), not s / max
            rate = u[rate_col(x.id)]
            assert r["rate"] == (rate if not x.is_point else None if s is None else 0.0 if rate is None else rate)
            want = pl.select(round_expr(pl.lit(s, pl.Float64), 2, "half_up")).item()
            assert r["reported"] == want
            if x.is_point:
                assert r["formula_rate"] == u[rate_col(x.id)] and r["value"] == latest[code][value_col(x.id)]
            assert r["rank"] == u.get(f"k:{x.id}") and r["rank_label"] == u.get(f"kl:{x.id}")
            assert r["grade"] == u.get(f"g:{x.id}") and r["imputed"] == u.get(f"imp:{x.id}")
            assert r["treated"] == u.get(f"tv:{x.id}") and r["why"] == u.get(f"why:{x.id}")
    assert long[("U1", "W")]["rank_label"] is not None and long[("U1", "s0")]["rank"] is None


def test_wide_json_and_excel_show_the_carried_fields(scored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sc, _ = scored
    wide = wide_table(sc)
    for c in ("rank:total", "rank:S", "rank_label:W", "grade:S", "imputed:s0", "treated:s0", "why:s1"):
        assert c in wide.columns
    doc = json.loads(strict_json(to_json(sc)))
    u1 = next(u for u in doc["units"] if u["code"] == "U1")
    assert set(u1["ranks"]) == {"total", "S", "W", "G"} and u1["grades"] == {"S": "A" if u1["scores"]["S"] > 2 else "B"}
    assert u1["imputed"] == {"s0": True}
    assert u1["why"] == {"S": "excluded: s1"}  # an indicator's reason; a point's is its status and policy
    assert u1["status"] == {"s1": "no_data"} and wide.filter(pl.col("code") == "U1")["why:s1"].item() == "no_data → excluded"
    assert u1["rank_labels"]["W"] in ("1", "=1", "2", "=2")
    write_excel(sc, tmp_path / "x.xlsx")
    head = [c.value for c in next(openpyxl.load_workbook(tmp_path / "x.xlsx")["总表"].iter_rows(max_row=1))]
    assert "W 排名" in head and "S 等级" in head
    out = write_outputs(sc, tmp_path / "out")
    assert any(p.name == "scores_long.parquet" for p in out)
    assert "rank_label" in pl.read_parquet(tmp_path / "out" / "scores_long.parquet").columns


def test_outputs_without_carried_fields_keep_their_shape(scored) -> None:  # type: ignore[no-untyped-def]
    sc, _ = scored
    sc.units = sc.units.drop([c for c in sc.units.columns if c.startswith(("k:", "kl:", "g:", "imp:", "tv:", "why:"))])
    assert not any(":" in c and c.split(":")[0] in ("rank", "grade", "why") for c in wide_table(sc).columns)
    assert "ranks" not in to_json(sc)["units"][0]
    assert set(long_table(sc).columns) == {"code", "node", "level", "kind", "score", "max", "rate", "reported",
                                           "status", "value", "formula_rate", "refers_to",
                                           "overridden"}  # always there (issue 13: FACTS/overrides.csv)


def test_explain_shows_ranks_grades_exclusions_golden(scored) -> None:  # type: ignore[no-untyped-def]
    sc, sources = scored
    unit = sc.rs.unit_by("U1")
    assert unit is not None
    doc = explain(sc, unit, None, sources)
    s = next(c for c in doc["node"]["children"] if c["id"] == "S")
    maxima = [0.1, 0.2, 0.3, 1.7, 2.9, 0.7]  # of s0 … s5; s1 has no data (missing: exclude)
    assert s["excluded"] == ["s1"] and s["renormalised"]["max_all"] == math.fsum(maxima)
    assert s["renormalised"]["max_present"] == math.fsum(maxima[:1] + maxima[2:]) and s["grade"] in ("A", "B")
    assert s["rate"] == s["score"] / 5.9 and s["reported"] == round(s["score"], 2)
    text = render_text(doc, lambda v: "—" if v is None else f"{v:.2f}")
    assert "excluded s1: the others renormalised" in text and "imputed" in text
    assert_golden("explain_carried.txt", text)
