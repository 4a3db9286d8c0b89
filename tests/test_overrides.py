"""Corrections after publication: ``FACTS/overrides.csv`` (govindex/eval/overrides.py, docs §10).

The independent check: an override changes exactly one unit's score — every other unit's total
and every node equal bit for bit — and the overridden unit scores exactly what it scores when the
facts themselves are edited to say the same (a second run on edited facts is the reference).
Then every error of the file located at its line (golden text), the CLI's add/list round trip,
and the override shown by explain, the report (its HTML parsed) and the results.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lhtml
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.diagnostics import FactsError
from govindex.eval.evaluate import Scores, evaluate
from govindex.eval.explain import load_sources
from govindex.eval.overrides import read
from tests.conftest import ROOT, assert_golden

MINI = ROOT / "tests" / "fixtures" / "mini"
COUNTRY = ROOT / "examples" / "country-index"
HEADER = "unit,point,round,value,status,reason,by,at,reference\n"
runner = CliRunner()


def _facts(tmp: Path, src: Path, overrides: str | None = None) -> Path:
    """A copy of ``src``'s facts, with ``overrides`` as its overrides.csv."""
    facts = tmp / "facts"
    shutil.copytree(src / "facts", facts)
    if overrides is not None:
        (facts / "overrides.csv").write_text(overrides, encoding="utf-8")
    return facts


def _score(rules: Path, facts: Path) -> Scores:
    rs = load(rules)
    return evaluate(rs, load_sources(rs, facts), overrides=read(rs, facts))


def _nodes(sc: Scores) -> pl.DataFrame:
    """Every unit's total and every node's score and value, by unit code."""
    cols = ["code", "total", *sorted(c for c in sc.units.columns if c.startswith(("s:", "val:", "r:")))]
    return sc.units.select(cols).sort("code")


