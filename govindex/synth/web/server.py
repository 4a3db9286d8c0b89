"""Serve a synthetic web on loopback: every site on its own 127.K.A.B address, all on one port.

``serve(web)`` binds the hub (``host``, 127.0.0.1 by default) on ``port`` (0: any free port) and
then every site's address on the same port, and runs an asyncio HTTP/1.1 server (keep-alive,
chunked bodies, gzip for sites that compress) in a background thread, so a crawler can fetch many
sites at once. The hub serves ``/channels.csv``, ``/ground_truth.json`` and the JSON APIs
``/api/posts/<unit>?platform=weibo|wechat|douyin&page=N``, ``/api/search/<unit>?engine=&page=N``
and ``/api/apps/<unit>?channel=``, each ``{"items": [...], "next": url | null}``.

Traps on a portal (when the unit has them; see ``ground_truth()["units"][code]["traps"]``):
``/calendar?date=…`` (next day, forever), ``/redirect/a.html`` ⇄ ``/redirect/b.html``,
``/go?url=…`` (open redirect to the metadata address), ``/slow/archive.html`` (headers after
``slow_seconds``), ``/slow/drip.html`` (a byte a second), ``/big/yearbook.html`` (``big_bytes``
with Content-Length), ``/big/stream.html`` (chunked, no length), ``/big/bomb.html`` (gzip that
inflates to ``big_bytes``), ``/error/db.html`` (500), ``/flaky/news.html`` (503 + Retry-After
once), and any unknown path: 404. Every request is logged in ``Server.log`` (host, method, path,
status), so tests can check what a crawler did and did not fetch.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gzip
import json
import socket
import threading
import zlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from govindex.fsio import write_file
from govindex.synth.web.html import esc, render
from govindex.synth.web.model import Site
from govindex.synth.web.social import page_of, posts, search_results
from govindex.synth.web.web import Web

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
           404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"}
Body = bytes | AsyncIterator[bytes]


class Response:
    __slots__ = ("status", "headers", "body", "length")

    def __init__(self, status: int, body: Body = b"", ctype: str = "text/html; charset=utf-8",
                 headers: dict[str, str] | None = None, length: int | None = None):
        self.status, self.body = status, body
        self.headers = {"Content-Type": ctype, **(headers or {})}
        self.length = length


class Server:
    """A running synthetic web; stop it with :meth:`close` (or use it as a context manager)."""

    def __init__(self, web: Web, host: str = "127.0.0.1", port: int = 0, *, slow_seconds: float = 30.0,
                 big_bytes: int = 64 * 2**20, latency: float = 0.0):
        self.web, self.host, self.port = web, host, port
        self.slow_seconds, self.big_bytes, self.latency = slow_seconds, big_bytes, latency
        self.log: collections.deque[tuple[str, str, str, int]] = collections.deque(maxlen=2_000_000)
        self._flaky: set[str] = set()
        self._bomb: bytes | None = None
        self._truth: dict | None = None
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.AbstractServer] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="synthweb", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Server:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until the server is closed (or the process interrupted)."""
        self._thread.join()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            socks = self._bind()
            for s in socks:
                self._servers.append(self._loop.run_until_complete(
                    asyncio.start_server(self._connection, sock=s, limit=2**16)))
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            for srv in self._servers:
                srv.close()
            tasks = asyncio.all_tasks(self._loop)
            for t in tasks:
                t.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    def _bind(self) -> list[socket.socket]:
        """One listening socket per address, all on one port (retried when ``port=0`` collides)."""
        hosts = [self.host, *sorted(self.web.by_host)]
        fixed = self.port
        for _ in range(20):
            socks: list[socket.socket] = []
            try:
                for h in hosts:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    socks.append(s)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((h, self.port))
                    self.port = s.getsockname()[1]
                    s.listen(512)
                    s.setblocking(False)
                return socks
            except OSError:
                for s in socks:
                    s.close()
                if fixed:
                    raise
                self.port = 0
        raise OSError("could not bind one free port on every site address")

    # ------------------------------------------------------------------ what it serves
    def url(self, code: str, kind: str = "portal") -> str:
        """The start URL of a unit's ``kind`` site (portal, service, opendata, mobile)."""
        site = self.web.unit(code).sites[kind]
        return f"http://{site.host}:{self.port}{site.root}"

    @property
    def hub(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def ground_truth(self) -> dict:
        if self._truth is None:
            from govindex.synth.web.truth import ground_truth
            self._truth = ground_truth(self.web, self.port, self.host)
        return self._truth

    def channels_csv(self) -> str:
        return self.web.channels_csv(self.port, self.host)

    def write_channels(self, path: str | Path) -> Path:
        return write_file(Path(path), self.channels_csv())

    def write(self, directory: str | Path) -> Path:
        """``web.json``, ``ground_truth.json`` and ``channels.csv`` with this server's URLs."""
        return self.web.write(directory, self.port, self.host)

    # ------------------------------------------------------------------ HTTP
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[0]
        site = self.web.by_host.get(local)
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), timeout=60)
                if not line:
                    break
                parts = line.decode("latin-1").split()
                headers: dict[str, str] = {}
                while True:
                    h = await asyncio.wait_for(reader.readline(), timeout=60)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if int(headers.get("content-length", "0") or 0):
                    await reader.readexactly(int(headers["content-length"]))
                if len(parts) != 3:
                    await self._send(writer, "HEAD", Response(400, b"bad request"), False)
                    break
                method, target, version = parts
                keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                if self.latency:
                    await asyncio.sleep(self.latency)
                resp = await self._respond(site, local, method, target, headers)
                self.log.append((local, method, target, resp.status))
                if not await self._send(writer, method, resp, keep):
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:  # the server is closing: end this connection quietly
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _send(self, writer: asyncio.StreamWriter, method: str, resp: Response, keep: bool) -> bool:
        head = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'OK')}", "Server: synthweb",
                f"Date: {formatdate(usegmt=True)}"]
        body = resp.body
        chunked = not isinstance(body, bytes) and resp.length is None
        if isinstance(body, bytes):
            head.append(f"Content-Length: {len(body)}")
        elif resp.length is not None:
            head.append(f"Content-Length: {resp.length}")
        else:
            head.append("Transfer-Encoding: chunked")
        head += [f"{k}: {v}" for k, v in resp.headers.items()]
        head.append("Connection: keep-alive" if keep else "Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD":
            if isinstance(body, bytes):
                writer.write(body)
            else:
                async for chunk in body:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    await writer.drain()
                if chunked:
                    writer.write(b"0\r\n\r\n")
        await writer.drain()
        return keep

    async def _respond(self, site: Site | None, local: str, method: str, target: str,
                       headers: dict[str, str]) -> Response:
        if method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed", headers={"Allow": "GET, HEAD"})
        parts = urlsplit(target)
        path, query = unquote(parts.path) or "/", parse_qs(parts.query)
        if site is None:
            return self._hub(path, query)
        if path == "/robots.txt":
            if site.robots is None:
                return self._not_found(site, path)
            return Response(200, site.robots.encode(), "text/plain; charset=utf-8")
        if site.kind == "mobile" and path == "/":
            return Response(302, b"", headers={"Location": "/m/"})
        trap = await self._trap(site, path, query)
        if trap is not None:
            return trap
        page = site.pages.get(path)
        if page is None:
            return self._not_found(site, path)
        body, ctype = render(self._ctx(), site, page)
        return self._maybe_gzip(site, Response(200, body, ctype), headers)

    def _ctx(self):
        from govindex.synth.web.html import Ctx
        return Ctx(self.port, self.web.seed, self.host)

    def _maybe_gzip(self, site: Site, resp: Response, headers: dict[str, str]) -> Response:
        if site.gzip and "gzip" in headers.get("accept-encoding", "") and isinstance(resp.body, bytes) \
                and len(resp.body) > 512:
            resp.body = gzip.compress(resp.body, compresslevel=5, mtime=0)
            resp.headers["Content-Encoding"] = "gzip"
            resp.headers["Vary"] = "Accept-Encoding"
        return resp

    def _not_found(self, site: Site, path: str) -> Response:
        text = (f"<!DOCTYPE html><html><head><title>404 页面不存在</title></head><body><h1>404</h1>"
                f"<p>{esc(site.name)}：您访问的页面 {esc(path)} 不存在。</p></body></html>")
        return Response(404, text.encode(site.charset, errors="xmlcharrefreplace"), f"text/html; charset={site.label}")

    # ------------------------------------------------------------------ traps
    async def _trap(self, site: Site, path: str, query: dict) -> Response | None:
        traps = {t["kind"] for t in site.traps}
        if not traps:
            return None
        if path == "/calendar" and "calendar" in traps:
            return self._calendar(site, (query.get("date") or ["2019-01-20"])[0])
        if path in ("/redirect/a.html", "/redirect/b.html") and "redirect_loop" in traps:
            other = "/redirect/b.html" if path.endswith("a.html") else "/redirect/a.html"
            return Response(302, b"", headers={"Location": other})
        if path == "/go" and "redirect_private" in traps:
            return Response(302, b"", headers={"Location": (query.get("url") or ["/"])[0]})
        if path == "/slow/archive.html" and "slow" in traps:
            await asyncio.sleep(self.slow_seconds)
            return self._small(site, "历史档案", "档案资料。")
        if path == "/slow/drip.html" and "drip" in traps:
            return Response(200, self._drip(), f"text/html; charset={site.label}")
        if path == "/big/yearbook.html" and "oversized" in traps:
            return Response(200, self._zeros(self.big_bytes, b" "), f"text/html; charset={site.label}",
                            length=self.big_bytes)
        if path == "/big/stream.html" and "endless" in traps:
            return Response(200, self._zeros(self.big_bytes, b"<p>data</p>"), f"text/html; charset={site.label}")
        if path == "/big/bomb.html" and "gzip_bomb" in traps:
            return Response(200, self._gzip_bomb(), f"text/html; charset={site.label}",
                            headers={"Content-Encoding": "gzip"})
        if path == "/error/db.html" and "broken" in traps:
            return Response(500, b"<h1>500 Internal Server Error</h1>database connection failed")
        if path == "/flaky/news.html" and "flaky" in traps:
            if site.host not in self._flaky:
                self._flaky.add(site.host)
                return Response(503, b"busy", headers={"Retry-After": "1"})
            return self._small(site, "最新动态", "最新动态内容。")
        return None

    def _calendar(self, site: Site, day: str) -> Response:
        try:
            d = date.fromisoformat(day)
        except ValueError:
            return Response(400, b"bad date")
        prev, nxt = (d - timedelta(days=1)).isoformat(), (d + timedelta(days=1)).isoformat()
        text = (f'<!DOCTYPE html><html><head><meta charset="{site.label}"><title>活动日历 {day}</title></head><body>'
                f"<h1>{d.year}年{d.month}月{d.day}日 活动安排</h1><p>{esc(site.name)}：当日暂无活动。</p>"
                f'<a href="/calendar?date={prev}">前一天</a> <a href="/calendar?date={nxt}">后一天</a></body></html>')
        return Response(200, text.encode(site.charset, errors="xmlcharrefreplace"), f"text/html; charset={site.label}")

    def _small(self, site: Site, title: str, line: str) -> Response:
        text = (f'<!DOCTYPE html><html><head><meta charset="{site.label}"><title>{esc(title)}</title></head>'
                f"<body><h1>{esc(title)}</h1><p>{esc(site.name)}：{esc(line)}</p></body></html>")
        return Response(200, text.encode(site.charset, errors="xmlcharrefreplace"), f"text/html; charset={site.label}")

    async def _drip(self) -> AsyncIterator[bytes]:
        yield b"<!DOCTYPE html><html><body>"
        for _ in range(int(max(self.slow_seconds, 1) * 100)):
            await asyncio.sleep(1)
            yield b"."

    async def _zeros(self, total: int, unit: bytes) -> AsyncIterator[bytes]:
        block = (unit * (65536 // len(unit) + 1))[:65536]
        sent = 0
        while sent < total:
            chunk = block[: min(len(block), total - sent)]
            sent += len(chunk)
            yield chunk

    def _gzip_bomb(self) -> bytes:
        if self._bomb is None:
            comp = zlib.compressobj(9, zlib.DEFLATED, 31)
            block = b" " * 2**20
            out = [comp.compress(block) for _ in range(max(1, self.big_bytes // 2**20))]
            self._bomb = b"".join(out) + comp.flush()
        return self._bomb

    # ------------------------------------------------------------------ hub
    def _hub(self, path: str, query: dict) -> Response:
        q = {k: v[0] for k, v in query.items()}
        if path == "/robots.txt":
            return Response(200, b"User-agent: *\nDisallow: /\n", "text/plain; charset=utf-8")
        if path == "/channels.csv":
            return Response(200, self.channels_csv().encode("utf-8"), "text/csv; charset=utf-8")
        if path == "/ground_truth.json":
            return self._json(self.ground_truth())
        if path == "/":
            links = "".join(f'<li><a href="{self.url(u.code)}">{esc(u.code)} {esc(u.name)}</a></li>' for u in self.web.units)
            return Response(200, f"<html><head><meta charset='utf-8'><title>synthweb</title></head><body><ul>{links}</ul>"
                                 "</body></html>".encode())
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "api" and parts[2] in self.web.by_code:
            return self._api(parts[1], self.web.unit(parts[2]), q)
        return Response(404, b'{"error": "not found"}', "application/json")

    def _api(self, what: str, unit, q: dict[str, str]) -> Response:
        try:
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            return Response(400, b'{"error": "page must be a number"}', "application/json")
        base = f"http://{self.host}:{self.port}/api/{what}/{unit.code}"
        if what == "posts":
            platform = q.get("platform", "weibo")
            items = posts(self.web.seed, unit, platform)
            return self._json(page_of(items, page, f"{base}?platform={platform}&page={{page}}"))
        if what == "search":
            items = search_results(self.web.seed, unit)
            engine = q.get("engine")
            if engine:
                items = [r for r in items if r["engine"] == engine]
            items = json.loads(json.dumps(items).replace(":{port}/", f":{self.port}/"))
            nxt = f"{base}?engine={engine}&page={{page}}" if engine else f"{base}?page={{page}}"
            return self._json(page_of(items, page, nxt))
        if what == "apps":
            items = [a for a in unit.apps if not q.get("channel") or a["channel"] == q["channel"]]
            return self._json({"items": items, "next": None})
        return Response(404, b'{"error": "unknown api"}', "application/json")

    def _json(self, obj) -> Response:
        return Response(200, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


def serve(web: Web, host: str = "127.0.0.1", port: int = 0, **options) -> Server:
    """Start serving ``web`` (in a background thread) and return the running :class:`Server`.

    ``port=0`` picks a free port; every site then listens on that same port at its own
    127.K.A.B address. Options: ``slow_seconds`` (30), ``big_bytes`` (64 MiB), ``latency`` (0 s
    added to every response).
    """
    return Server(web, host, port, **options).start()
