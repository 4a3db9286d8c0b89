"""Provenance (docs §16): a results directory records which method and data produced it, and
``analyze``, ``report`` and ``diff`` carry it forward. The hashes are recomputed here independently
(hashlib, csv, polars) from the recipe the docs give, not through govindex.provenance."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from govindex.cli import app
from govindex.lang.fmt import format_resolved
from govindex.lang.parse import parse_dir
from tests.conftest import ROOT, assert_golden

MINI = ROOT / "tests" / "fixtures" / "mini"
TIME_KEYS = ("time",)


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "160")


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def mini(tmp_path) -> tuple[Path, Path]:
    """The mini rule set, and its facts as hive-partitioned parquet (pages) plus a CSV (manual)."""
    rules, facts = tmp_path / "rules", tmp_path / "facts"
    shutil.copytree(MINI, rules, ignore=shutil.ignore_patterns("facts"))
    facts.mkdir()
    pages = pl.read_csv(MINI / "facts" / "pages.csv").with_columns(pl.col("markers").fill_null("").str.split("|"))
    for (r,), part in pages.group_by("round"):
        (facts / "pages" / f"round={r}").mkdir(parents=True)
        part.drop("round").write_parquet(facts / "pages" / f"round={r}" / "part-0.parquet")
    shutil.copy(MINI / "facts" / "manual.csv", facts / "manual.csv")
    return rules, facts


def score(rules: Path, facts: Path, out: Path) -> dict:
    r = run("score", rules, "--facts", facts, "--out", out)
    assert r.exit_code == 0, r.output
    return json.loads((out / "scores.json").read_text(encoding="utf-8"))["provenance"]


def part(label: str, data: bytes) -> bytes:
    return f"{label}\0{len(data)}\0".encode() + data


def ruleset_hash(rules: Path) -> str:
    """The recipe of docs §16: the resolved text less its `# from` lines, then the units registry."""
    files, diags = parse_dir(rules)
    assert not diags
    text = "".join(x for x in format_resolved(files).splitlines(keepends=True) if not x.startswith("# from "))
    return hashlib.sha256(part("rules", text.encode()) + part("units", (rules / "units.csv").read_bytes())).hexdigest()


def rows_of(f: Path) -> int:
    if f.suffix == ".csv":
        with f.open(encoding="utf-8-sig", newline="") as fh:
            return sum(1 for _ in csv.reader(fh)) - 1
    return pl.read_parquet(f, hive_partitioning=False).height


def test_a_results_directory_records_the_inputs(mini, tmp_path):
    rules, facts = mini
    prov = score(rules, facts, tmp_path / "out")
    assert prov["ruleset"]["name"] == "mini" and prov["ruleset"]["hash"] == ruleset_hash(rules)
    files = sorted(p for p in facts.rglob("*") if p.is_file())
    assert [f["path"] for f in prov["facts"]["files"]] == [p.relative_to(facts).as_posix() for p in files]
    for entry, p in zip(prov["facts"]["files"], files, strict=True):
        assert entry["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
        assert entry["bytes"] == p.stat().st_size and entry["rows"] == rows_of(p)
        assert entry["table"] == ("manual" if p.suffix == ".csv" else "pages")
    manifest = [{"bytes": p.stat().st_size, "path": p.relative_to(facts).as_posix(),
                 "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in files]
    assert prov["facts"]["hash"] == hashlib.sha256(json.dumps(manifest, separators=(",", ":")).encode()).hexdigest()
    pages = pl.read_csv(MINI / "facts" / "pages.csv")
    by_round = {str(r): n for r, n in pages.group_by("round").len().sort("round").iter_rows()}
    assert prov["facts"]["tables"]["pages"] == {"rows": pages.height, "by_round": by_round}
    assert prov["facts"]["tables"]["manual"] == {"rows": 2, "by_round": {"2": 2}}
    assert prov["overrides"] == [] and prov["govindex"] and prov["python"] and prov["polars"] == pl.__version__


def test_every_output_carries_it(mini, tmp_path):
    rules, facts = mini
    out = tmp_path / "out"
    prov = score(rules, facts, out)
    for name in ("scores.parquet", "scores_long.parquet"):
        assert json.loads(pl.read_parquet_metadata(out / name)["govindex.provenance"]) == prov
    assert json.loads((out / "provenance.json").read_text(encoding="utf-8")) == prov
    assert "provenance.json" in json.loads((out / "generation.json").read_text(encoding="utf-8"))["files"]
    r = run("score", rules, "--facts", facts, "--format", "json")
    assert r.exit_code == 0, r.output
    assert _without_time(json.loads(r.stdout)["provenance"]) == _without_time(prov)


def test_the_command_line_is_recorded(tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "govindex.cli", "score", str(MINI), "--facts", str(MINI / "facts"), "--out", str(out)]
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    prov = json.loads((out / "scores.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["command"][1:] == argv[3:] and prov["cwd"] == str(ROOT)
    assert prov["time"].endswith("+00:00")


def _without_time(prov: dict) -> dict:
    return {k: v for k, v in prov.items() if k not in TIME_KEYS}


def test_the_same_inputs_give_the_same_hashes(mini, tmp_path):
    rules, facts = mini
    a, b = score(rules, facts, tmp_path / "a"), score(rules, facts, tmp_path / "b")
    assert _without_time(a) == _without_time(b)
    moved = tmp_path / "elsewhere"  # the rule-set hash names the method, not where its files lie
    shutil.copytree(rules, moved)
    assert score(moved, facts, tmp_path / "c")["ruleset"]["hash"] == a["ruleset"]["hash"]


def test_a_changed_fact_changes_the_facts_hash_and_only_its_file(mini, tmp_path):
    rules, facts = mini
    before = score(rules, facts, tmp_path / "a")
    f = facts / "pages" / "round=2" / "part-0.parquet"
    pl.read_parquet(f, hive_partitioning=False).with_columns(status=pl.lit(404)).write_parquet(f)
    after = score(rules, facts, tmp_path / "b")
    assert after["facts"]["hash"] != before["facts"]["hash"]
    assert after["ruleset"] == before["ruleset"]
    changed = [x["path"] for x, y in zip(before["facts"]["files"], after["facts"]["files"], strict=True) if x != y]
    assert changed == ["pages/round=2/part-0.parquet"]


def test_the_rule_set_hash_follows_the_method_not_the_layout(mini, tmp_path):
    rules, facts = mini
    base = ruleset_hash(rules)
    src = (rules / "mini.rules").read_text(encoding="utf-8")
    (rules / "mini.rules").write_text("# a comment and blank lines change nothing\n\n\n" + src, encoding="utf-8")
    assert score(rules, facts, tmp_path / "a")["ruleset"]["hash"] == base
    (rules / "mini.rules").write_text(src.replace("cap: 4", "cap: 5"), encoding="utf-8")
    assert score(rules, facts, tmp_path / "b")["ruleset"]["hash"] != base
    (rules / "mini.rules").write_text(src, encoding="utf-8")
    (rules / "units.csv").write_text((rules / "units.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert score(rules, facts, tmp_path / "c")["ruleset"]["hash"] != base  # the registry is part of the method


def test_template_metadata_is_hashed(tmp_path):
    rules = tmp_path / "odt"
    shutil.copytree(ROOT / "examples" / "open-data-template", rules, ignore=shutil.ignore_patterns("facts"))
    from govindex.check.run import load
    from govindex.provenance import ruleset_info

    info = ruleset_info(load(rules))
    assert [p["part"] for p in info["parts"]] == ["rules", "units", "template:datasets.csv", "template:questions.csv"]
    q = rules / "questions.csv"
    q.write_bytes(q.read_bytes() + b"\n")  # a byte the expansion ignores still changes what was read
    assert ruleset_info(load(rules))["hash"] != info["hash"]


def test_version_and_h():
    r = run("--version")
    assert r.exit_code == 0 and r.stdout.startswith("govindex 0.1.0 (python ")
    for args in ([], ["score"], ["manual", "import"], ["diff"]):
        r = run(*args, "-h")
        assert r.exit_code == 0 and "Usage: " in r.stdout and "--help" in r.stdout, (args, r.output)


def test_analyze_and_report_carry_it_and_say_when_inputs_differ(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(MINI, rules, ignore=shutil.ignore_patterns("facts"))
    facts = tmp_path / "facts"
    shutil.copytree(MINI / "facts", facts)
    a = score(rules, facts, tmp_path / "a")
    (rules / "mini.rules").write_text((rules / "mini.rules").read_text(encoding="utf-8").replace("cap: 4", "cap: 5"),
                                      encoding="utf-8")
    b = score(rules, facts, tmp_path / "b")  # the same facts under another rule set
    (facts / "manual.csv").write_text((facts / "manual.csv").read_text(encoding="utf-8").replace(",0.5,", ",0.75,"),
                                      encoding="utf-8")
    c = score(rules, facts, tmp_path / "c")  # the same rule set on other facts
    notes = []
    for cur, prev in (("b", "a"), ("c", "b"), ("c", "a"), ("a", "a")):
        r = run("analyze", tmp_path / cur, "--previous", tmp_path / prev, "--format", "json", "--clusters", "0")
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        assert doc["inputs"] == {"current": {"a": a, "b": b, "c": c}[cur], "previous": {"a": a, "b": b, "c": c}[prev]}
        notes += [f"{cur} vs {prev}: {n}" for n in doc["notes"] if "rule set" in n or "facts" in n]
    assert_golden("provenance_notes.txt", "\n".join(notes) + "\n")
    md = run("analyze", tmp_path / "c", "--previous", tmp_path / "a", "--format", "md", "--clusters", "0").stdout
    assert f"- Inputs: rule set mini {c['ruleset']['hash'][:12]} · facts {c['facts']['hash'][:12]} (2 files) · " in md
    assert f"- Previous inputs: rule set mini {a['ruleset']['hash'][:12]} · facts {a['facts']['hash'][:12]} (2 files)" in md
    r = run("report", tmp_path / "c", "--previous", tmp_path / "a", "--out", tmp_path / "r.html", "--clusters", "0")
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "数据来源与方法版本 · Provenance" in html
    for p in (a, c):
        assert p["ruleset"]["hash"][:12] in html and p["facts"]["hash"][:12] in html
    assert "the previous results come from another rule set" in html and "other facts" in html


def test_diff_records_the_hashes_score_records(mini, tmp_path):
    rules, facts = mini
    prov = score(rules, facts, tmp_path / "a")
    r = run("diff", rules, rules, "--facts", facts, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["old"]["hash"] == doc["new"]["hash"] == prov["ruleset"]["hash"]
    assert doc["old"]["facts_hash"] == doc["new"]["facts_hash"] == prov["facts"]["hash"]
    text = run("diff", rules, rules, "--facts", facts).stdout
    short_r, short_f = prov["ruleset"]["hash"][:12], prov["facts"]["hash"][:12]
    assert f"hashes      rules {short_r} → {short_r}; facts {short_f} → {short_f}" in text


def test_results_without_provenance_are_said_so():
    from govindex.provenance import differences

    prov = {"ruleset": {"name": "x", "hash": "ab" * 32}, "facts": {"hash": "cd" * 32, "files": []}}
    assert differences(None, None) == []  # results written before provenance: nothing new to say
    assert differences(prov, None) == ["the previous results carry no provenance (written before govindex recorded "
                                       "it): whether both come from the same rule set and facts is unknown"]
    one = {"path": "t.csv", "sha256": "00"}
    a = {**prov, "facts": {"hash": "1", "files": [one]}}
    b = {**prov, "facts": {"hash": "2", "files": [one, {"path": "u.csv", "sha256": "11"}]}}
    a["ruleset"] = {"name": "y", "hash": "ef" * 32}
    assert differences(a, b)[1].startswith("both results read the same facts where they read the same files")


def test_the_report_block_renders_in_chromium(mini, tmp_path):
    from tests.test_report import ARGS, _chromium

    exe = _chromium()
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    rules, facts = mini
    a = score(rules, facts, tmp_path / "a")
    (rules / "mini.rules").write_text((rules / "mini.rules").read_text(encoding="utf-8").replace("cap: 4", "cap: 5"),
                                      encoding="utf-8")
    b = score(rules, facts, tmp_path / "b")
    page = tmp_path / "r.html"
    assert run("report", tmp_path / "b", "--previous", tmp_path / "a", "--out", page, "--clusters", "0").exit_code == 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            tab.goto(page.as_uri(), wait_until="load")
            block = tab.locator("#provenance")
            box = block.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            rows = [[c.strip() for c in r.locator("td").all_inner_texts()] for r in block.locator("tbody tr").all()]
            notes = tab.inner_text("#notes")
        finally:
            browser.close()
    got = {r[0]: r[1:] for r in rows}
    assert got["规则集 Rule set"] == [f"mini · {b['ruleset']['hash'][:12]}", f"mini · {a['ruleset']['hash'][:12]}"]
    assert got["数据 Facts"] == [f"{a['facts']['hash'][:12]} · 3 个文件 files · 9 行 rows"] * 2
    assert got["引擎 Engine"] == [f"govindex {a['govindex']}"] * 2 and got["更正 Overrides applied"] == ["0", "0"]
    assert "the previous results come from another rule set" in notes and "every change is the method's" in notes


def test_an_overrides_file_is_part_of_the_facts(mini):
    from govindex.check.run import load
    from govindex.eval.explain import load_sources
    from govindex.provenance import facts_manifest

    rules, facts = mini
    rs = load(rules)
    before = facts_manifest(rs, facts, load_sources(rs, facts))
    (facts / "overrides.csv").write_text("unit,point,round,value,status,reason,by,at,reference\n"
                                         "100100,portal,2,0,,申诉复核,张三,2026-12-01,复核函1号\n", encoding="utf-8")
    after = facts_manifest(rs, facts, load_sources(rs, facts))
    added = [f for f in after["files"] if f not in before["files"]]
    assert [(f["table"], f["path"], f["rows"]) for f in added] == [(None, "overrides.csv", 1)]
    assert after["hash"] != before["hash"] and after["tables"] == before["tables"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="abc/=_.", min_size=1, max_size=8), st.integers(0, 10**9),
                          st.binary(min_size=1, max_size=8)), min_size=1, max_size=6, unique_by=lambda t: t[0]),
       st.randoms(use_true_random=False), st.data())
def test_the_facts_hash_is_the_set_of_files(files, rnd, data):
    from govindex.provenance import facts_hash

    entries = [{"path": p, "bytes": n, "sha256": hashlib.sha256(b).hexdigest(), "rows": 1} for p, n, b in files]
    shuffled = entries[:]
    rnd.shuffle(shuffled)
    assert facts_hash(shuffled) == facts_hash(entries)  # the order files are listed in is not the data
    assert facts_hash([{**e, "rows": 7} for e in entries]) == facts_hash(entries)  # rows are derived, not hashed
    k = data.draw(st.integers(0, len(entries) - 1))
    changed = [dict(e) for e in entries]
    changed[k]["sha256"] = hashlib.sha256(changed[k]["sha256"].encode()).hexdigest()
    assert facts_hash(changed) != facts_hash(entries)
    assert facts_hash(entries[:k] + entries[k + 1:]) != facts_hash(entries)


def test_the_parquet_key_is_one_name():
    from govindex import provenance, results

    assert results.PROVENANCE_KEY == provenance.KEY == "govindex.provenance"
