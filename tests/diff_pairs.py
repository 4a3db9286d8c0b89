"""Small constructed rule-set pairs with facts for the impact and the HTML diff (built from
tests/fixtures/mini in a tmp directory): a grading added to both sides so that grades move."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import ROOT

MINI = ROOT / "tests/fixtures/mini"
GRADING = """
grading "等级" {
  method: thresholds
  classes: {A: "领先", B: "追赶", C: "推进"}
  cuts: {A: 6, B: 3}
}
"""


def _copy(dest: Path, edits: list[tuple[str, str]], tests: bool = True) -> Path:
    shutil.copytree(MINI, dest, ignore=shutil.ignore_patterns("facts"))
    text = (dest / "mini.rules").read_text(encoding="utf-8")
    if not tests:  # the inline tests name nodes the new side removes
        text = text[:text.index('\ntest "')] + "\n"
    for a, b in edits:
        assert a in text, a
        text = text.replace(a, b)
    (dest / "mini.rules").write_text(text + GRADING, encoding="utf-8")
    return dest


def weight_pair(tmp: Path) -> tuple[Path, Path]:
    """Old: mini graded. New: ``portal`` reweighted 2 → 3 and ``pages_n`` 4 → 3 (the maxima of
    ``web``'s children), and ``pages_n``'s formula capped at 2 instead of 4 (its rate moves)."""
    old = _copy(tmp / "old", [])
    new = _copy(tmp / "new", [("    max: 2\n    probe: any(pages", "    max: 3\n    probe: any(pages"),
                              ("    max: 4\n    probe: count(pages)", "    max: 3\n    probe: count(pages)"),
                              ("score: linear(x, cap: 4)", "score: linear(x, cap: 2)")], tests=False)
    return old, new


def year_pair(tmp: Path) -> tuple[Path, Path, Path, Path]:
    """Two years: rules and facts. The new year drops unit 200100 丙州 and adds 300100 丁县, removes
    ``portal`` and adds ``portal_ok`` (another label and probe: not a rename), renames
    ``qa_manual`` → ``qa_test`` (same label and parent), caps ``pages_n`` at 2; in its facts 乙市's
    manual answer rose from 0.5 to 1 and 甲市's fell from 1 to 0, so they swap ranks.
    Returns (old rules, new rules, old facts, new facts)."""
    old = _copy(tmp / "old", [])
    new = _copy(tmp / "new", [
        ('  point portal "门户网站" {\n    kind: technical\n    max: 2\n    probe: any(pages, where: has(markers, "portal"))',
         '  point portal_ok "门户可访问" {\n    kind: technical\n    max: 2\n    probe: any(pages, where: status == 200)'),
        ("score: linear(x, cap: 4)", "score: linear(x, cap: 2)"),
        ('point qa_manual "智能问答（人工）"', 'point qa_test "智能问答（人工）"')], tests=False)
    units = (new / "units.csv").read_text(encoding="utf-8").splitlines()
    units = [u for u in units if not u.startswith("200100")] + ["300100,丁县,河北,东部"]
    (new / "units.csv").write_text("\n".join(units) + "\n", encoding="utf-8")
    facts_old, facts_new = tmp / "facts_old", tmp / "facts_new"
    shutil.copytree(MINI / "facts", facts_old)
    shutil.copytree(MINI / "facts", facts_new)
    manual = (facts_new / "manual.csv").read_text(encoding="utf-8")
    manual = manual.replace("100200,2,qa_manual,0.5,", "100200,2,qa_test,1,").replace("100100,2,qa_manual,1,",
                                                                                         "100100,2,qa_test,0,")
    (facts_new / "manual.csv").write_text(manual + "300100,2,qa_test,0.5,抽测\n", encoding="utf-8")
    with (facts_new / "pages.csv").open("a", encoding="utf-8") as f:
        f.write("300100,2,http://www.d.gov.cn/,200,portal\n300100,2,http://www.d.gov.cn/a/,200,\n")
    return old, new, facts_old, facts_new
