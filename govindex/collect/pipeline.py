"""From the raw archive to fact tables: ``extract_round`` re-derives a round's ``pages`` and
``interactions`` (and the cleaning counts) from the crawl index and its WARC files — after a
rule change, without crawling again.

Layout under the facts directory::

    crawl/round=N/{warc,index,frontier.jsonl}   the archive (govindex.collect.crawl)
    pages/round=N/part-0.parquet               extracted, cleaned, marked
    interactions/round=N/part-crawl.parquet    letters from 领导信箱-style listings
    dropped/page_content/round=N/part-0.parquet rows cleaning removed, with their reason
    cleaning/round=N.json                      counts by reason
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from selectolax.lexbor import LexborHTMLParser

from govindex.collect.charset import decode
from govindex.collect.errors import ProbesError
from govindex.collect.extract import content_hash, extract, parse_html, raw_frame
from govindex.collect.index import read_index
from govindex.collect.warc import iter_records
from govindex.fsio import commit
from govindex.ir import RuleSet

RAW_TABLE = "page_content"
# Listing pages of letters: a table whose header names a submit date and a reply date.
_SUBMIT = ("来信时间", "来信日期", "提交时间", "咨询时间", "投诉时间", "留言时间")
_REPLY = ("回复时间", "答复时间", "办结时间", "回复日期")
_CHANNEL = (("信箱", "mailbox"), ("咨询", "consult"), ("投诉", "complaint"), ("12345", "hotline"), ("热线", "hotline"))
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")


@dataclass
class ExtractReport:
    round: int
    pages: int = 0
    failed: int = 0
    interactions: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason id → rows
    labels: dict[str, str] = field(default_factory=dict)  # reason id → label
    elapsed: float = 0.0

    def summary(self) -> str:
        drops = ", ".join(f"{self.labels.get(k, k)} {v}" for k, v in self.dropped.items()) or "none"
        return (f"round {self.round}: {self.pages} page rows ({self.failed} failed fetches kept as such), "
                f"{self.interactions} letters; cleaning dropped: {drops} ({self.elapsed:.1f}s)")


def extract_round(rs: RuleSet, round_no: int, facts_dir: Path,
                  progress: Callable[[int, int], None] | None = None) -> ExtractReport:
    """Re-derive round ``round_no``'s fact rows from the archive under ``facts_dir``; ``progress(done,
    total)`` is called after each archived record is read and parsed (the long part of the work)."""
    t0 = datetime.now()
    if RAW_TABLE not in rs.tables:
        raise ProbesError(f"the rule set declares no `{RAW_TABLE}` table: extraction has nothing to fill")
    base = facts_dir / "crawl" / f"round={round_no}"
    index = read_index(base / "index")
    if index.is_empty():
        raise ProbesError(f"no crawl archive for round {round_no} under {base} (run `govindex collect` first)")
    rows, letters = [], []
    for row, record in iter_records(index.to_dicts(), base / "warc"):
        raw = _raw_row(row, record.body, round_no)
        rows.append(raw)
        if raw["status"] and 200 <= raw["status"] < 400 and record.body:
            letters += _letters(row, record.body, round_no)
        if progress is not None:
            progress(len(rows), index.height)
    report = ExtractReport(round_no)
    ex = extract(rs, raw_frame(rs, RAW_TABLE, rows), RAW_TABLE)
    report.labels = {c.id: c.label for c in rs.cleaning}
    files = _outputs(rs, ex, letters, facts_dir, report)
    # Pages, dropped rows, letters and counts of one extraction are one change: all or none of them
    # (a journaled commit; a kill leaves the previous extraction, or the next run completes this one).
    commit(facts_dir, files)
    report.pages = ex.rows.height
    report.failed = int(ex.rows.filter(pl.col("error").fill_null("") != "").height) if "error" in ex.rows.columns else 0
    report.dropped = ex.counts
    report.elapsed = (datetime.now() - t0).total_seconds()
    return report


def _outputs(rs: RuleSet, ex, letters: list[dict], facts_dir: Path, report: ExtractReport) -> dict:
    """The files of one extraction: pages, dropped rows, cleaning counts and (if declared) letters."""
    n = report.round
    counts = {"round": n, "dropped": {k: {"label": report.labels.get(k, k), "rows": v} for k, v in ex.counts.items()}}
    files = {facts_dir / "pages" / f"round={n}" / "part-0.parquet": _parquet(ex.rows.sort("unit", "url")),
             facts_dir / "dropped" / RAW_TABLE / f"round={n}" / "part-0.parquet": _parquet(ex.dropped),
             facts_dir / "cleaning" / f"round={n}.json": json.dumps(counts, ensure_ascii=False, indent=1)}
    if "interactions" in rs.tables:
        frame = _interactions_frame(rs, letters)
        files[facts_dir / "interactions" / f"round={n}" / "part-crawl.parquet"] = _parquet(frame)
        report.interactions = frame.height
    return files


def _parquet(df: pl.DataFrame):
    """A writer of ``df`` as a partition file (zstd, as every partition govindex writes)."""
    return lambda path: df.write_parquet(path, compression="zstd")


def _raw_row(row: Mapping[str, Any], body: bytes, round_no: int) -> dict:
    out = {"unit": row["unit"], "round": round_no, "site": row.get("kind") or "", "url": row["url"],
           "final_url": row.get("final_url") or row["url"], "depth": row.get("depth"), "status": row.get("status") or 0,
           "error": row.get("error") or "", "fetched": row.get("fetched"),
           "content_hash": row.get("content_hash") or (content_hash(body) if body else None)}
    ctype = (row.get("content_type") or "").lower()
    if body and not out["error"] and ("html" in ctype or not ctype):
        fields = parse_html(decode(body, row.get("content_type")).text, out["final_url"])
        out.update(title=fields.title, text=fields.text, link_texts=fields.link_texts, link_urls=fields.link_urls,
                   meta=fields.meta, headings=fields.headings)
    else:
        out.update(title="", text="", link_texts=[], link_urls=[], meta="", headings=[])
    return out


def _date(s: str) -> datetime | None:
    m = _DATE.search(s or "")
    return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _letters(row: Mapping[str, Any], body: bytes, round_no: int) -> list[dict]:
    """Rows of a letters listing table (标题 · 来信时间 · 回复时间 …), if the page has one."""
    tree = LexborHTMLParser(decode(body, row.get("content_type")).text)
    out = []
    heading = " ".join(h.text() for h in tree.css("h1, title"))
    channel = next((c for k, c in _CHANNEL if k in heading), "mailbox")
    for tbl in tree.css("table"):
        first = tbl.css_first("tr")
        head = [th.text(strip=True) for th in first.css("th")] if first is not None else []
        s = next((i for i, h in enumerate(head) if h in _SUBMIT), None)
        r = next((i for i, h in enumerate(head) if h in _REPLY), None)
        if s is None or r is None:
            continue
        cat = next((i for i, h in enumerate(head) if h in ("类别", "类型", "分类")), None)
        for tr in tbl.css("tr")[1:]:
            cells = tr.css("td")
            if len(cells) <= max(s, r):
                continue
            submitted = _date(cells[s].text())
            if submitted is None:
                continue
            out.append({"unit": row["unit"], "round": round_no, "channel": channel,
                        "category": cells[cat].text(strip=True) if cat is not None else "",
                        "submitted": submitted, "replied": _date(cells[r].text()),
                        "public": bool(cells[0].css_first("a[href]")), "markers": [],
                        "__key": (row["unit"], channel, *(c.text(strip=True) for c in cells), _href(cells[0]))})
    return out


def _href(cell) -> str:
    link = cell.css_first("a[href]")
    return (link.attributes.get("href") or "") if link is not None else ""


def _interactions_frame(rs: RuleSet, letters: list[dict]) -> pl.DataFrame:
    seen, unique = set(), []
    for le in letters:  # a letter listed on two pages (or two crawls of one page) counts once
        if le["__key"] not in seen:
            seen.add(le["__key"])
            unique.append(le)
    return raw_frame(rs, "interactions", unique).sort("unit", "submitted")
