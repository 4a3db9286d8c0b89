"""Fetched pages → fact rows, with the markers and cleaning rules the rule set declares.

``parse_html`` reads one page into the fields of the raw extraction table (title, visible text,
link texts and URLs, meta, headings). ``extract`` takes those rows for many pages, applies the
rule set's ``clean`` rules in declaration order (each dropped row kept aside with its reason),
evaluates every ``marker`` once per row, and returns rows of the target table (``pages``) with
the ``markers`` list set. Pages are parsed, not fetched, here: I/O stays at the edges.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import polars as pl
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from govindex.eval.compile import row_condition
from govindex.eval.facts import schema
from govindex.ir import RuleSet

TEXT_LIMIT = 20_000
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class PageFields:
    title: str
    text: str
    link_texts: list[str]
    link_urls: list[str]
    meta: str
    headings: list[str]


def parse_html(html: str, base_url: str) -> PageFields:
    """The fields markers are written against, from one decoded HTML page."""
    tree = HTMLParser(html)
    base = tree.css_first("base[href]")
    base_url = urljoin(base_url, base.attributes.get("href") or "") if base else base_url
    title_node = tree.css_first("title")
    title = _clean(title_node.text()) if title_node else ""
    metas = []
    for m in tree.css("meta"):
        key = m.attributes.get("name") or m.attributes.get("property") or m.attributes.get("http-equiv")
        if key and m.attributes.get("content") is not None:
            metas.append(f"{key}={_clean(m.attributes.get('content') or '')}")
    link_texts, link_urls = [], []
    for a in tree.css("a[href]"):
        href = (a.attributes.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        link_urls.append(urljoin(base_url, href))
        link_texts.append(_clean(a.text() or a.attributes.get("title") or ""))
    headings = [_clean(h.text()) for h in tree.css("h1, h2, h3")]
    for junk in tree.css("script, style, noscript"):
        junk.decompose()
    body = tree.body
    text = _clean(body.text(separator=" ")) if body else ""
    return PageFields(title, text[:TEXT_LIMIT], link_texts, link_urls, "\n".join(metas), headings)


def _clean(s: str) -> str:
    return _WS.sub(" ", s).strip()


def content_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class Extracted:
    """Target-table rows, the rows cleaning dropped (with ``reason`` and ``reason_label``), and
    counts by reason."""

    rows: pl.DataFrame
    dropped: pl.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def raw_frame(rs: RuleSet, table: str, rows: list[dict]) -> pl.DataFrame:
    """Rows of the raw extraction table with exactly its declared columns and types."""
    sch = schema(rs, table)
    data = {c: [r.get(c) for r in rows] for c in sch}
    return pl.DataFrame(data, schema=sch)


_FIRST = ("unit", "url")


def dedupe_order(df: pl.DataFrame) -> list[str]:
    """The order in which ``dedupe`` keeps the first row of a group: unit code, then URL, then the
    other scalar columns in declared order. Times (when a page was fetched) and lists are left
    out: they differ between two crawls of the same pages, or cannot be ordered."""
    scalar = [c for c, t in df.schema.items() if not (t.is_nested() or t.is_temporal()) and not c.startswith("__")]
    return [c for c in _FIRST if c in scalar] + [c for c in scalar if c not in _FIRST]


def extract(rs: RuleSet, raw: pl.DataFrame, source: str, into: str = "pages") -> Extracted:
    """Clean, mark and reshape raw rows of ``source`` into rows of the ``into`` table."""
    df = raw.with_row_index("__row")
    dropped = []
    counts: dict[str, int] = {}
    for c in (c for c in rs.cleaning if c.table == source):
        if c.when is not None:
            hit = row_condition(rs, source, c.when)
        else:
            # "first" in a stable order, not crawl order: which unit keeps a page shared by several
            # must not depend on which site the crawl (or a resumed crawl) reached first
            df = df.sort(dedupe_order(df), nulls_last=True, maintain_order=True)
            hit = ~pl.struct(list(c.dedupe)).is_first_distinct() & pl.all_horizontal(
                [pl.col(k).is_not_null() for k in c.dedupe])
        gone = df.filter(hit)
        counts[c.id] = gone.height
        if gone.height:
            dropped.append(gone.with_columns(pl.lit(c.id).alias("reason"), pl.lit(c.label).alias("reason_label")))
        df = df.filter(~hit)
    marks = [m for m in rs.markers if m.table == source and m.into == into]
    columns = {m.into_column for m in marks}
    target = schema(rs, into)
    if marks:
        flags = [pl.when(row_condition(rs, source, m.where)).then(pl.lit(m.id)) for m in marks]
        df = df.with_columns(pl.concat_list(flags).list.drop_nulls().alias("__markers"))
    out = []
    for col, dtype in target.items():
        if col in columns:
            out.append(pl.col("__markers").cast(dtype).alias(col))
        elif col in df.columns:
            out.append(pl.col(col).cast(dtype))
        else:
            out.append(pl.lit(None, dtype).alias(col))
    rows = df.sort("__row").select(out)
    drop_frame = (pl.concat(dropped, how="vertical_relaxed").sort("__row").drop("__row") if dropped
                  else raw.clear().with_columns(pl.lit("").alias("reason"), pl.lit("").alias("reason_label")))
    return Extracted(rows, drop_frame, counts)


__all__ = ["Extracted", "PageFields", "content_hash", "dedupe_order", "extract", "parse_html", "raw_frame"]
