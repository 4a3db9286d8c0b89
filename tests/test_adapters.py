"""Source adapters: JSONL, CSV and a paginated HTTP API into `posts` / `search`, all or nothing."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest
from conftest import ROOT

from govindex.check.run import load
from govindex.collect.adapters import AdapterImportError, ApiSource, import_records
from govindex.diagnostics import UsageError
from govindex.eval.facts import scan


@pytest.fixture(scope="module")
def rs():
    return load(ROOT / "rules" / "2019")


def _post(unit: str, i: int, **kw) -> dict:
    rec = {"unit": unit, "platform": "weibo", "user": {"screen_name": f"{unit}发布"}, "post_id": i,
           "created_at": 1545697800 + i, "text": f"第{i}条", "topics": ["社保", "医疗"], "reposts": i,
           "comments": 0, "likes": 1}
    return rec | kw


MAPPING = {"account": "user.screen_name", "published": "created_at"}


def _jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def test_jsonl_posts(rs, tmp_path):
    src = _jsonl(tmp_path / "weibo.jsonl", [
        _post("130100", 1),
        _post("唐山市", 2, created_at="2018-12-25T08:30:00Z", topics="民生|社保", reposts="1.2万", likes=None),
        "",
        _post("130300", 3, created_at="2018-12-20", comments="1,234"),
    ])
    facts = tmp_path / "facts"
    report = import_records(rs, "posts", 1, src, facts, MAPPING)
    assert report.rows == 3 and report.units == 3 and report.skipped == 0
    assert report.path == facts / "posts" / "round=1" / "part-weibo.parquet"
    rows = {r["post_id"]: r for r in scan(rs, facts, "posts").collect().to_dicts()}
    assert rows["1"]["unit"] == "130100" and rows["1"]["account"] == "130100发布" and rows["1"]["round"] == 1
    assert rows["1"]["published"] == datetime(2018, 12, 25, 8, 30, 1)  # epoch seconds → Beijing time
    assert rows["2"]["unit"] == "130200" and rows["2"]["published"] == datetime(2018, 12, 25, 16, 30)
    assert rows["2"]["topics"] == ["民生", "社保"] and rows["2"]["reposts"] == 12000 and rows["2"]["likes"] is None
    assert rows["3"]["published"] == datetime(2018, 12, 20) and rows["3"]["comments"] == 1234


def test_csv_search_in_gbk(rs, tmp_path):
    text = ("unit,engine,query,topic,rank,url,title,is_gov\n"
            "130100,baidu,石家庄 社保查询,社保,1,http://rsj.sjz.gov.cn/,\"石家庄市人社局, 首页\",是\n"
            "130100,baidu,石家庄 社保查询,社保,2,http://example.com/,广告,否\n"
            "130200,sogou,唐山 公积金,住房,1,http://gjj.tangshan.gov.cn/,唐山公积金,\n")
    src = tmp_path / "search.csv"
    src.write_bytes(text.encode("gbk"))  # Excel in China saves CSV as GBK
    report = import_records(rs, "search", 3, src, tmp_path / "facts")
    df = pl.read_parquet(report.path).sort("unit", "rank")
    assert df["title"].to_list() == ["石家庄市人社局, 首页", "广告", "唐山公积金"]
    assert df["is_gov"].to_list() == [True, False, None] and df["rank"].dtype == pl.Int64
    assert set(df["round"]) == {3}


def test_bad_records_reject_the_file_with_line_numbers(rs, tmp_path):
    src = _jsonl(tmp_path / "posts.jsonl", [
        _post("130100", 1),
        "{not json",
        _post("999999", 3),
        _post("130200", 4, created_at="昨天"),
        [1, 2],
        _post("130300", 6, round=2),
        _post("130300", 7, reposts=1.5),
    ])
    facts = tmp_path / "facts"
    with pytest.raises(AdapterImportError) as exc:
        import_records(rs, "posts", 1, src, facts, MAPPING)
    got = {(p.where.rsplit(":", 1)[1], p.code) for p in exc.value.problems}
    assert got == {("2", "A101"), ("3", "A103"), ("4", "A102"), ("5", "A101"), ("6", "A105"), ("7", "A102")}
    assert str(exc.value).startswith(f"{src}: 6 of 7 records are bad, nothing imported")
    assert f"{src}:4 [published ← created_at]: error[A102 bad-value]" in str(exc.value)
    assert not (facts / "posts").exists()


def test_skip_bad_counts_and_reports_every_skipped_record(rs, tmp_path):
    src = _jsonl(tmp_path / "posts.jsonl", [_post("130100", 1), "{not json", _post("999999", 3), _post("130200", 4)])
    report = import_records(rs, "posts", 1, src, tmp_path / "facts", MAPPING, skip_bad=True)
    assert report.rows == 2 and report.skipped == 2
    assert [(w.where, w.severity) for w in report.warnings] == [(f"{src}:2", "skipped"), (f"{src}:3", "skipped")]
    assert "2 bad records skipped" in report.summary()


def test_csv_line_numbers_count_multiline_fields(rs, tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("unit,engine,query,topic,rank,url,title,is_gov\n"
                   "130100,baidu,q,社保,1,http://a/,\"two\nlines\",yes\n"
                   "130100,baidu,q,社保,first,http://b/,t,yes\n"
                   "130100,baidu,q\n", encoding="utf-8")
    with pytest.raises(AdapterImportError) as exc:
        import_records(rs, "search", 1, src, tmp_path / "facts")
    assert [(p.where, p.code) for p in exc.value.problems] == [(f"{src}:4", "A102"), (f"{src}:5", "A101")]


def test_reimport_replaces_the_source_partition(rs, tmp_path):
    facts = tmp_path / "facts"
    src = _jsonl(tmp_path / "weibo.jsonl", [_post("130100", 1), _post("130200", 2)])
    first = import_records(rs, "posts", 1, src, facts, MAPPING)
    again = import_records(rs, "posts", 1, src, facts, MAPPING)
    assert first.path == again.path and pl.read_parquet(first.path).equals(pl.read_parquet(again.path))
    other = import_records(rs, "posts", 1, _jsonl(tmp_path / "wechat.jsonl", [_post("130300", 3)]), facts, MAPPING)
    assert sorted(p.name for p in other.path.parent.iterdir()) == ["part-wechat.parquet", "part-weibo.parquet"]
    assert scan(rs, facts, "posts").collect().height == 3


def test_mapping_table_and_round_are_checked_first(rs, tmp_path):
    src = _jsonl(tmp_path / "p.jsonl", [_post("130100", 1)])
    with pytest.raises(AdapterImportError, match="A203 bad-mapping.*`publshed`") as exc:
        import_records(rs, "posts", 1, src, tmp_path / "facts", {"publshed": "created_at"})
    assert "did you mean `published`?" in str(exc.value)
    with pytest.raises(UsageError, match="did you mean `posts`"):
        import_records(rs, "post", 1, src, tmp_path / "facts")
    with pytest.raises(UsageError, match="no round 7"):
        import_records(rs, "posts", 7, src, tmp_path / "facts")
    report = import_records(rs, "posts", 1, src, tmp_path / "facts")  # no mapping: account, published absent
    assert {w.column for w in report.warnings if w.code == "A301"} == {"account", "published"}
    other_round = _jsonl(tmp_path / "r2.jsonl", [_post("130100", 1, round=2)])
    report = import_records(rs, "posts", 1, other_round, tmp_path / "facts", {"account": None, "round": None,
                                                                               "published": "created_at"})
    assert report.rows == 1 and not report.warnings  # None: no field on purpose, no warning
    with pytest.raises(UsageError, match="time zone"):
        import_records(rs, "posts", 1, src, tmp_path / "facts", tz="Mars/Olympus")


# ------------------------------------------------------------------ a local API on 127.0.0.1


class _Api(BaseHTTPRequestHandler):
    """Three pages of posts: ``next`` as a page number, then a relative URL, then null. The first
    request of all gets a 503 (retried); ``/broken`` always fails."""

    calls: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.calls.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/broken" or len(self.calls) == 1:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        page = int(parse_qs(parts.query).get("page", ["1"])[0])
        items = [_post(["130100", "130200", "130300"][page - 1], page * 10 + k) for k in range(2)]
        nxt = {1: 2, 2: "/posts?page=3&token=x", 3: None}[page]
        body = json.dumps({"items": items, "next": nxt}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)  # 127.0.0.1 directly, whatever the environment says
    _Api.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_api_three_pages(rs, tmp_path, api):
    source = ApiSource(f"{api}/posts?page=1", backoff=0.01)
    report = import_records(rs, "posts", 2, source, tmp_path / "facts", MAPPING)
    assert report.rows == 6 and report.units == 3
    assert report.path.name == "part-127.0.0.1-posts.parquet"
    df = pl.read_parquet(report.path)
    assert sorted(df["post_id"].to_list()) == ["10", "11", "20", "21", "30", "31"]
    assert _Api.calls == ["/posts?page=1", "/posts?page=1", "/posts?page=2", "/posts?page=3&token=x"]


def test_http_api_failure_is_one_located_error(rs, tmp_path, api):
    with pytest.raises(AdapterImportError, match=r"A201 unreadable-source.*HTTP 503") as exc:
        import_records(rs, "posts", 1, ApiSource(f"{api}/broken", retries=2, backoff=0.01), tmp_path / "facts")
    assert exc.value.problems[0].where == f"{api}/broken" and len(_Api.calls) == 3
    assert not (tmp_path / "facts").exists()


# ------------------------------------------------------------------ never another source's rows (issue 9)


def test_another_source_with_the_same_name_is_refused_not_replaced(rs, tmp_path):
    facts = tmp_path / "facts"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mine = import_records(rs, "posts", 1, _jsonl(tmp_path / "a" / "weibo.jsonl", [_post("130100", 1), _post("130200", 2)]),
                          facts, MAPPING)
    theirs = _jsonl(tmp_path / "b" / "weibo.jsonl", [_post("130300", 3)])  # a second collector's export, same file name
    before = mine.path.read_bytes()
    with pytest.raises(AdapterImportError, match="A205 other-rows") as exc:
        import_records(rs, "posts", 1, theirs, facts, MAPPING)  # before: replaced the first export's rows, rc 0
    assert "already holds 2 rows imported from another source" in str(exc.value) and "--name" in str(exc.value)
    assert mine.path.read_bytes() == before
    named = import_records(rs, "posts", 1, theirs, facts, MAPPING, name="weibo-b")
    assert named.kept == 2 and named.total == 3 and scan(rs, facts, "posts").collect().height == 3
    replaced = import_records(rs, "posts", 1, theirs, facts, MAPPING, replace=True)
    assert replaced.removed == 2 and "previous 2 rows were removed" in replaced.summary()


def test_an_import_never_replaces_the_crawls_or_a_manual_partition(rs, tmp_path):
    from govindex.collect.imports import write_partition

    facts = tmp_path / "facts"
    first = import_records(rs, "posts", 1, _jsonl(tmp_path / "x.jsonl", [_post("130100", 1)]), facts, MAPPING)
    crawl = first.path.with_name("part-0.parquet")
    pl.read_parquet(first.path).write_parquet(crawl)  # as the crawl's extraction writes: no stamp
    with pytest.raises(AdapterImportError, match="holds 1 row not written by `govindex import`"):
        import_records(rs, "posts", 1, _jsonl(tmp_path / "0.jsonl", [_post("130200", 2)]), facts, MAPPING)
    manual = first.path.with_name("part-m.parquet")
    write_partition(pl.read_parquet(first.path), manual, {"writer": "govindex manual import", "source": "book.xlsx"})
    with pytest.raises(AdapterImportError, match="written by govindex manual import"):
        import_records(rs, "posts", 1, _jsonl(tmp_path / "m.jsonl", [_post("130200", 2)]), facts, MAPPING)
    assert pl.read_parquet(crawl).height == 1 and pl.read_parquet(manual).height == 1


def test_reimporting_a_source_replaces_only_its_own_rows_and_says_so(rs, tmp_path):
    facts = tmp_path / "facts"
    src = _jsonl(tmp_path / "weibo.jsonl", [_post("130100", 1), _post("130200", 2)])
    import_records(rs, "posts", 1, _jsonl(tmp_path / "wechat.jsonl", [_post("130300", 3)]), facts, MAPPING)
    import_records(rs, "posts", 1, src, facts, MAPPING)
    _jsonl(src, [_post("130100", 1)])  # the source, exported again, now has one record
    again = import_records(rs, "posts", 1, src, facts, MAPPING)
    assert (again.added, again.removed, again.kept, again.total) == (1, 2, 1, 2)
    assert "replaced the previous import of this source (2 rows)" in again.summary()


def test_a_table_kept_as_one_file_is_not_hidden(rs, tmp_path):
    from govindex.diagnostics import FactsError

    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "posts.parquet").write_bytes(b"")
    with pytest.raises(FactsError, match="would hide that file"):
        import_records(rs, "posts", 1, _jsonl(tmp_path / "w.jsonl", [_post("130100", 1)]), facts, MAPPING)
    assert not (facts / "posts").exists()


def test_a_source_that_is_not_a_regular_file_is_refused_not_waited_on(rs, tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.jsonl")
    with pytest.raises(AdapterImportError, match="A201 unreadable-source.*not a regular file"):
        import_records(rs, "posts", 1, tmp_path / "pipe.jsonl", tmp_path / "facts")
