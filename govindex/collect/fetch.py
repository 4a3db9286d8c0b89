"""One fetch: a GET with every safety the open web needs, returning a :class:`FetchResult`.

- the network sits behind a swappable httpx transport (tests pass their own);
- redirects are followed hop by hop, each hop re-checked by the address guard and the scope;
- every attempt (first, retry, redirect hop) resolves the host once, through the guard, and the
  connection goes to one of those checked addresses (:mod:`govindex.collect.pinning`): a name
  that answers differently the second time (DNS rebinding) cannot slip past the guard;
- one deadline bounds each exchange as a whole (connect, headers and body): httpx's timeouts are
  per operation, so a server dribbling a byte a second would never trip them;
- the body is streamed raw and decompressed here, with byte caps on the wire and after
  decompression, so a gzip bomb stops at the cap; a caller that wants only the head of a body
  (robots.txt: RFC 9309 asks for at least 500 KiB) gets it cut there instead, marked ``truncated``;
- transient failures (connect errors, 5xx, 429) are retried with exponential backoff and jitter,
  honouring ``Retry-After`` (seconds or an HTTP date) on 429 and 503;
- text bodies are decoded by :mod:`govindex.collect.charset`.

A fetch never raises for the site's sake: every failure is a result with an :class:`ErrorKind`.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
)

from govindex.collect import charset
from govindex.collect.errors import ErrorKind, FetchError
from govindex.collect.guard import AddressGuard
from govindex.collect.pinning import Pin, PinnedTransport, pinned
from govindex.collect.urls import Scope, canonicalize

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "govindex-crawler/0.1 (government online service evaluation)"


class FetchConfig(BaseModel):
    """Limits of one fetch. Times in seconds, sizes in bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deadline: float = Field(30.0, gt=0, description="one exchange: connect + headers + body")
    connect_timeout: float = Field(10.0, gt=0)
    max_bytes: int = Field(10 * 2**20, gt=0, description="body cap after decompression")
    max_wire_bytes: int = Field(10 * 2**20, gt=0, description="body cap as received")
    max_hops: int = Field(10, ge=0, description="redirects followed")
    retries: int = Field(2, ge=0, description="extra attempts after a transient failure")
    backoff: float = Field(0.5, ge=0, description="first backoff; doubles, plus jitter")
    backoff_max: float = Field(30.0, ge=0)
    retry_after_max: float = Field(120.0, ge=0, description="longest Retry-After obeyed")
    user_agent: str = USER_AGENT
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class Hop:
    """One redirect: ``url`` answered ``status`` pointing at ``location``."""

    url: str
    status: int
    location: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch produced: a response (maybe an error page) or a failure, never both absent."""

    url: str
    final_url: str
    status: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    text: str | None
    charset: str | None
    error: ErrorKind | None
    message: str
    elapsed: float
    hops: tuple[Hop, ...]
    fetched: datetime
    reason: str = ""
    http_version: str = "HTTP/1.1"
    retry_after: float | None = None
    attempts: int = 1
    truncated: bool = False  # the body is the head of a longer one (``Fetcher.fetch(truncate=…)``)

    @property
    def ok(self) -> bool:
        """A response with a non-error status."""
        return self.error is None and self.status is not None

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header, if any."""
        return self.header("content-type")

    def header(self, name: str) -> str | None:
        """The first header named ``name`` (case-insensitive)."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)


@dataclass(slots=True)
class _Exchange:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    reason: str
    http_version: str
    truncated: bool = False

    @property
    def retry_after(self) -> float | None:
        """Seconds a 429 or 503 asks us to wait, if it says."""
        value = next((v for k, v in self.headers if k.lower() == "retry-after"), None)
        return parse_retry_after(value) if self.status in (429, 503) else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Fetcher:
    """Fetches URLs through one httpx client; use as an async context manager."""

    def __init__(self, config: FetchConfig | None = None, guard: AddressGuard | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, max_connections: int = 100):
        self.config = config or FetchConfig()
        self.guard = guard or AddressGuard()
        cfg = self.config
        timeout = httpx.Timeout(cfg.deadline, connect=min(cfg.connect_timeout, cfg.deadline))
        # in-flight requests are bounded by the crawler; the pool keeps idle connections to many hosts
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=max(64, max_connections))
        # a transport passed in (tests: httpx.MockTransport) does its own connecting; ours is pinned
        self.transport = transport or PinnedTransport(self.guard, verify=cfg.verify_tls, limits=limits)
        self.client = httpx.AsyncClient(
            transport=self.transport, follow_redirects=False, timeout=timeout, trust_env=False,
            headers={"User-Agent": cfg.user_agent, "Accept-Encoding": "gzip, deflate",
                     "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self.client.aclose()

    async def fetch(self, url: str, scope: Scope | None = None, truncate: int | None = None) -> FetchResult:
        """GET ``url``, following redirects within ``scope`` (any host when None).

        With ``truncate``, a body longer than that many bytes (after decompression) is cut there
        and the result marked ``truncated``, instead of failing with ``too_large``; no more of it
        is read."""
        fetched, start = datetime.now(UTC), time.monotonic()
        hops: list[Hop] = []
        current, state = url, {"attempts": 0}
        try:
            while True:
                self._check(current, scope)
                exchange = await self._exchange(current, state, truncate)
                location = _location(current, exchange)
                if location is None:
                    return self._result(url, current, exchange, hops, fetched, start, state["attempts"])
                hops.append(Hop(current, exchange.status, location, exchange.headers))
                if location == current or location in {h.url for h in hops}:
                    raise FetchError(ErrorKind.REDIRECT_LOOP, f"{current} redirects back to {location}")
                if len(hops) > self.config.max_hops:
                    raise FetchError(ErrorKind.TOO_MANY_REDIRECTS, f"more than {self.config.max_hops} redirects")
                current = location
        except FetchError as exc:
            return _failure(url, current, exc, hops, fetched, start, state["attempts"])

    def _check(self, url: str, scope: Scope | None) -> None:
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise FetchError(ErrorKind.BAD_SCHEME, f"{url} is not http(s)")
        if scope is not None and url not in scope:
            raise FetchError(ErrorKind.OUT_OF_SCOPE, f"{url} is outside the site's hosts {sorted(scope.hosts)}")

    async def _exchange(self, url: str, state: dict[str, int], truncate: int | None) -> _Exchange:
        cfg = self.config
        retrying = AsyncRetrying(
            stop=stop_after_attempt(cfg.retries + 1), wait=self._wait, sleep=asyncio.sleep, reraise=True,
            retry=retry_if_exception(_transient_error) | retry_if_result(_transient_status),
            retry_error_callback=lambda rs: rs.outcome.result() if rs.outcome else None)

        async def attempt() -> _Exchange:
            state["attempts"] += 1
            return await self._attempt(url, truncate)

        return await retrying(attempt)

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            after = outcome.result().retry_after
            if after is not None:
                return min(after, self.config.retry_after_max)
        cfg = self.config
        return min(cfg.backoff * 2 ** (state.attempt_number - 1), cfg.backoff_max) + random.uniform(0, cfg.backoff)

    async def _attempt(self, url: str, truncate: int | None) -> _Exchange:
        try:
            async with asyncio.timeout(self.config.deadline):
                # resolved and checked on every attempt; the connection may go only there
                addresses = await self.guard.check_url(url)
                request = self.client.build_request("GET", url)
                with pinned(Pin.of(request, addresses)):
                    # straight to the transport: the client would parse Location itself (and fail
                    # on odd ones); redirects are ours to follow and check
                    response = await self.transport.handle_async_request(request)
                    response.request = request
                    try:
                        redirect = response.status_code in REDIRECTS and "location" in response.headers
                        body, cut = (b"", False) if redirect else await self._read_body(response, truncate)
                    finally:
                        await response.aclose()
        except TimeoutError:
            raise FetchError(ErrorKind.TIMEOUT, f"no complete response within {self.config.deadline:g}s") from None
        except httpx.TimeoutException as exc:
            raise FetchError(ErrorKind.TIMEOUT, f"{type(exc).__name__}: {exc}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(ErrorKind.BAD_SCHEME, str(exc)) from None
        except (httpx.TransportError, OSError) as exc:
            raise FetchError(ErrorKind.CONNECT, f"{type(exc).__name__}: {exc}") from None
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw)
        return _Exchange(response.status_code, headers, body, response.reason_phrase, response.http_version, cut)

    async def _read_body(self, response: httpx.Response, truncate: int | None) -> tuple[bytes, bool]:
        """The decoded body and whether it was cut at ``truncate`` bytes."""
        cfg = self.config
        declared = response.headers.get("content-length", "")
        if truncate is None and declared.isdigit() and int(declared) > cfg.max_wire_bytes:
            raise FetchError(ErrorKind.TOO_LARGE, f"Content-Length {declared} exceeds {cfg.max_wire_bytes} bytes")
        limit = min(truncate, cfg.max_bytes) if truncate is not None else cfg.max_bytes
        if response.is_stream_consumed:  # built in memory (httpx.MockTransport): already decoded
            inflater = Inflater("", limit, truncate=truncate is not None)
            inflater.feed(response.content)
            return inflater.finish(), inflater.truncated
        inflater = Inflater(response.headers.get("content-encoding", ""), limit, truncate=truncate is not None)
        wire = 0
        async for chunk in response.aiter_raw():
            wire += len(chunk)
            if wire > cfg.max_wire_bytes and truncate is None:
                raise FetchError(ErrorKind.TOO_LARGE, f"body exceeds {cfg.max_wire_bytes} bytes on the wire")
            inflater.feed(chunk)
            if inflater.truncated or wire > cfg.max_wire_bytes:
                inflater.truncated = True
                break  # the rest is never read: closing the response drops the connection
        return inflater.finish(), inflater.truncated

    def _result(self, url: str, final: str, ex: _Exchange, hops: list[Hop], fetched: datetime,
                start: float, attempts: int) -> FetchResult:
        content_type = next((v for k, v in ex.headers if k.lower() == "content-type"), None)
        decoded = charset.decode(ex.body, content_type) if charset.is_text(content_type) else None
        error = (ErrorKind.HTTP_5XX if ex.status >= 500 else ErrorKind.HTTP_4XX if ex.status >= 400 else None)
        return FetchResult(
            url=url, final_url=final, status=ex.status, headers=ex.headers, body=ex.body,
            text=decoded.text if decoded else None, charset=decoded.charset if decoded else None,
            error=error, message=f"HTTP {ex.status} {ex.reason}".strip() if error else "",
            elapsed=time.monotonic() - start, hops=tuple(hops), fetched=fetched, reason=ex.reason,
            http_version=ex.http_version, retry_after=ex.retry_after, attempts=attempts, truncated=ex.truncated)


def _failure(url: str, final: str, exc: FetchError, hops: list[Hop], fetched: datetime, start: float,
             attempts: int) -> FetchResult:
    status = hops[-1].status if hops else None
    return FetchResult(url=url, final_url=final, status=status, headers=(), body=b"", text=None, charset=None,
                       error=exc.kind, message=str(exc), elapsed=time.monotonic() - start, hops=tuple(hops),
                       fetched=fetched, attempts=attempts)


def _location(current: str, exchange: _Exchange) -> str | None:
    if exchange.status not in REDIRECTS:
        return None
    raw = next((v for k, v in exchange.headers if k.lower() == "location"), None)
    if raw is None:
        return None
    target = canonicalize(raw, base=current)
    if target is None:
        raise FetchError(ErrorKind.BAD_SCHEME, f"redirect to {urljoin(current, raw)!r}, not an http(s) URL")
    return target


def _transient_error(exc: BaseException) -> bool:
    return isinstance(exc, FetchError) and exc.kind is ErrorKind.CONNECT


def _transient_status(exchange: _Exchange | None) -> bool:
    return exchange is not None and (exchange.status >= 500 or exchange.status == 429)


class Inflater:
    """Decompresses a body as it streams in, refusing to produce more than ``limit`` bytes — or,
    with ``truncate``, keeping the first ``limit`` bytes and setting ``truncated``."""

    def __init__(self, content_encoding: str, limit: int, truncate: bool = False):
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(ErrorKind.DECODE, f"unsupported Content-Encoding {content_encoding!r}")
        self.coding = codings[0] if codings else ""
        self.limit = limit
        self.truncate = truncate
        self.truncated = False
        self.out = bytearray()
        self.raw_deflate_tried = False
        self.z = self._new()

    def _new(self) -> zlib._Decompress | None:
        if not self.coding:
            return None
        return zlib.decompressobj(15 if self.coding == "deflate" else 16 + zlib.MAX_WBITS)

    def _append(self, data: bytes) -> None:
        if self.truncate and len(self.out) + len(data) > self.limit:
            self.out += data[: self.limit - len(self.out)]
            self.truncated = True
            return
        self.out += data
        if len(self.out) > self.limit:
            raise FetchError(ErrorKind.TOO_LARGE, f"body exceeds {self.limit} bytes after decompression")

    def feed(self, data: bytes) -> None:
        """Take the next chunk as received."""
        if self.truncated:
            return
        if self.z is None:
            self._append(data)
            return
        try:
            self._inflate(data)
        except zlib.error as exc:
            if self.coding != "deflate" or self.raw_deflate_tried or self.out:
                raise FetchError(ErrorKind.DECODE, f"corrupt {self.coding} body: {exc}") from None
            # Some servers send raw deflate (no zlib header) under "deflate".
            self.raw_deflate_tried, self.z = True, zlib.decompressobj(-zlib.MAX_WBITS)
            self.feed(data)

    def _inflate(self, data: bytes) -> None:
        z = self.z
        assert z is not None  # feed() inflates only a coded body
        while data and not self.truncated:
            self._append(z.decompress(data, self.limit - len(self.out) + 1))
            if not z.eof:
                data = z.unconsumed_tail
                continue
            data = z.unused_data
            if not data.startswith(b"\x1f\x8b"):
                return  # trailing padding after the last gzip member
            z = self._new()  # the next member, of the same coding
            assert z is not None
            self.z = z

    def finish(self) -> bytes:
        """The whole decompressed body (its head, if truncated)."""
        if self.z is not None and not self.truncated:
            try:
                self._append(self.z.flush())
            except zlib.error as exc:
                raise FetchError(ErrorKind.DECODE, f"corrupt {self.coding} body: {exc}") from None
        return bytes(self.out)