def _same_bits(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Equal bit for bit (floats by their IEEE bits, nulls alike)."""
    def bits(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns([pl.col(c).cast(pl.Float64).reinterpret(signed=True)
                                for c, t in df.schema.items() if t.is_float()])
    return bits(a).equals(bits(b))


def _set_manual(facts: Path, unit: str, rnd: int, point: str, value: float | None) -> None:
    """Edit manual.csv as a collector would: the entry of unit × round × point set (or removed)."""
    path = facts / "manual.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows = [r for r in rows if (r["unit"], r["round"], r["point"]) != (unit, str(rnd), point)]
    if value is not None:
        rows.append({"unit": unit, "round": str(rnd), "point": point, "value": repr(value), "note": ""})
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["unit", "round", "point", "value", "note"])
        w.writeheader()
        w.writerows(rows)


# ------------------------------------------------------------------ the independent check


@settings(max_examples=12, deadline=None)
@given(unit=st.sampled_from(["100100", "100200", "200100"]), rnd=st.sampled_from([1, 2]),
       value=st.sampled_from([0.0, 0.5, 1.0, None]))
def test_an_override_is_the_facts_edited_and_touches_one_unit(tmp_path_factory, unit, rnd, value):
    tmp = tmp_path_factory.mktemp("ov")
    status = "" if value is not None else "no_data"
    text = HEADER + f"{unit},qa_manual,{rnd},{'' if value is None else value},{status},复核,张三,2019-12-03,\n"
    base = _score(MINI, _facts(tmp / "base", MINI))
    over = _score(MINI, _facts(tmp / "over", MINI, text))
    edited_facts = _facts(tmp / "edited", MINI)
    _set_manual(edited_facts, unit, rnd, "qa_manual", value)
    edited = _score(MINI, edited_facts)
    # the overridden run is the edited facts' run, for every unit and node, bit for bit
    assert _same_bits(_nodes(over), _nodes(edited))
    # and every other unit is the run without overrides, bit for bit
    others = pl.col("code") != unit
    assert _same_bits(_nodes(over).filter(others), _nodes(base).filter(others))
    assert len(over.overrides_applied) == 1 and over.overrides_applied[0].round == rnd
    assert over.units.filter(pl.col("code") == unit)["ov:qa_manual"].item() is True
    assert over.units.filter(others)["ov:qa_manual"].to_list() == [False, False]


def test_an_override_of_a_technical_point_changes_one_country(tmp_path):
    """country-index: ARE's internet users (a fixed goalpost, no stage across units) set to 50 %;
    the reference edits stats.csv to 50.0."""
    base = _score(COUNTRY, _facts(tmp_path / "base", COUNTRY))
    text = HEADER + "ARE,internet_users,1,50,,统计口径更正,李四,2024-07-01 09:30,ITU 更正 2024-06\n"
    over = _score(COUNTRY, _facts(tmp_path / "over", COUNTRY, text))
    edited = _facts(tmp_path / "edited", COUNTRY)
    stats = pl.read_csv(edited / "stats.csv", infer_schema_length=0)
    stats = stats.with_columns(pl.when(pl.col("country") == "ARE").then(pl.lit("50.0"))
                               .otherwise(pl.col("internet_users_pct")).alias("internet_users_pct"))
    stats.write_csv(edited / "stats.csv")
    ref = _score(COUNTRY, edited)
    assert _same_bits(_nodes(over), _nodes(ref))
    others = pl.col("code") != "ARE"
    assert _same_bits(_nodes(over).filter(others), _nodes(base).filter(others))
    assert not _same_bits(_nodes(over).filter(~others), _nodes(base).filter(~others))
    (a,) = over.overrides_applied
    assert (a.old_value, a.new_value, a.old_status, a.new_status) == (100.0, 50.0, "ok", "ok")


def test_a_blank_round_overrides_every_round(tmp_path):
    text = HEADER + "200100,portal,,1,,门户已上线,张三,2019-12-03,\n"
    sc = _score(MINI, _facts(tmp_path, MINI, text))
    assert [(a.round, a.old_value, a.new_value) for a in sc.overrides_applied] == [(1, None, 1.0), (2, None, 1.0)]
    assert sc.rounds.filter(pl.col("code") == "200100")["v:portal"].to_list() == [True, True]


def test_a_status_override_applies_the_missing_policy(tmp_path):
    """not_applicable in every round: the value is gone and the point's policy applies (mini:
    `missing: zero`); round by round, the status as the override says."""
    text = HEADER + "100100,portal,,,not_applicable,无门户要求,张三,2019-12-03,\n"
    sc = _score(MINI, _facts(tmp_path, MINI, text))
    mine = sc.rounds.filter(pl.col("code") == "100100")
    assert mine["st:portal"].to_list() == ["not_applicable"] * 2 and mine["v:portal"].null_count() == 2
    row = sc.units.filter(pl.col("code") == "100100").row(0, named=True)
    assert row["st:portal"] == "not_applicable" and row["s:portal"] == 0.0


# ------------------------------------------------------------------ errors


BAD = HEADER + "\n".join([
    "100100,qa_manual,2,1,,复核,张三,2019-12-03,",          # 2: fine
    "100100,qa_manul,2,1,,复核,张三,2019-12-03,",           # 3: unknown point (did you mean)
    "100100,web,2,1,,复核,张三,2019-12-03,",                # 4: an indicator
    "999999,qa_manual,2,1,,复核,张三,2019-12-03,",          # 5: unknown unit
    "甲市,qa_manual,1,1,,复核,张三,2019-12-03,",            # 6: a name, not a code
    "100200,qa_manual,7,1,,复核,张三,2019-12-03,",          # 7: unknown round
    "100200,qa_manual,1,1,,,张三,2019-12-03,",              # 8: no reason
    "100200,portal,1,,,复核,张三,2019-12-03,",              # 9: neither value nor status
    "100200,portal,2,1,no_data,复核,张三,2019-12-03,",      # 10: both, inconsistent
    "200100,qa_manual,1,0.7,,复核,张三,2019-12-03,",        # 11: not one of values:
    "200100,portal,1,2,,复核,张三,2019-12-03,",             # 12: a true/false probe: 0 or 1
    "100100,qa_manual,,0.5,,复核,张三,2019-12-03,",         # 13: duplicate (every round overlaps 2)
    "200100,pages_n,1,3,,复核,张三,2019-12-32,",            # 14: bad date
    "200100,pages_n,2,3,,复核,,2019-12-03T10:00:00+08:00,",  # 15: no by; a UTC offset
    "200100,pages_n,1,3,missing,复核,张三,2019-12-03,",     # 16: no such status
]) + "\n"


def test_every_error_is_located_at_its_line(tmp_path):
    facts = _facts(tmp_path, MINI, BAD)
    r = runner.invoke(app, ["score", str(MINI), "--facts", str(facts), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1
    assert not (tmp_path / "out").exists()  # nothing scored, nothing written
    assert "Traceback" not in r.output
    assert_golden("overrides_errors.txt", r.output.replace(str(facts), "facts"))


def test_a_count_takes_whole_numbers(tmp_path):
    """2.5 pages is no fact: a counting probe's override is a whole number, located at its line."""
    facts = _facts(tmp_path, MINI, HEADER + "100100,pages_n,1,2.5,,复核,张三,2019-12-05,\n")
    with pytest.raises(FactsError) as e:
        _score(MINI, facts)
    (d,) = e.value.diagnostics
    assert (d.code, str(d.where)) == ("F126", f"{facts / 'overrides.csv'}:2") and "whole number" in d.message
    ok = _facts(tmp_path / "ok", MINI, HEADER + "100100,pages_n,1,3,,复核,张三,2019-12-05,\n")
    assert [a.new_value for a in _score(MINI, ok).overrides_applied] == [3.0]


