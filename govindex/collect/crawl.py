"""The crawler: every web channel of every unit, breadth-first, politely, resumably.

``crawl(channels, round_no, out_dir, config)`` fetches each web channel (portal, service,
opendata, mobile) level by level to ``max_depth``, staying in the site's scope, and writes every
outcome — page or failure — to the round's archive::

    OUT/crawl/round=N/warc/*.warc.gz     every response and failure (govindex.collect.warc)
    OUT/crawl/round=N/index/*.parquet    one row per URL decided about (govindex.collect.index)
    OUT/crawl/round=N/frontier.jsonl     the append-only frontier journal (govindex.collect.frontier)

Resuming: run the same call again. The journal rebuilds every site's frontier; the index says
which URLs are done; only the rest is fetched, and no row is written twice. Index rows are
committed in batches after the WARC records and journal lines they depend on are on disk, and
the batch in hand is committed when the crawl is interrupted (Ctrl-C, a cancelled task, an
exception from the progress callback). A killed crawl loses its uncommitted batch: on resume the
WARC records no index row points at are cut off (:func:`govindex.collect.warc.cut_uncommitted`,
counted in ``CrawlSummary.discarded``) before those pages are fetched again, so the archive holds
each fetch once. robots.txt answers are read back from the archive, not fetched again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from govindex.collect import charset
from govindex.collect.channels import Channel
from govindex.collect.errors import ArchiveError, ErrorKind
from govindex.collect.fetch import FetchConfig, Fetcher, FetchResult
from govindex.collect.frontier import Frontier, Limits, SiteState
from govindex.collect.guard import AddressGuard
from govindex.collect.index import IndexWriter, read_index
from govindex.collect.links import extract_links
from govindex.collect.politeness import Gates
from govindex.collect.robots import MAX_BYTES as ROBOTS_MAX_BYTES
from govindex.collect.robots import RobotsCache, origin_of, settles
from govindex.collect.urls import canonicalize, host_of
from govindex.collect.warc import Record, Stored, WarcWriter, cut_uncommitted, read_record

ASSETS = ("css", "js", "jpg", "jpeg", "png", "gif", "bmp", "ico", "svg", "webp", "woff", "woff2", "ttf",
          "eot", "mp3", "mp4", "avi", "flv", "wmv", "mov", "swf", "zip", "rar", "7z", "gz", "exe", "apk", "iso")
HTML_TYPES = ("text/html", "application/xhtml+xml")


class CrawlConfig(BaseModel):
    """How a crawl behaves. Politeness defaults follow Scrapy's: robots obeyed, one request in
    flight per host, a delay between requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_depth: int = Field(6, ge=0, description="link levels below the start page")
    max_pages: int = Field(2000, ge=1, description="URLs queued per site")
    max_per_shape: int = Field(500, ge=1, description="URLs per shape (digits masked) per site")
    per_host: int = Field(1, ge=1, description="requests in flight per host")
    delay: float = Field(1.0, ge=0, description="seconds between request starts on one host")
    max_delay: float = Field(30.0, ge=0, description="cap on a robots.txt Crawl-delay")
    concurrency: int = Field(32, ge=1, description="requests in flight in all")
    obey_robots: bool = True
    allow_loopback: bool = False
    allow_networks: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = Field((), description="hosts (or .domain) in every site's scope")
    skip_extensions: tuple[str, ...] = ASSETS
    index_batch: int = Field(200, ge=1, description="rows per committed index batch")
    warc_max_size: int = Field(1 << 30, ge=1 << 16)
    fetch: FetchConfig = FetchConfig()


@dataclass(frozen=True, slots=True)
class CrawlProgress:
    """A snapshot for progress bars, sent after every page and every finished site."""

    sites_total: int
    sites_done: int
    pages: int  # rows in the index, this run and earlier ones
    fetched: int  # rows written by this run
    errors: int  # rows with an error, this run
    unit: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """What a round's crawl holds once the call returns (all runs of a resumed crawl together)."""

    round: int
    sites: int
    pages: int
    fetched_now: int
    by_status: dict[int, int]
    by_error: dict[str, int]
    skipped: dict[str, int]  # URLs turned away by caps and trap rules, this run
    collection_rate: dict[str, float]  # unit → share of its web channels whose start page came OK
    elapsed: float
    out: Path
    discarded: int = 0  # WARC records of a killed run that no index row pointed at, cut before fetching again

    @property
    def pages_per_second(self) -> float:
        """Rows written by this run per second of wall time."""
        return self.fetched_now / self.elapsed if self.elapsed > 0 else 0.0


Progress = Callable[[CrawlProgress], None]


@dataclass
class _Run:
    """The mutable state of one call."""

    config: CrawlConfig
    round_no: int
    frontier: Frontier
    index: IndexWriter
    warc: WarcWriter
    fetcher: Fetcher
    robots: RobotsCache
    gates: Gates
    progress: Progress | None
    sites_total: int
    pages_before: int
    everything: asyncio.Semaphore
    sites_done: int = 0
    discarded: int = 0
    fetched: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)


