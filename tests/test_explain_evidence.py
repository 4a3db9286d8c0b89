"""explain shows the evidence (issue 13 item 4): the rows that determine each probe's value,
chosen from the probe's IR — goldens for a coverage, a recency, a sum and a manual point of
rules/2019 on examples/2019/facts, the compact whole-unit view, and a check, independent of
govindex's row filters, that every evidence row of every presence/coverage point carries its
marker. Regenerate the goldens with GOVINDEX_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import json
import operator
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex.check.run import load
from govindex.cli import app
from govindex.eval.evaluate import evaluate
from govindex.eval.explain import explain, load_sources, render_compact, render_text
from govindex.ir import Agg, Column, Const, Expr, ListConst, Op, RowCall, aggregates, to_syntax
from govindex.lang.fmt import format_expr
from tests.conftest import assert_golden

ROOT = Path(__file__).resolve().parent.parent
RULES, FACTS = ROOT / "rules" / "2019", ROOT / "examples" / "2019" / "facts"
MINI = ROOT / "tests" / "fixtures" / "mini"
UNIT = "330600"  # 绍兴市: carries all three HPV markers, posts up to 2019-01-20, 41 apps
SAMPLE = ("130100", "330600")  # a unit without the HPV markers, one with all three


@pytest.fixture(scope="module")
def scored():
    rs = load(RULES)
    sources = load_sources(rs, FACTS)
    return rs, evaluate(rs, sources), sources


def _text(scored, node: str | None, **kw) -> str:
    rs, sc, sources = scored
    doc = explain(sc, rs.unit_by(UNIT), node, sources, facts_dir=FACTS, **kw)
    digits = rs.rounding.digits
    fmt = (lambda v: "—" if v is None else f"{v:.{digits}f}")
    return render_text(doc, fmt) if node else render_compact(doc, fmt, digits)


@pytest.mark.parametrize("kind, node", [
    ("coverage", "hpv_vaccine_connectivity"),  # 宫颈癌疫苗接种办事贯通度: the rows carrying each marker
    ("coverage_text", "medical_items"),  # keywords in titles, among rows with a marker
    ("recency", "sense_posts_recency"),  # days_since(posts, published): the newest post per round
    ("sum", "platform_mobile_services"),  # sum(apps, services, where: available): the summed column
    ("manual", "xxgk_manual_classification"),  # entry(manual): the entries with their collector
])
def test_explain_evidence_golden(scored, kind: str, node: str) -> None:
    assert_golden(f"explain_{kind}.txt", _text(scored, node) + "\n")


def test_the_issue_s_complaints_are_answered(scored) -> None:
    cov = _text(scored, "hpv_vaccine_connectivity")
    for marker in ("svc_hpv_vaccine_info", "svc_hpv_vaccine_sites", "svc_hpv_vaccine_booking"):
        assert f"✓ {marker}" in cov and f"markers=[{marker}" in cov  # the pages that carry it, not any 3
    rec = _text(scored, "sense_posts_recency")
    assert rec.index("published=2019-01-20") < rec.index("published=2019-01-04")  # the newest first
    assert "sum of services over" in _text(scored, "platform_mobile_services")  # the summed column, the totals
    assert _text(scored, "sense_posts_recency", limit=None).count("published=") == 4  # one per round, all


def test_compact_whole_unit_golden(scored) -> None:
    text = _text(scored, None)
    assert len(text.splitlines()) == len(scored[0].nodes) + 3 + 5  # header, invalid rows once, a line a node
    assert text.count("fail its rule `valid when") == 1
    assert_golden("explain_compact_2019.txt", text + "\n")


# A reference for the row conditions of rules/2019, in plain Python on a row's values: independent
# of govindex's compiled polars filters, so that the evidence is checked, not restated.
_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


def _holds(e: Expr | None, row: dict) -> object:
    if e is None:
        return True
    if isinstance(e, Column):
        return row[e.name]
    if isinstance(e, Const):
        return e.value
    if isinstance(e, ListConst):
        return e.values
    if isinstance(e, Op) and e.op in ("and", "or"):
        a, b = (bool(_holds(x, row)) for x in e.args)
        return a and b if e.op == "and" else a or b
    if isinstance(e, Op) and e.op == "not":
        return not _holds(e.args[0], row)
    if isinstance(e, Op) and e.op in _CMP:
        a, b = (_holds(x, row) for x in e.args)
        return a is not None and b is not None and _CMP[e.op](a, b)
    if isinstance(e, Op) and e.op == "in":
        a, b = (_holds(x, row) for x in e.args)
        return a is not None and a in (b or [])
    if isinstance(e, RowCall) and e.fn in ("has", "has_any", "has_all"):
        have, want = set(_holds(e.args[0], row) or []), set(e.literals(1))
        return bool(have & want) if e.fn != "has_all" else want <= have
    if isinstance(e, RowCall) and e.fn == "present":
        return _holds(e.args[0], row) not in (None, "")
    raise AssertionError(f"the reference has no rule for {type(e).__name__} {getattr(e, 'op', getattr(e, 'fn', ''))}")


def _carries(agg: Agg, item: str, row: dict) -> bool:
    value = row[agg.arg.name]  # type: ignore[union-attr]  # coverage's column (rules/2019: a column)
    return item in (value or []) if isinstance(value, list) else item in (value or "")


def _raw(table: str, code: str, rs) -> list[dict]:
    """The unit's rows of ``table`` read straight from the parquet files, those its `valid when` keeps."""
    df = pl.read_parquet(FACTS / table / "**" / "*.parquet", hive_partitioning=True).filter(pl.col("unit") == code)
    rows = [{k: (v.isoformat(sep=" ") if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in df.iter_rows(named=True)]
    return [r for r in rows if _holds(rs.tables[table].valid, r)]


def _is_a_row_of(shown: dict, raw: list[dict]) -> bool:
    return any(all(r.get(k) == v for k, v in shown.items()) for r in raw)


def test_every_evidence_row_of_a_presence_or_coverage_point_carries_its_marker(scored) -> None:
    """For every `any` and `coverage` of rules/2019 (markers, keywords in titles, channels, topics)
    and a sample of units: each evidence row is a valid row of the unit's facts, satisfies the
    aggregate's `where:` and carries what it is shown for; the counts match the facts."""
    rs, sc, sources = scored
    aggs = [(p, a) for p in rs.points for a in aggregates(p.probe) if a.fn in ("any", "coverage")]
    assert len(aggs) > 100
    checked = {"any": 0, "coverage": 0}
    for code in SAMPLE:
        doc = explain(sc, rs.unit_by(code), None, sources, limit=None)
        facts = {x["id"]: x["facts"] for x in _points(doc["node"])}
        raw = {t: _raw(t, code, rs) for t in {a.table for _, a in aggs}}
        for p, agg in aggs:
            fact = next(f for f in facts[p.id] if f["aggregate"] == agg.fn and f["table"] == agg.table
                        and f["filter"] == (format_expr(to_syntax(agg.where)) if agg.where is not None else ""))
            passing = [r for r in raw[agg.table] if _holds(agg.where, r)]
            groups = [(None, fact["rows"])] if agg.fn == "any" else [(i["item"], i["rows"]) for i in fact["items"]]
            for item, rows in groups:
                for r in rows:
                    assert _is_a_row_of(r, raw[agg.table]), (code, p.id, r)
                    assert _holds(agg.where, r), (code, p.id, r)  # the columns it reads are shown
                    assert item is None or _carries(agg, item, r), (code, p.id, item, r)
                    checked[agg.fn] += 1
            if agg.fn == "any":
                assert fact["matched"] == len(passing) == len(fact["rows"]), (code, p.id)
            else:
                for i in fact["items"]:
                    assert i["rows_carrying"] == sum(_carries(agg, i["item"], r) for r in passing), (code, p.id)
    assert checked["any"] > 100 and checked["coverage"] > 100, checked


def _points(x: dict) -> list[dict]:
    return [x] if "children" not in x else [p for c in x["children"] for p in _points(c)]


# ------------------------------------------------------------------ through the CLI, on the mini rule set


def _mini_facts(tmp_path: Path) -> Path:
    facts = tmp_path / "facts"
    shutil.copytree(MINI / "facts", facts)
    (facts / "manual.csv").write_text(
        "unit,round,point,value,note,collector,entered_at,source_file,source_cell\n"
        "100100,2,qa_manual,1,抽测5题全部答对,张三,2019-03-02T10:15:00,张三.xlsx,录入!G5\n"
        "100200,2,qa_manual,0.5,抽测5题答对3题,李四,2019-03-02T11:00:00,李四.xlsx,录入!G6\n", encoding="utf-8")
    return facts


def test_manual_evidence_shows_collector_file_and_cell(tmp_path: Path) -> None:
    facts = _mini_facts(tmp_path)
    r = CliRunner().invoke(app, ["explain", str(MINI), "--facts", str(facts), "--unit", "乙市", "--node", "qa_manual"])
    assert r.exit_code == 0, r.output
    assert ("round=2  point=qa_manual  value=0.5  collector=李四  note=抽测5题答对3题  entered_at=2019-03-02T11:00:00"
            "  source_file=李四.xlsx  source_cell=录入!G6") in r.stdout
    r = CliRunner().invoke(app, ["explain", str(MINI), "--facts", str(facts), "--unit", "乙市", "--format", "json"])
    doc = json.loads(r.stdout)
    qa = next(x for x in _points(doc["node"]) if x["id"] == "qa_manual")
    assert qa["facts"][0]["rows"] == [{"round": 2, "point": "qa_manual", "value": 0.5, "collector": "李四",
                                       "note": "抽测5题答对3题", "entered_at": "2019-03-02T11:00:00",
                                       "source_file": "李四.xlsx", "source_cell": "录入!G6"}]
    assert doc["invalid"]["pages"]["rows"] == 1  # once, at the top
    assert all("invalid_rows" not in f for x in _points(doc["node"]) for f in x.get("facts", []))


def test_extra_columns_of_parquet_facts_are_shown_and_clashing_ones_left_out(tmp_path: Path) -> None:
    facts = _mini_facts(tmp_path)
    manual = pl.read_csv(facts / "manual.csv", infer_schema=False).with_columns(pl.col("round", "value").cast(pl.Float64))
    (facts / "manual.csv").unlink()
    for r, part in ((2, "a"), (2, "b")):
        d = facts / "manual" / f"round={r}"
        d.mkdir(parents=True, exist_ok=True)
        rows = manual.filter(pl.col("unit") == ("100100" if part == "a" else "100200")).drop("round")
        if part == "b":  # the same extra column as a list in one file: not shown, never a traceback
            rows = rows.with_columns(pl.col("source_cell").str.split("!"))
        rows.write_parquet(d / f"part-{part}.parquet")
    args = ["explain", str(MINI), "--facts", str(facts), "--node", "qa_manual", "--unit"]
    r = CliRunner().invoke(app, [*args, "乙市"])
    assert r.exit_code == 0 and "collector=李四" not in r.stdout and "value=0.5" in r.stdout, r.output
    (facts / "manual" / "round=2" / "part-b.parquet").unlink()
    r = CliRunner().invoke(app, [*args, "甲市"])
    assert r.exit_code == 0 and "collector=张三" in r.stdout and "source_cell=录入!G5" in r.stdout, r.output


def test_page_evidence_shows_its_warc_location(tmp_path: Path) -> None:
    from govindex.collect.index import SCHEMA

    facts = _mini_facts(tmp_path)
    idx = facts / "crawl" / "round=2" / "index"
    idx.mkdir(parents=True)
    row = {c: None for c in SCHEMA} | {"url": "http://www.b.gov.cn/", "unit": "100200", "round": 2, "status": 200,
                                       "warc_file": "crawl-r2-00000.warc.gz", "offset": 4096, "length": 1800}
    pl.DataFrame([row], schema=SCHEMA).write_parquet(idx / "part-0-0.parquet")
    r = CliRunner().invoke(app, ["explain", str(MINI), "--facts", str(facts), "--unit", "乙市", "--node", "pages_n"])
    assert r.exit_code == 0, r.output
    assert "round=2  url=http://www.b.gov.cn/  warc_file=crawl-r2-00000.warc.gz  offset=4096  length=1800" in r.stdout


def test_limit_and_all(scored) -> None:
    few, every = (_text(scored, "platform_mobile_services", limit=n) for n in (1, None))
    assert few.count("services=") == 1 and "… 40 more (--limit N, --all)" in few
    assert every.count("services=") == 41 and "more (--limit" not in every


def test_limit_and_all_options(tmp_path: Path) -> None:
    args = ["explain", str(MINI), "--facts", str(_mini_facts(tmp_path)), "--unit", "甲市", "--node", "pages_n"]
    none, every = (CliRunner().invoke(app, [*args, *extra]) for extra in (["--limit", "0"], ["--all"]))
    assert none.exit_code == every.exit_code == 0, none.output
    assert none.stdout.count("url=") == 0 and "more (--limit N, --all)" in none.stdout
    assert every.stdout.count("url=") >= 1 and "more (--limit" not in every.stdout
    compact = CliRunner().invoke(app, [*args, "--compact"])
    assert "• pages_n 页面数量" in compact.stdout and "probe " not in compact.stdout


def test_one_round_shows_the_evidence_of_that_round(tmp_path: Path) -> None:
    args = ["explain", str(MINI), "--facts", str(MINI / "facts"), "--unit", "甲市", "--node", "pages_n", "--all"]
    one = CliRunner().invoke(app, [*args, "--round", "1"])
    assert one.exit_code == 0, one.output
    assert "count: 2 row(s) of pages (r1: 2 row(s))" in one.stdout and "round=2" not in one.stdout
