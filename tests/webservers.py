"""Real HTTP servers for crawler tests, each on its own loopback address (127.0.0.2, 127.0.0.3 …
are all loopback on Linux, and each is a distinct host to the crawler).

A :class:`Site` serves a dict of routes: a path (with its query) maps to a :class:`Page`, or to a
callable that writes the response itself (slow or endless bodies). ``fallback`` answers paths not
in the dict (an infinite calendar). ``hits`` counts requests per path; ``requests`` keeps each
request's path and headers (what a client really sent: the ``Host`` header …).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    """A canned response."""

    body: bytes | str = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})

    def raw(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Handler = Callable[[BaseHTTPRequestHandler], None]
Route = Page | Handler


class Site:
    """A web server on ``host`` (a loopback address) with ``routes``; start with ``with``. With
    ``tls`` (a server-side SSL context) it speaks https."""

    def __init__(self, host: str = "127.0.0.1", routes: dict[str, Route] | None = None,
                 fallback: Callable[[str], Route | None] | None = None, port: int = 0,
                 tls: ssl.SSLContext | None = None):
        self.host = host
        self.routes: dict[str, Route] = routes or {}
        self.fallback = fallback
        self.hits: Counter[str] = Counter()
        self.log: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # clients hang up on traps: expected
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page_hits(self) -> Counter[str]:
        """Hits on everything but robots.txt."""
        return Counter({p: n for p, n in self.hits.items() if p != "/robots.txt"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with site.lock:
                    site.hits[self.path] += 1
                    site.log.append(self.path)
                    site.requests.append((self.path, dict(self.headers.items())))
                route = site.routes.get(self.path)
                if route is None and site.fallback is not None:
                    route = site.fallback(self.path)
                if route is None:
                    route = Page("<html><title>404</title></html>", status=404)
                if callable(route):
                    route(self)
                    return
                body = route.raw()
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in route.headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return _Handler


def slow_endless(handler: BaseHTTPRequestHandler, interval: float = 0.05, limit: float = 10.0) -> None:
    """A response that never ends: a byte every ``interval`` seconds (stops after ``limit``)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    end = time.monotonic() + limit
    try:
        while time.monotonic() < end:
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(interval)
    except OSError:
        pass


def html(title: str, *links: str, body: str = "", charset: str | None = None) -> str:
    """A small HTML page with a title, links and an optional meta charset."""
    meta = f'<meta charset="{charset}">' if charset else ""
    anchors = "".join(f'<a href="{href}">{href}</a>' for href in links)
    return f"<html><head>{meta}<title>{title}</title></head><body>{body}{anchors}</body></html>"
