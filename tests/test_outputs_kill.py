"""kill -9 during ``score --out`` and ``extract`` (real ``govindex`` subprocesses that SIGKILL
themselves after the N-th filesystem step, GOVINDEX_FSIO_KILL_AFTER): afterwards the results
directory is the complete old or the complete new generation (``analyze`` agrees, never a mix), the
facts directory holds the old or the new extraction once the next run has rolled its journal, and
the next run leaves no ``.govindex-*`` temp behind. The red team's reproducer: a crash between two
renames left new CSV/JSON with old parquet/xlsx, ``analyze`` reported wrong figures with rc 0, and
temp directories stayed forever."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from govindex import fsio
from govindex.check.run import load
from govindex.cli import app
from govindex.collect.fetch import FetchResult
from govindex.collect.index import IndexWriter
from govindex.collect.pipeline import extract_round
from govindex.collect.warc import WarcWriter
from govindex.fsio import base
from tests.conftest import ROOT

MINI, FACTS = str(ROOT / "tests/fixtures/mini"), str(ROOT / "tests/fixtures/mini/facts")
RESULT_FILES = ["integrity.json", "provenance.json", "scores.csv", "scores.json", "scores.parquet", "scores.xlsx",
                "scores_long.parquet"]
# The same CLI with the two-rename swap (where renameat2 is missing): the window between the renames.
TWO_RENAMES = "import sys, govindex.fsio.base as b; b.EXCHANGE = False; from govindex.cli import main; main()"


def govindex(args: list[str], kill_after: int | None = None, exchange: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (fsio.KILL_ENV, fsio.TRACE_ENV)}
    if kill_after is not None:
        env[fsio.KILL_ENV] = str(kill_after)
    head = ["-m", "govindex.cli"] if exchange else ["-c", TWO_RENAMES]
    return subprocess.run([sys.executable, *head, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def traced(args: list[str], monkeypatch) -> list[str]:
    """The labels of the filesystem steps of one in-process run, in order."""
    monkeypatch.setenv(fsio.TRACE_ENV, "1")
    r = CliRunner().invoke(app, args)
    monkeypatch.delenv(fsio.TRACE_ENV)
    assert r.exit_code == 0, r.output
    return re.findall(r"^fsio step \d+: (.*)$", r.stderr, re.M)


def temps(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"{fsio.PREFIX}*"))


# --- score --out -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generations(tmp_path_factory):
    """An old results directory (all rounds), the new run's arguments (round 1 only) and both scores.json."""
    tmp = tmp_path_factory.mktemp("gens")
    old, new = tmp / "old", tmp / "new"
    for out, extra in ((old, []), (new, ["--round", "1"])):
        r = CliRunner().invoke(app, ["score", MINI, "--facts", FACTS, *extra, "--out", str(out)])
        assert r.exit_code == 0, r.output
    texts = [scores_of(d) for d in (old, new)]
    assert texts[0] != texts[1]
    return old, texts


def scores_of(out: Path) -> str:
    """scores.json without its provenance (which holds the time and command of each run)."""
    doc = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    doc.pop("provenance", None)
    return json.dumps(doc, ensure_ascii=False)


def new_args(out: Path) -> list[str]:
    return ["score", MINI, "--facts", FACTS, "--round", "1", "--out", str(out)]


def assert_one_generation(out: Path, texts: list[str]) -> None:
    """The directory is a complete generation: every file its manifest's, and the old or new scores."""
    gen, bad = fsio.check_manifest(out, RESULT_FILES)
    assert gen is not None and bad == [], bad
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULT_FILES, fsio.MANIFEST])
    assert scores_of(out) in texts


@pytest.fixture(scope="module")
def score_steps(generations, tmp_path_factory) -> list[str]:
    old, _ = generations
    work = tmp_path_factory.mktemp("count") / "out"
    shutil.copytree(old, work)
    with pytest.MonkeyPatch.context() as mp:
        labels = traced(new_args(work), mp)
    assert labels[0].startswith("mkdir") and labels[-1].startswith("remove") and len(labels) >= 10
    return labels