def round_dir(out_dir: Path, round_no: int) -> Path:
    """Where a round's crawl state lives: ``OUT/crawl/round=N``."""
    return out_dir / "crawl" / f"round={round_no}"


async def crawl(channels: Sequence[Channel], round_no: int, out_dir: Path, config: CrawlConfig | None = None,
                progress: Progress | None = None, transport: httpx.AsyncBaseTransport | None = None) -> CrawlSummary:
    """Crawl every web channel into ``OUT/crawl/round=N``; resume if that directory holds a crawl."""
    config = config or CrawlConfig()
    base = round_dir(out_dir, round_no)
    done = read_index(base / "index")
    cut = cut_uncommitted(base / "warc", warc_prefix(round_no), _committed_ends(done))
    run = _open(config, round_no, base, progress, transport, done.height)
    run.discarded = cut.records
    try:
        sites = _sites(run, channels, done)
        run.sites_total = len(sites)
        await _all([_crawl_site(run, s) for s in sites])
        run.index.compact()
    finally:
        run.robots.close()
        run.index.flush()
        run.warc.close()
        run.frontier.close()
        await run.fetcher.aclose()
    return _summary(run, channels, base)


def warc_prefix(round_no: int) -> str:
    """The name every WARC file of round ``round_no`` starts with."""
    return f"govindex-round{round_no}"


def _committed_ends(done: pl.DataFrame) -> dict[str, int]:
    """WARC file → the end of the last record a committed index row points at."""
    ends = done.group_by("warc_file").agg((pl.col("offset") + pl.col("length")).max().alias("end"))
    return dict(zip(ends["warc_file"].to_list(), ends["end"].to_list()))


def _open(config: CrawlConfig, round_no: int, base: Path, progress: Progress | None,
          transport: httpx.AsyncBaseTransport | None, pages_before: int) -> _Run:
    limits = Limits(config.max_depth, config.max_pages, config.max_per_shape, frozenset(config.skip_extensions))
    frontier = Frontier(base / "frontier.jsonl", limits, config.extra_hosts)
    warc = WarcWriter(base / "warc", warc_prefix(round_no), config.warc_max_size)

    def before_commit() -> None:  # index rows never point at records or journal lines not on disk
        warc.flush()
        frontier.sync()

    guard = AddressGuard(allow_loopback=config.allow_loopback, allow=config.allow_networks)
    # robots.txt goes through the run's gates and archive; the closure sees `run` once it exists
    robots = RobotsCache(lambda url: _robots_fetch(run, url), config.fetch.user_agent)
    run = _Run(config, round_no, frontier, IndexWriter(base / "index", before_commit, config.index_batch), warc,
               Fetcher(config.fetch, guard, transport, max_connections=config.concurrency), robots,
               Gates(config.per_host, config.delay, config.max_delay), progress, 0, pages_before,
               asyncio.Semaphore(config.concurrency))
    return run


def crawl_sync(channels: Sequence[Channel], round_no: int, out_dir: Path, config: CrawlConfig | None = None,
               progress: Progress | None = None, transport: httpx.AsyncBaseTransport | None = None) -> CrawlSummary:
    """:func:`crawl` for synchronous callers (the CLI); Ctrl-C commits what was fetched."""
    return asyncio.run(crawl(channels, round_no, out_dir, config, progress, transport))


def _sites(run: _Run, channels: Sequence[Channel], done: pl.DataFrame) -> list[SiteState]:
    keys = set(zip(done["unit"].to_list(), done["kind"].to_list(), done["site"].to_list(), done["url"].to_list()))
    sites: dict[tuple[str, str, str], SiteState] = {}
    for ch in channels:
        start = canonicalize(ch.url) if ch.is_web else None
        if start is not None:
            state = run.frontier.site(ch.unit, ch.kind.value, start)
            sites[state.key] = state
    for unit, kind, site, url in keys:
        if (unit, kind, site) in sites:
            sites[(unit, kind, site)].done.add(url)
    return list(sites.values())


