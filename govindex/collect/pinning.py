"""Connections go only to the addresses the guard checked (no DNS rebinding).

Checking a host's addresses and then letting the HTTP stack resolve the name again when it
connects leaves a gap: a hostile name server answers a public address to the check and
127.0.0.1 to the connect (TTL 0). So the name is resolved **once**, by the guard, per attempt;
the fetch pins those checked addresses (:func:`pinned`, a context variable read in the same
task), and the transport's network backend connects to a pinned address instead of resolving
again. The request keeps its URL, so the ``Host`` header, TLS SNI and certificate verification
all stay with the original host name, and the connection pool stays keyed by that name.

The backend fails closed: a connection asked for without a pin, or for another host or port
than the pin's, is refused with ``blocked_address``; each pinned address is re-checked just
before connecting. A kept-alive connection may serve a later request to the same origin: it
goes to an address that was checked when it was opened.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx

from govindex.collect.errors import ErrorKind, GuardError
from govindex.collect.guard import AddressGuard, IPAddress

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Pin:
    """The checked ``addresses`` a connection to ``host:port`` may go to (host as httpcore sees it)."""

    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @classmethod
    def of(cls, request: httpx.Request, addresses: Sequence[IPAddress]) -> Pin:
        """The pin of ``request``: its host and port exactly as the connection pool will ask for them."""
        url = request.url
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        return cls(url.raw_host.decode("ascii").lower(), port, tuple(addresses))


_PIN: ContextVar[Pin | None] = ContextVar("govindex_pin", default=None)


@contextmanager
def pinned(pin: Pin) -> Iterator[Pin]:
    """Within this block (this task), connections may go only to ``pin.addresses``."""
    token = _PIN.set(pin)
    try:
        yield pin
    finally:
        _PIN.reset(token)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects to the pinned, re-checked address, never resolving."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        """Connect to the first pinned address of ``host:port`` that answers."""
        pin = _PIN.get()
        if pin is None or pin.host != host.lower() or pin.port != port:
            raise GuardError(ErrorKind.BLOCKED_ADDRESS, f"connection to {host}:{port} refused: no checked address "
                                                        f"pinned for it (have {pin.host if pin else 'none'})")
        failure: Exception | None = None
        for address in pin.addresses:
            self.guard.check_ip(address, host)
            try:
                return await self.inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the next checked address, as a resolver's caller would
        raise failure or GuardError(ErrorKind.DNS, f"{host} has no checked address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        """Refused: a crawler has no business with local sockets."""
        raise GuardError(ErrorKind.BLOCKED_ADDRESS, f"unix socket {path} refused")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does."""
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own HTTP transport, with its connection pool on a :class:`PinnedBackend`.

    ``verify`` is as for httpx (a bool or an ``ssl.SSLContext``): certificates are verified
    against the URL's host name, not the pinned address.
    """

    def __init__(self, guard: AddressGuard, *, verify: ssl.SSLContext | bool = True,
                 limits: httpx.Limits = httpx.Limits()):
        context = httpx.create_ssl_context(verify=verify)  # built once, shared with the pool below
        super().__init__(verify=context, limits=limits, retries=0)
        # httpx builds its pool without a way to pass a network backend: rebuild it with ours
        # (same settings). If a future httpx renames the pool, fail here rather than run unpinned.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx.AsyncHTTPTransport has no httpcore pool to pin: unsupported httpx version")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            http1=True, http2=False, retries=0, network_backend=PinnedBackend(guard))