@pytest.mark.parametrize("k", range(1, 13))
def test_score_out_killed_at_step_k_leaves_one_generation(k, generations, score_steps, tmp_path):
    if k > len(score_steps):
        pytest.skip(f"score --out takes {len(score_steps)} steps")
    old, texts = generations
    out = tmp_path / "out"
    shutil.copytree(old, out)
    p = govindex(new_args(out), kill_after=k)
    assert p.returncode == -9, f"step {k} ({score_steps[k - 1]}) did not kill: {p.stderr}"
    assert_one_generation(out, texts)  # at once: the swap is one atomic exchange
    r = CliRunner().invoke(app, ["analyze", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert CliRunner().invoke(app, new_args(out)).exit_code == 0  # the next run
    assert temps(tmp_path) == []
    assert scores_of(out) == texts[1]


@pytest.mark.parametrize("label", ["rename out → ", "rename .govindex-out", "remove"])
def test_score_out_killed_between_two_renames_is_recovered(label, generations, score_steps, tmp_path):
    old, texts = generations
    out = tmp_path / "out"
    shutil.copytree(old, out)
    with pytest.MonkeyPatch.context() as mp:  # the two-rename swap's own steps
        mp.setattr(base, "EXCHANGE", False)
        scratch = tmp_path / "count" / "out"
        shutil.copytree(old, scratch)
        labels = traced(new_args(scratch), mp)
        shutil.rmtree(tmp_path / "count")
    k = next(i for i, s in enumerate(labels, 1) if s.startswith(label))
    p = govindex(new_args(out), kill_after=k, exchange=False)
    assert p.returncode == -9, p.stderr
    r = CliRunner().invoke(app, ["analyze", str(out), "--format", "json"])  # a reader finishes the swap
    assert r.exit_code == 0, r.output
    assert_one_generation(out, texts)
    if label != "rename out → ":  # killed after the old one was moved aside: the new one is complete
        assert scores_of(out) == texts[1]
    assert CliRunner().invoke(app, new_args(out)).exit_code == 0
    assert temps(tmp_path) == []


# --- extract -----------------------------------------------------------------------------------

WHEN = datetime(2019, 1, 5, 8, 30, tzinfo=UTC)
ROUND = 4


def archive(facts: Path, units: list[str], copies: bool = False) -> None:
    """A crawl archive (WARC + index) of three pages per unit, as `collect` leaves it; ``copies``: the
    three pages of a unit say the same (cleaning drops two as duplicates)."""
    base_dir = facts / "crawl" / f"round={ROUND}"
    warc = WarcWriter(base_dir / "warc", f"govindex-round{ROUND}")
    index = IndexWriter(base_dir / "index", warc.flush)
    for unit in units:
        for i in range(3):
            url = f"http://www.{unit}.gov.cn/p{i}.html"
            n = 0 if copies else i
            body = (f"<html><head><title>{unit} 第{n}页 政务公开</title></head><body><h1>在线办事</h1>"
                    f"<p>办事指南 {unit} {n}</p></body></html>").encode()
            stored = warc.write_result(FetchResult(
                url=url, final_url=url, status=200, headers=(("Content-Type", "text/html; charset=utf-8"),),
                body=body, text=None, charset="utf-8", error=None, message="", elapsed=0.1, hops=(),
                fetched=WHEN, reason="OK"))
            index.add({"url": url, "final_url": url, "unit": unit, "site": f"www.{unit}.gov.cn", "kind": "portal",
                       "round": ROUND, "depth": 0, "status": 200, "fetched": WHEN.replace(tzinfo=None),
                       "warc_file": stored.warc_file, "offset": stored.offset, "length": stored.length,
                       "content_type": "text/html", "charset": "utf-8",
                       "content_hash": hashlib.sha256(body).hexdigest()})
    index.flush()
    warc.close()


def extraction(facts: Path) -> dict:
    """What an extraction wrote: each file's rows (or JSON), by path."""
    out = {}
    for p in sorted(facts.rglob("*")):
        rel = str(p.relative_to(facts))
        if p.is_file() and not rel.startswith("crawl") and fsio.PREFIX not in rel:
            out[rel] = pl.read_parquet(p).rows() if p.suffix == ".parquet" else json.loads(p.read_text("utf-8"))
    return out


@pytest.fixture(scope="module")
def facts_generations(tmp_path_factory):
    """Facts extracted from a two-unit archive (old), the archive grown by a unit, both extractions
    and the labels of the new extraction's filesystem steps."""
    rs = load(ROOT / "rules/2019")
    tmp = tmp_path_factory.mktemp("facts")
    old = tmp / "old"
    archive(old, ["110100", "120100"])
    extract_round(rs, ROUND, old)
    grown = tmp / "grown"
    shutil.copytree(old, grown)
    archive(grown, ["130100"], copies=True)  # a second index batch: more rows, and rows dropped
    scratch = tmp / "scratch"
    shutil.copytree(grown, scratch)
    trace = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(trace):
        mp.setenv(fsio.TRACE_ENV, "1")
        extract_round(rs, ROUND, scratch)
    labels = re.findall(r"^fsio step \d+: (.*)$", trace.getvalue(), re.M)
    states = [extraction(old), extraction(scratch)]
    assert len(states[1]) == 4 and all(states[0][f] != states[1][f] for f in states[1] if "interactions" not in f)
    return rs, grown, states, labels


EXTRACT = ["extract", "rules/2019", "--round", str(ROUND), "--facts"]
# Where to kill an extraction: before, during and after the staging, at the commit point, mid-renames.
POINTS = {
    "plan": lambda ls: ls.index("plan"),
    "first-staged": lambda ls: next(i for i, s in enumerate(ls) if s.startswith("write")),
    "last-staged": lambda ls: ls.index("commit point") - 1,
    "commit-point": lambda ls: ls.index("commit point"),
    "first-rename": lambda ls: ls.index("commit point") + 1,
    "last-rename": lambda ls: max(i for i, s in enumerate(ls) if s.startswith("rename")),
    "journal-removed": lambda ls: len(ls) - 1,
}


@pytest.mark.parametrize("point", POINTS)
def test_extract_killed_leaves_the_old_or_the_new_extraction(point, facts_generations, tmp_path):
    rs, grown, states, labels = facts_generations
    k = POINTS[point](labels) + 1
    facts = tmp_path / "facts"
    shutil.copytree(grown, facts)
    p = govindex([*EXTRACT, str(facts)], kill_after=k)
    assert p.returncode == -9, f"step {k} ({labels[k - 1]}) did not kill: {p.stderr}"
    journal = any(facts.glob(".govindex-journal.*/journal.json"))  # past the commit point
    if not journal:  # before the commit point, or after all of it: the old or the new, whole, already
        assert extraction(facts) in states
    if point == "first-rename":  # mid-renames the files are a mix: the journal is what makes it whole
        assert journal and extraction(facts) not in states
    r = CliRunner().invoke(app, ["score", "rules/2019", "--facts", str(facts), "--round", str(ROUND)])
    assert "Traceback" not in r.output  # the next reader rolls the journal forward before reading
    assert extraction(facts) == states[1] if journal else extraction(facts) in states
    assert temps(facts) == []
    extract_round(rs, ROUND, facts)  # the next run
    assert extraction(facts) == states[1] and temps(facts) == []
