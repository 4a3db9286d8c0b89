"""Resuming an interrupted crawl (govindex.collect.crawl, govindex.collect.frontier): after an exception, a cancelled
task, Ctrl-C or a killed process, the same call finishes the round with the index an
uninterrupted crawl gives — same URLs and depths, no duplicate rows, nothing stored refetched."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, CrawlProgress, crawl, crawl_sync, round_dir
from govindex.collect.fetch import FetchConfig
from govindex.collect.index import read_index
from govindex.collect.warc import iter_records
from tests.conftest import ROOT
from tests.webservers import Page, Site, html

N = 30
KEY = ["unit", "kind", "site", "url", "final_url", "depth", "status", "error", "content_hash"]


def tree(n: int, charset: str) -> dict[str, Page]:
    """Page i links to its children 2i+1, 2i+2, back to i // 3 and home; some links redirect."""
    routes: dict[str, Page] = {}
    for i in range(n):
        links = [f"/p{j}.html" if j else "/" for j in (2 * i + 1, 2 * i + 2, i // 3) if j < n] + [f"/go{i}"]
        body = html(f"第{i}页", *links, body="政府信息公开。" * (i % 5 + 1), charset=charset)
        routes["/" if i == 0 else f"/p{i}.html"] = Page(body.encode(charset),
                                                        headers={"Content-Type": "text/html"})
        routes[f"/go{i}"] = Page(status=302, headers={"Location": f"/p{(i * 7) % n or 1}.html"})
    return routes


@pytest.fixture(scope="module")
def servers() -> Iterator[list[Site]]:
    started = [Site("127.0.0.2", tree(N, "utf-8")), Site("127.0.0.3", tree(N, "gbk"))]
    for s in started:
        s.__enter__()
    yield started
    for s in started:
        s.__exit__()


@pytest.fixture
def sites(servers: list[Site]) -> list[Site]:
    """The two sites with their hit counters reset."""
    reset(servers)
    return servers


def channels(sites: list[Site]) -> list[Channel]:
    return [Channel(unit=f"U{i}", kind="portal", url=s.url("/"), name="") for i, s in enumerate(sites)]


def config(**update: object) -> CrawlConfig:
    base = CrawlConfig(delay=0, allow_loopback=True, index_batch=8, concurrency=1,
                       fetch=FetchConfig(deadline=5, retries=0))
    return base.model_copy(update=update)


def snapshot(out: Path) -> pl.DataFrame:
    return read_index(round_dir(out, 1) / "index").select(KEY).sort(["unit", "url"])


def hits(sites: list[Site]) -> Counter[str]:
    return Counter({f"{s.host}{p}": n for s in sites for p, n in s.page_hits().items()})


def reset(sites: list[Site]) -> None:
    for s in sites:
        s.hits.clear()


BASE_HITS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def uninterrupted(servers: list[Site], tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The index of an uninterrupted crawl; its server hits go to BASE_HITS (a redirect's target
    counts again when it is also linked directly)."""
    reset(servers)
    out = tmp_path_factory.mktemp("baseline")
    crawl_sync(channels(servers), 1, out, config())
    BASE_HITS.clear()
    BASE_HITS.update(hits(servers))
    return snapshot(out)


@pytest.fixture
def baseline(uninterrupted: pl.DataFrame, sites: list[Site]) -> pl.DataFrame:
    return uninterrupted


class Stop(Exception):
    pass


def path_of(url: str) -> str:
    return url.removeprefix("http://").split(":")[0] + "/" + url.split("/", 3)[3]


def assert_nothing_stored_was_refetched(sites: list[Site], stored: pl.DataFrame, in_flight: int = 1) -> None:
    """Both runs together hit the servers as one uninterrupted crawl did, but for the requests in
    flight when the crawl stopped (at most ``in_flight`` per site); a stored page was never
    requested again."""
    extra = hits(sites) - BASE_HITS
    assert sum(extra.values()) <= in_flight * len(sites), extra
    assert not {path_of(u) for u in stored["url"].to_list()} & set(extra), extra


@pytest.mark.parametrize("k", [1, 7, 50])
def test_resume_after_an_exception(sites: list[Site], baseline: pl.DataFrame, tmp_path: Path, k: int) -> None:
    def stop_at_k(event: CrawlProgress) -> None:
        if event.fetched == k:
            raise Stop

    with pytest.raises(Stop):
        crawl_sync(channels(sites), 1, tmp_path, config(), progress=stop_at_k)
    stored = snapshot(tmp_path)
    assert stored.height == k  # the batch in hand was committed
    summary = crawl_sync(channels(sites), 1, tmp_path, config())
    assert summary.fetched_now == baseline.height - k and summary.pages == baseline.height
    assert snapshot(tmp_path).equals(baseline)
    assert_nothing_stored_was_refetched(sites, stored)
    again = crawl_sync(channels(sites), 1, tmp_path, config())  # a finished round does nothing more
    assert again.fetched_now == 0 and snapshot(tmp_path).equals(baseline)


def test_resume_after_cancelling_the_task(sites: list[Site], baseline: pl.DataFrame, tmp_path: Path) -> None:
    async def interrupted() -> None:
        task = asyncio.current_task()
        assert task is not None

        def cancel_at_k(event: CrawlProgress) -> None:
            if event.fetched == 17:
                task.cancel()

        await crawl(channels(sites), 1, tmp_path, config(concurrency=8), progress=cancel_at_k)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(interrupted())
    stored = snapshot(tmp_path)
    crawl_sync(channels(sites), 1, tmp_path, config(concurrency=8))
    assert snapshot(tmp_path).equals(baseline)
    assert_nothing_stored_was_refetched(sites, stored, in_flight=2)  # a redirect and its target


CHILD = """
import os, signal, sys
from pathlib import Path
from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, crawl_sync
from govindex.collect.fetch import FetchConfig

urls, out, k, how = sys.argv[1].split(","), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
chans = [Channel(unit=f"U{i}", kind="portal", url=u, name="") for i, u in enumerate(urls)]
config = CrawlConfig(delay=0, allow_loopback=True, index_batch=8, concurrency=1, fetch=FetchConfig(deadline=5, retries=0))

def progress(event):
    if event.fetched == k:
        os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGINT)

crawl_sync(chans, 1, out, config, progress)
"""


def run_child(sites: list[Site], out: Path, k: int, how: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", textwrap.dedent(CHILD), ",".join(s.url("/") for s in sites), str(out), str(k), how]
    return subprocess.run(args, env=env, capture_output=True, timeout=60).returncode


def test_resume_after_ctrl_c(sites: list[Site], baseline: pl.DataFrame, tmp_path: Path) -> None:
    code = run_child(sites, tmp_path, 30, "int")
    assert code != 0
    stored = snapshot(tmp_path)
    assert stored.height >= 30  # Ctrl-C committed the batch in hand
    crawl_sync(channels(sites), 1, tmp_path, config())
    assert snapshot(tmp_path).equals(baseline)
    assert_nothing_stored_was_refetched(sites, stored, in_flight=2)


def test_resume_after_the_process_is_killed(sites: list[Site], baseline: pl.DataFrame, tmp_path: Path) -> None:
    assert run_child(sites, tmp_path, 30, "kill") == -signal.SIGKILL
    stored = snapshot(tmp_path)
    assert 22 <= stored.height < 30  # rows of the last unfinished batch are lost with the process …
    with open(round_dir(tmp_path, 1) / "frontier.jsonl", "ab") as fh:
        fh.write(b'{"t":"add","u":"U0"')  # … and a torn journal line is survived
    crawl_sync(channels(sites), 1, tmp_path, config())
    assert snapshot(tmp_path).equals(baseline)  # … they are fetched again, not duplicated
    assert_nothing_stored_was_refetched(sites, stored, in_flight=2 * (30 - stored.height) + 1)


def test_archive_holds_every_row_after_resume(sites: list[Site], tmp_path: Path) -> None:
    def stop_at_20(event: CrawlProgress) -> None:
        if event.fetched == 20:
            raise Stop

    with pytest.raises(Stop):
        crawl_sync(channels(sites), 1, tmp_path, config(), progress=stop_at_20)
    crawl_sync(channels(sites), 1, tmp_path, config())
    base = round_dir(tmp_path, 1)
    rows = read_index(base / "index").filter(pl.col("content_hash").is_not_null()).to_dicts()
    sent = {f"{s.host}:{s.port}{p}": r.raw() for s in sites for p, r in s.routes.items()}
    files = {r["warc_file"] for r in rows}
    assert len(files) == 2  # one WARC file per run: never appended to after a restart
    for row, record in iter_records(rows, base / "warc"):
        assert record.body == sent[row["final_url"].removeprefix("http://")]


def response_records(warc_dir: Path) -> Counter[str]:
    """Response records per target URL in every WARC file of the round (torn tails end a file)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    found: Counter[str] = Counter()
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as fh:
            try:
                for rec in ArchiveIterator(fh):
                    if rec.rec_type == "response":
                        found[rec.rec_headers.get_header("WARC-Target-URI")] += 1
            except (ArchiveLoadFailed, EOFError, OSError, ValueError):
                pass  # a record torn by the kill: not a record
    return found


BASE_RECORDS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def uninterrupted_records(uninterrupted: pl.DataFrame, servers: list[Site], tmp_path_factory: pytest.TempPathFactory
                          ) -> Counter[str]:
    out = tmp_path_factory.mktemp("records")
    crawl_sync(channels(servers), 1, out, config())
    return response_records(round_dir(out, 1) / "warc")


@pytest.mark.parametrize("kills", [(12, 9), (30,), (5, 13)])  # 5: killed before any commit
def test_no_duplicate_records_after_kills(sites: list[Site], baseline: pl.DataFrame, uninterrupted_records: Counter[str],
                                          tmp_path: Path, kills: tuple[int, ...]) -> None:
    for k in kills:  # SIGKILL after k more pages, again and again, then a run to the end
        assert run_child(sites, tmp_path, k, "kill") == -signal.SIGKILL
    summary = crawl_sync(channels(sites), 1, tmp_path, config())
    assert snapshot(tmp_path).equals(baseline)
    records = response_records(round_dir(tmp_path, 1) / "warc")
    assert records == uninterrupted_records  # what an uninterrupted crawl stores, once: robots.txt included
    assert sum(n for u, n in records.items() if u.endswith("/robots.txt")) == len(sites)
    assert summary.discarded >= 1  # the last kill's uncommitted records were cut, and said so