@pytest.mark.parametrize("text, code", [
    ("unit,point,round,value,reson,by,at\n", "F129"),
    ("unit,point,value,reason,by,at\n100100,qa_manual,1,x,y,2019-01-01,extra\n", "F129"),
    ("\xff\xfe", "F129"),
])
def test_a_file_that_is_not_an_overrides_table(tmp_path, text, code):
    facts = _facts(tmp_path, MINI)
    (facts / "overrides.csv").write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    with pytest.raises(FactsError) as e:
        _score(MINI, facts)
    assert {d.code for d in e.value.diagnostics} == {code}


# ------------------------------------------------------------------ the commands, and everywhere it shows


def _add(facts: Path, *args: str):
    return runner.invoke(app, ["override", "add", str(facts), "--rules", str(MINI), *args])


def test_add_and_list_round_trip(tmp_path):
    facts = _facts(tmp_path, MINI)
    r = _add(facts, "--unit", "100200", "--point", "qa_manual", "--round", "2", "--value", "1", "--reason", "申诉成立",
             "--by", "张三", "--reference", "申诉函 2019-12-03", "--at", "2019-12-05")
    assert r.exit_code == 0, r.output
    assert "overrides.csv:2" in r.output
    r = _add(facts, "--unit", "200100", "--point", "pages_n", "--status", "error", "--reason", "抓取失败", "--by", "李四")
    assert r.exit_code == 0, r.output
    before = (facts / "overrides.csv").read_bytes()
    bad = _add(facts, "--unit", "100200", "--point", "qa_manual", "--value", "0.5", "--reason", "x", "--by", "王五")
    assert bad.exit_code == 1 and "F127 duplicate-override" in bad.output and "nothing was added" in bad.output
    assert (facts / "overrides.csv").read_bytes() == before  # a refused record leaves the file as it was
    got = json.loads(runner.invoke(app, ["override", "list", str(facts), "--rules", str(MINI), "--format", "json"]).output)
    rows = got["overrides"]
    assert [(o["line"], o["unit"], o["point"], o["round"], o["value"], o["status"]) for o in rows] == [
        (2, "100200", "qa_manual", 2, 1.0, "ok"), (3, "200100", "pages_n", None, None, "error")]
    assert rows[0]["reference"] == "申诉函 2019-12-03" and rows[0]["at"] == "2019-12-05"
    assert len(rows[1]["at"]) == 19  # --at defaults to now, to the second
    text = runner.invoke(app, ["override", "list", str(facts), "--rules", str(MINI)]).output
    assert "申诉成立" in text and "2 override(s)" in text