async def _all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` concurrently; on the first exception cancel the rest and raise it unwrapped."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        for finished in asyncio.as_completed(tasks):
            await finished
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _crawl_site(run: _Run, state: SiteState) -> None:
    if not state.finished():
        for depth in range(run.config.max_depth + 1):
            queue: asyncio.Queue[str] = asyncio.Queue()
            for url in state.pending(depth):
                queue.put_nowait(url)
            if queue.empty():
                continue
            workers = min(run.config.per_host, queue.qsize())
            await _all([_worker(run, state, depth, queue) for _ in range(workers)])
    run.skipped.update(run.frontier.release(state))
    run.sites_done += 1
    _report(run, state.unit, "")


async def _worker(run: _Run, state: SiteState, depth: int, queue: asyncio.Queue[str]) -> None:
    while not queue.empty():
        url = queue.get_nowait()
        result = await _visit(run, state, url, depth)
        _record(run, state, depth, result)


async def _visit(run: _Run, state: SiteState, url: str, depth: int) -> FetchResult:
    refusal = await run.robots.refusal(url) if run.config.obey_robots else None
    if refusal is not None:
        return FetchResult(url, url, None, (), b"", None, None, refusal[0], refusal[1], 0.0, (), datetime.now(UTC))
    host = host_of(url)
    if run.config.obey_robots:
        run.gates.floor(host, await run.robots.delay(url))
    gate = run.gates[host]
    async with gate.admit(), run.everything:
        result = await run.fetcher.fetch(url, scope=None if depth == 0 else state.scope)
    if result.retry_after:
        gate.hold(min(result.retry_after, run.config.fetch.retry_after_max))
    return result


async def _robots_fetch(run: _Run, url: str) -> FetchResult:
    archived = _archived_robots(run, url)
    if archived is not None:
        return archived
    async with run.gates[host_of(url)].admit(), run.everything:
        result = await run.fetcher.fetch(url, truncate=ROBOTS_MAX_BYTES)
    stored = run.warc.write_result(result)
    if settles(result):  # journaled once on disk: a resumed crawl reads it back instead of asking again
        run.warc.flush()
        run.frontier.robots_stored(origin_of(url), stored.warc_file, stored.offset, stored.length)
    return result


def _archived_robots(run: _Run, url: str) -> FetchResult | None:
    """The answer to robots.txt ``url`` stored by an earlier run of the round, if still in the archive
    (a record cut off with an uncommitted tail, or unreadable, is asked for again)."""
    where = run.frontier.robots.get(origin_of(url))
    if where is None:
        return None
    name, offset, length = where
    path = run.warc.directory / name
    try:
        if path.stat().st_size < offset + length:
            return None
        record = read_record(path, offset)
    except (OSError, ArchiveError):
        return None
    return _result_of(url, record) if record.status is not None else None


def _result_of(url: str, record: Record) -> FetchResult:
    assert record.status is not None  # a response record
    content_type = next((v for k, v in record.headers if k.lower() == "content-type"), None)
    decoded = charset.decode(record.body, content_type) if charset.is_text(content_type) else None
    error = ErrorKind.HTTP_5XX if record.status >= 500 else ErrorKind.HTTP_4XX if record.status >= 400 else None
    fetched = datetime.fromisoformat(record.date.replace("Z", "+00:00")) if record.date else datetime.now(UTC)
    return FetchResult(url, record.url, record.status, record.headers, record.body, decoded.text if decoded else None,
                       decoded.charset if decoded else None, error, "", 0.0, (), fetched, truncated=record.truncated)


def _record(run: _Run, state: SiteState, depth: int, result: FetchResult) -> None:
    stored = run.warc.write_result(result)
    if result.hops and result.error is None:
        run.frontier.redirected(state, result.final_url, depth)
    if result.ok and result.text is not None and depth < run.config.max_depth and _is_html(result):
        run.frontier.offer(state, depth + 1, extract_links(result.text, result.final_url))
    run.index.add(_row(run, state, depth, result, stored))
    state.done.add(result.url)
    run.fetched += 1
    run.errors += result.error is not None
    _report(run, state.unit, result.url)


def _is_html(result: FetchResult) -> bool:
    media = (result.content_type or "text/html").split(";")[0].strip().lower()
    return media in HTML_TYPES


def _row(run: _Run, state: SiteState, depth: int, result: FetchResult, stored: Stored) -> dict[str, Any]:
    has_body = result.status is not None and result.error in (None, ErrorKind.HTTP_4XX, ErrorKind.HTTP_5XX)
    return {
        "url": result.url, "final_url": result.final_url, "unit": state.unit, "site": state.site,
        "kind": state.kind, "round": run.round_no, "depth": depth, "status": result.status,
        "error": result.error.value if result.error else None, "message": result.message or None,
        "fetched": result.fetched.astimezone(UTC).replace(tzinfo=None), "warc_file": stored.warc_file,
        "offset": stored.offset, "length": stored.length,
        "content_type": result.content_type if has_body else None, "charset": result.charset,
        "content_hash": hashlib.sha256(result.body).hexdigest() if has_body else None,
    }


def _report(run: _Run, unit: str, url: str) -> None:
    if run.progress is not None:
        run.progress(CrawlProgress(run.sites_total, run.sites_done, run.pages_before + run.fetched, run.fetched,
                                   run.errors, unit, url))


def _summary(run: _Run, channels: Sequence[Channel], base: Path) -> CrawlSummary:
    rows = read_index(base / "index")
    statuses = Counter(s for s in rows["status"].to_list() if s is not None)
    errors = Counter(e for e in rows["error"].to_list() if e is not None)
    starts = rows.filter(rows["depth"] == 0)
    good = {(u, k, s) for u, k, s, st, e in zip(*(starts[c].to_list() for c in ("unit", "kind", "site", "status",
                                                                             "error"))) if e is None and st < 400}
    per_unit: dict[str, list[bool]] = {}
    for ch in channels:
        start = canonicalize(ch.url) if ch.is_web else None
        if start is not None:
            per_unit.setdefault(ch.unit, []).append((ch.unit, ch.kind.value, start) in good)
    return CrawlSummary(run.round_no, run.sites_total, rows.height, run.fetched, dict(statuses), dict(errors),
                        dict(run.skipped), {u: sum(v) / len(v) for u, v in per_unit.items()},
                        time.monotonic() - run.started, base, run.discarded)
