"""DNS rebinding (govindex.collect.pinning): a name that answers a public address to the guard and
an internal one to the connect never gets the crawler into the internal server.

The name server is the system resolver itself (``socket.getaddrinfo``, which both the guard and
any HTTP stack use), replaced for one name by a rebinding one: answers change on every query, as
with a TTL of 0. 127.0.0.2 stands in for a public address (the guard's allow-list admits it, as a
real public address would be); 127.0.0.99 is the internal server holding /secret.html, on the same
port, which only loopback would reach and ``allow_loopback`` is off.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from govindex.collect.channels import Channel
from govindex.collect.crawl import CrawlConfig, crawl_sync, round_dir
from govindex.collect.errors import ErrorKind, GuardError
from govindex.collect.fetch import FetchConfig, Fetcher, FetchResult
from govindex.collect.guard import AddressGuard
from govindex.collect.index import read_index
from govindex.collect.pinning import PinnedTransport
from tests.webservers import Page, Site, html

NAME = "rebind.test"
PUBLIC, INTERNAL = "127.0.0.2", "127.0.0.99"
ROBOTS = Page("User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
_REAL_GETADDRINFO = socket.getaddrinfo


class Rebinding:
    """``socket.getaddrinfo`` with ``name`` answering ``answers`` in turn (the last one forever, or
    round and round when ``cycle``); every other name resolves as usual."""

    def __init__(self, name: str, answers: list[str], cycle: bool = False):
        self.name, self.answers, self.cycle = name, answers, cycle
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - the stdlib's names
        name = host.decode("ascii") if isinstance(host, bytes) else host
        if name != self.name:
            return _REAL_GETADDRINFO(host, port, family, type, proto, flags)
        with self.lock:
            n = self.calls % len(self.answers) if self.cycle else min(self.calls, len(self.answers) - 1)
            self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (self.answers[n], int(port or 80)))]


@pytest.fixture
def servers() -> Iterator[tuple[Site, Site]]:
    """The "public" site and the internal one, on the same port."""
    public_routes = {"/": Page(html("公开", "/next.html")), "/next.html": Page(html("下一页")), "/robots.txt": ROBOTS,
                     "/hop": Page(status=302, headers={"Location": "/next.html"}), "/busy": Page("busy", 503)}
    internal_routes = {"/": Page(html("内网", "/secret.html")), "/secret.html": Page(html("机密")),
                       "/robots.txt": ROBOTS, "/hop": Page(html("内网")), "/busy": Page(html("内网")),
                       "/next.html": Page(html("内网"))}
    with Site(PUBLIC, public_routes) as public, Site(INTERNAL, internal_routes, port=public.port) as internal:
        yield public, internal


def strict_guard() -> AddressGuard:
    """No loopback; the stand-in public address allowed."""
    return AddressGuard(allow=[f"{PUBLIC}/32"])


@pytest.mark.parametrize("cycle", [False, True], ids=["public-then-internal", "alternating"])
def test_a_rebinding_name_never_reaches_the_internal_server(servers: tuple[Site, Site], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, cycle: bool) -> None:
    public, internal = servers
    monkeypatch.setattr(socket, "getaddrinfo", Rebinding(NAME, [PUBLIC, INTERNAL], cycle))
    config = CrawlConfig(delay=0, allow_networks=(f"{PUBLIC}/32",), fetch=FetchConfig(deadline=5, retries=1, backoff=0.01))
    crawl_sync([Channel(unit="U1", kind="portal", url=f"http://{NAME}:{public.port}/", name="")], 1, tmp_path, config)
    assert internal.hits == {}, internal.log
    rows = read_index(round_dir(tmp_path, 1) / "index")
    assert rows.select("url", "error").rows() == [(f"http://{NAME}:{public.port}/", "blocked_address")]
    assert INTERNAL in rows["message"][0] and "loopback" in rows["message"][0]
    # robots.txt went to the address checked for it, under the site's own name
    assert public.log == ["/robots.txt"] and public.requests[0][1]["Host"] == f"{NAME}:{public.port}"


def fetch(url: str, guard: AddressGuard, transport: httpx.AsyncBaseTransport | None = None, **config: float) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(FetchConfig(deadline=5, backoff=0.01, **config), guard, transport) as fetcher:
            return await fetcher.fetch(url)
    return asyncio.run(go())


def test_every_redirect_hop_is_resolved_and_checked_again(servers: tuple[Site, Site],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    public, internal = servers
    monkeypatch.setattr(socket, "getaddrinfo", Rebinding(NAME, [PUBLIC, INTERNAL]))
    result = fetch(f"http://{NAME}:{public.port}/hop", strict_guard())
    assert result.error is ErrorKind.BLOCKED_ADDRESS and [h.status for h in result.hops] == [302]
    assert public.log == ["/hop"] and internal.hits == {}


def test_every_retry_is_resolved_and_checked_again(servers: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    public, internal = servers
    monkeypatch.setattr(socket, "getaddrinfo", Rebinding(NAME, [PUBLIC, INTERNAL]))
    result = fetch(f"http://{NAME}:{public.port}/busy", strict_guard(), retries=2)
    assert result.error is ErrorKind.BLOCKED_ADDRESS and result.attempts == 2
    assert public.log == ["/busy"] and internal.hits == {}


def test_the_pin_keeps_the_host_header(servers: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    public, internal = servers
    resolver = Rebinding(NAME, [PUBLIC])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = fetch(f"http://{NAME}:{public.port}/", strict_guard())
    assert result.ok and "公开" in (result.text or "")
    assert public.requests[0][1]["Host"] == f"{NAME}:{public.port}" and internal.hits == {}
    assert resolver.calls == 1  # resolved once, by the guard; the connection did not ask again


def test_the_transport_fails_closed_without_a_pin(servers: tuple[Site, Site]) -> None:
    public, _ = servers

    async def go() -> None:
        transport = PinnedTransport(AddressGuard(allow_loopback=True))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(public.url("/"))

    with pytest.raises(GuardError, match="no checked address pinned"):
        asyncio.run(go())
    assert public.hits == {}


def make_certificate(directory: Path, name: str) -> Path:
    """A self-signed certificate for ``name`` only (no IP address in it), made by the openssl tool."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return directory


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool to make a certificate")
def test_tls_through_the_pin_verifies_the_host_name_and_sends_it_as_sni(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    name = "pinned.test"
    pems = make_certificate(tmp_path, name)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pems / "cert.pem", pems / "key.pem")
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, server_name, ctx: sni.append(server_name)
    client_ctx = ssl.create_default_context(cafile=str(pems / "cert.pem"))
    monkeypatch.setattr(socket, "getaddrinfo", Rebinding(name, [PUBLIC]))
    guard = AddressGuard(allow=[f"{PUBLIC}/32"])
    with Site(PUBLIC, {"/": Page(html("TLS"))}, tls=server_ctx) as site:
        result = fetch(f"https://{name}:{site.port}/", guard, PinnedTransport(guard, verify=client_ctx))
        assert result.ok, result.message
        assert sni == [name] and site.requests[0][1]["Host"] == f"{name}:{site.port}"
        # the certificate names the host, not the address: verification against the address fails
        wrong = fetch(f"https://{PUBLIC}:{site.port}/", guard, PinnedTransport(guard, verify=client_ctx))
    assert wrong.error is ErrorKind.CONNECT and "CERTIFICATE_VERIFY_FAILED" in wrong.message