def test_results_explain_and_report_show_it(tmp_path):
    facts = _facts(tmp_path, MINI)
    added = _add(facts, "--unit", "100200", "--point", "qa_manual", "--round", "2", "--value", "1", "--reason",
                 "申诉成立：第4题答案正确", "--by", "张三", "--reference", "申诉函 2019-12-03", "--at", "2019-12-05")
    assert added.exit_code == 0, added.output
    out, before = tmp_path / "out", tmp_path / "before"
    r = runner.invoke(app, ["score", str(MINI), "--facts", str(facts), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 override applied" in r.output
    # through the CLI too: only 乙市's figures changed (its rank may move; the others' figures did not)
    assert runner.invoke(app, ["score", str(MINI), "--facts", str(MINI / "facts"), "--out", str(before)]).exit_code == 0
    figures = [json.loads((d / "scores.json").read_text(encoding="utf-8"))["units"] for d in (before, out)]
    changed = {a["code"] for a, b in zip(*[sorted(u, key=lambda x: x["code"]) for u in figures])
               if (a["total"], a["scores"], a["points"]) != (b["total"], b["scores"], b["points"])}
    assert changed == {"100200"}
    # results: scores.json "corrections", scores_long "overridden"
    doc = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    (c,) = doc["corrections"]
    assert {k: c[k] for k in ("unit", "point", "round", "old_value", "new_value", "by", "at", "reference")} == {
        "unit": "100200", "point": "qa_manual", "round": 2, "old_value": 0.5, "new_value": 1.0, "by": "张三",
        "at": "2019-12-05", "reference": "申诉函 2019-12-03"}
    long = pl.read_parquet(out / "scores_long.parquet")
    assert long.filter(pl.col("overridden"))[["code", "node"]].rows() == [("100200", "qa_manual")]
    assert long.filter(pl.col("kind") == "indicator")["overridden"].null_count() == long.filter(
        pl.col("kind") == "indicator").height
    # explain, at the point
    r = runner.invoke(app, ["explain", str(MINI), "--facts", str(facts), "--unit", "100200", "--node", "qa"])
    assert r.exit_code == 0, r.output
    assert_golden("explain_override.txt", r.output)
    ex = json.loads(runner.invoke(app, ["explain", str(MINI), "--facts", str(facts), "--unit", "100200",
                                        "--node", "qa_manual", "--format", "json"]).output)
    assert ex["node"]["overrides"][0]["reason"] == "申诉成立：第4题答案正确"
    # the report: a section listing it
    r = runner.invoke(app, ["report", str(out), "--clusters", "0"])
    assert r.exit_code == 0, r.output
    page = lhtml.fromstring((out / "report.html").read_text(encoding="utf-8"))
    (sec,) = page.xpath('//section[@id="corrections"]')
    assert "更正与申诉" in sec.xpath("string(h2)")
    (row,) = sec.xpath(".//tbody/tr")
    cells = [td.text_content() for td in row.xpath("td")]
    assert cells == ["乙市 (100200)", "智能问答（人工） (qa_manual)", "2", "0.5 → 1", "申诉成立：第4题答案正确", "张三",
                     "2019-12-05", "申诉函 2019-12-03"]
    # the workbook marks the cell, and the provenance of every output names the correction
    import openpyxl

    wb = openpyxl.load_workbook(out / "scores.xlsx")
    ws = wb["问答"]
    head = [c.value for c in ws[1]]
    col = next(i for i, h in enumerate(head, 1) if h and "(qa_manual" in str(h))
    row = next(i for i in range(2, ws.max_row + 1) if ws.cell(i, 1).value == "100200")
    cell = ws.cell(row, col)
    assert cell.comment is not None and "已更正" in cell.comment.text and "申诉成立" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFE699")
    assert not any("已更正" in (ws.cell(i, col).comment.text if ws.cell(i, col).comment else "")
                   for i in range(2, ws.max_row + 1) if i != row)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov == doc["provenance"] and [o["unit"] for o in prov["overrides"]] == ["100200"]
    assert any(f["path"] == "overrides.csv" for f in prov["facts"]["files"])


def test_no_overrides_file_changes_nothing(tmp_path):
    facts = _facts(tmp_path, MINI)
    sc = _score(MINI, facts)
    assert sc.overrides_applied == () and not any(c.startswith("ov:") for c in sc.units.columns)


def test_adds_at_once_all_keep_their_record(tmp_path):
    """Eight people adding at the same moment: the lock serialises them, no record is lost."""
    from concurrent.futures import ThreadPoolExecutor

    from govindex.cli.override import append

    facts, rs = _facts(tmp_path, MINI), load(MINI)
    jobs = [{"unit": u, "point": p, "round": str(r), "value": "1", "reason": "复核", "by": f"c{i}", "at": "2019-12-03"}
            for i, (u, p, r) in enumerate((u, p, r) for u in ("100100", "100200") for p in ("portal", "qa_manual")
                                          for r in (1, 2))]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda f: append(rs, facts, f), jobs))
    got = read(rs, facts)
    assert sorted(o.by for o in got) == sorted(j["by"] for j in jobs)
    assert [o.line for o in got] == list(range(2, 10))
