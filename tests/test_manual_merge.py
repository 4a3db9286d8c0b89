"""Issue 9, reproducer 3: a manual import never removes rows it did not read. A second
collector's book merges into the round by unit × point; a blank book or one that changes
nothing is refused; --replace replaces the round and says how much it removed; who collected
what is reported; rows of other files are never touched."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from govindex.check.run import load
from govindex.collect.manual import ManualImportError, write_template
from govindex.collect.manual_import import import_workbook
from govindex.diagnostics import FactsError
from govindex.eval.facts import scan
from tests.conftest import ROOT
from tests.manual_books import fill

FIRST = {("130100", "adapt_manual_mobile"): 1, ("130100", "adapt_manual_browsers"): 0.5,
         ("130200", "adapt_manual_mobile"): 0, ("130200", "search_manual_sample"): 3.5,
         ("130300", "xxgk_manual_classification"): 0.5, ("130100", "collector"): "张三",
         ("130200", "collector"): "张三", ("130300", "collector"): "张三"}
SECOND = {("130400", "adapt_manual_mobile"): 1, ("130500", "adapt_manual_mobile"): 0.5,
          ("130600", "search_manual_sample"): 2, ("130400", "collector"): "李四", ("130500", "collector"): "李四"}


@pytest.fixture(scope="module")
def rs():
    return load(ROOT / "rules" / "2019")


@pytest.fixture(scope="module")
def template(rs, tmp_path_factory):
    return write_template(rs, 1, tmp_path_factory.mktemp("tpl") / "manual-r1.xlsx")


def _round(facts) -> dict[tuple[str, str], tuple]:
    df = pl.read_parquet(facts / "manual" / "round=1" / "part-0.parquet")
    return {(r["unit"], r["point"]): (r["value"], r["collector"]) for r in df.to_dicts()}


def test_a_second_collectors_book_merges_and_keeps_the_first(rs, template, tmp_path):
    facts = tmp_path / "facts"
    import_workbook(fill(template, tmp_path / "a.xlsx", FIRST), rs, 1, facts)
    report = import_workbook(fill(template, tmp_path / "b.xlsx", SECOND), rs, 1, facts, collector="王五")
    got = _round(facts)
    assert len(got) == 8  # before: the second book replaced the round (5 rows → 3)
    assert got[("130100", "adapt_manual_mobile")] == (1.0, "张三")
    assert got[("130600", "search_manual_sample")] == (2.0, "王五")  # its 采集人 cell is blank: --collector
    assert (report.added, len(report.changed), report.unchanged, report.kept, report.removed) == (3, 0, 0, 5, 0)
    assert {k: dict(v) for k, v in report.collectors.items()} == {"李四": {"added": 2}, "王五": {"added": 1}}
    assert report.total == 8 and "5 rows kept, 0 removed" in report.summary()
    assert scan(rs, facts, "manual").collect().height == 8  # what scoring reads


def test_changes_are_reported_old_to_new_and_unchanged_rows_stay(rs, template, tmp_path):
    facts = tmp_path / "facts"
    import_workbook(fill(template, tmp_path / "a.xlsx", FIRST), rs, 1, facts)
    # the same collector corrects a value (another collector's different value is a disagreement:
    # tests/test_manual_team.py); a note changed is a change too
    edit = {**FIRST, ("130100", "adapt_manual_mobile"): 0, ("130100", "note"): "复核",
            ("130700", "adapt_manual_mobile"): 1}
    report = import_workbook(fill(template, tmp_path / "a2.xlsx", edit), rs, 1, facts)
    assert [c.render() for c in report.changed] == [
        "130100 adapt_manual_mobile: 1 → 0 (张三)",
        "130100 adapt_manual_browsers: 0.5 by 张三, note «» → 0.5 by 张三, note «复核»"]  # only the note changed
    assert (report.added, report.unchanged, report.kept) == (1, 3, 0)
    assert "changed 130100 adapt_manual_mobile: 1 → 0 (张三)" in report.summary()
    assert _round(facts)[("130100", "adapt_manual_mobile")] == (0.0, "张三")


@pytest.mark.parametrize("replace", [False, True])
def test_an_all_blank_book_is_refused_and_keeps_the_round(rs, template, tmp_path, replace):
    facts = tmp_path / "facts"
    import_workbook(fill(template, tmp_path / "a.xlsx", FIRST), rs, 1, facts)
    before = _round(facts)
    with pytest.raises(ManualImportError, match="M117 blank-book") as exc:
        import_workbook(template, rs, 1, facts, replace=replace)  # before: the round wiped (22,989 rows → 0)
    assert "to clear round 1, delete" in str(exc.value)
    assert _round(facts) == before


def test_replace_replaces_the_round_and_counts_what_it_removed(rs, template, tmp_path):
    facts = tmp_path / "facts"
    import_workbook(fill(template, tmp_path / "a.xlsx", FIRST), rs, 1, facts)
    book = fill(template, tmp_path / "b.xlsx", {**SECOND, ("130100", "adapt_manual_mobile"): 1,
                                                ("130100", "collector"): "张三"})
    report = import_workbook(book, rs, 1, facts, replace=True)
    assert (report.added, report.unchanged, report.removed, report.kept, report.total) == (3, 1, 4, 0, 4)
    assert "4 rows it does not hold were removed" in report.summary()
    assert set(_round(facts)) == {("130100", "adapt_manual_mobile"), ("130400", "adapt_manual_mobile"),
                                  ("130500", "adapt_manual_mobile"), ("130600", "search_manual_sample")}


def test_rows_of_other_files_are_never_touched_and_a_conflict_is_refused(rs, template, tmp_path):
    facts = tmp_path / "facts"
    other = facts / "manual" / "round=1" / "part-survey.parquet"
    other.parent.mkdir(parents=True)
    pl.DataFrame({"unit": ["130100"], "round": [1], "point": ["adapt_manual_mobile"], "value": [0.5],
                  "collector": ["x"], "note": [""]}).write_parquet(other)
    before = other.read_bytes()
    with pytest.raises(ManualImportError, match="M119 held-elsewhere") as exc:
        import_workbook(fill(template, tmp_path / "a.xlsx", FIRST), rs, 1, facts)
    assert "录入!" in exc.value.problems[0].where and "part-survey.parquet" in exc.value.problems[0].message
    report = import_workbook(fill(template, tmp_path / "b.xlsx", SECOND), rs, 1, facts, replace=True)
    assert report.added == 3 and other.read_bytes() == before


def test_old_facts_without_a_collector_column_still_merge(rs, template, tmp_path):
    facts = tmp_path / "facts"
    old = facts / "manual" / "round=1" / "part-0.parquet"
    old.parent.mkdir(parents=True)
    pl.DataFrame({"unit": ["130900"], "round": [1], "point": ["adapt_manual_mobile"], "value": [1.0],
                  "note": ["旧"]}).write_parquet(old)
    report = import_workbook(fill(template, tmp_path / "b.xlsx", SECOND), rs, 1, facts)
    assert report.kept == 1 and _round(facts)[("130900", "adapt_manual_mobile")] == (1.0, None)


def test_a_table_kept_as_one_file_is_not_hidden_by_an_import(rs, template, tmp_path):
    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "manual.csv").write_text("unit,round,point,value,collector,note\n130100,1,adapt_manual_mobile,1,,\n",
                                      encoding="utf-8")
    with pytest.raises(FactsError, match="would hide that file"):
        import_workbook(fill(template, tmp_path / "b.xlsx", SECOND), rs, 1, facts)
    assert not (facts / "manual").exists()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govindex.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_merges_reports_and_refuses_with_exit_1(tmp_path):
    mini = ROOT / "tests" / "fixtures" / "mini"  # small and quick; its manual table has no collector column
    tpl = write_template(load(mini), 2, tmp_path / "tpl.xlsx")
    a = fill(tpl, tmp_path / "a.xlsx", {("100100", "qa_manual"): 1, ("100200", "qa_manual"): 0.5,
                                        ("100100", "collector"): "张三", ("100200", "collector"): "张三"})
    b = fill(tpl, tmp_path / "b.xlsx", {("200100", "qa_manual"): 0, ("100200", "qa_manual"): 1,
                                        ("100200", "collector"): "李四"})
    common = ["--rules", str(mini), "--round", "2", "--facts", str(tmp_path / "facts")]
    assert _cli("manual", "import", str(a), *common).returncode == 0
    r = _cli("manual", "import", str(b), *common, "--collector", "王五")
    # 李四's 1 against 张三's 0.5: a disagreement, listed by both cells; nothing imported
    assert r.returncode == 1 and "M122 disagreement" in r.stderr and "Traceback" not in r.stderr
    assert f"{b}:录入!G4: error[M122 disagreement]: 100200 × qa_manual: 1 here (李四) but 0.5 in a.xlsx:录入!G4 (张三)" \
        in r.stderr
    r = _cli("manual", "import", str(tpl), *common)
    assert r.returncode == 1 and "M117 blank-book" in r.stderr and "Traceback" not in r.stderr
    r = _cli("manual", "import", str(b), *common, "--collector", "王五", "--replace")  # the book wins
    assert r.returncode == 0, r.stderr
    assert "1 added, 1 changed, 0 unchanged; 0 rows kept, 1 removed" in r.stdout
    assert "changed 100200 qa_manual: 0.5 → 1 (李四)" in r.stdout
    assert "collector 李四: 1 changed" in r.stdout and "collector 王五: 1 added" in r.stdout
    assert "1 row it does not hold was removed" in r.stdout


def test_a_note_without_an_entry_is_reported_not_dropped_silently(rs, template, tmp_path):
    book = fill(template, tmp_path / "n.xlsx", {("130100", "adapt_manual_mobile"): 1, ("130200", "note"): "网站打不开"})
    report = import_workbook(book, rs, 1, tmp_path / "facts")
    (w,) = [w for w in report.warnings if w.code == "M303"]
    assert "1 row has a note but no entry: the note is not imported (130200)" in w.message
    assert "M303 note-without-entry" in report.summary()


def test_rows_of_the_round_in_a_file_outside_round_directories_count_too(rs, template, tmp_path):
    facts = tmp_path / "facts"
    (facts / "manual").mkdir(parents=True)
    pl.DataFrame({"unit": ["130100", "130200"], "round": [1, 2], "point": ["adapt_manual_browsers"] * 2,
                  "value": [0.5, 1.0], "collector": ["x", "x"], "note": ["", ""]}).write_parquet(facts / "manual" / "all.parquet")
    with pytest.raises(ManualImportError, match="M119 held-elsewhere.*all.parquet"):
        import_workbook(fill(template, tmp_path / "a.xlsx", FIRST), rs, 1, facts)  # 130100 browsers, round 1
    book = fill(template, tmp_path / "b.xlsx", {("130100", "adapt_manual_browsers"): 1})
    assert import_workbook(book, rs, 2, facts, force=True).added == 1  # all.parquet's round-2 row is another unit's
