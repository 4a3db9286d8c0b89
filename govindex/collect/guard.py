"""The address guard: no request leaves for a private, loopback or metadata address.

A crawler that follows links and redirects from the open web must not be turned against the
machine it runs on or its network (SSRF). Before every request and every redirect hop the host is
resolved with the event loop's ``getaddrinfo`` and **every** address it resolves to must be
public; IPv4 addresses embedded in IPv6 ones (mapped, 6to4, Teredo, NAT64) are checked as IPv4.
Cloud metadata endpoints are refused even when their network is allowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from govindex.collect.errors import ErrorKind, GuardError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

SCHEMES = frozenset({"http", "https"})
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                      ipaddress.ip_address("100.100.100.200")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressGuard:
    """Refuses non-http(s) schemes and non-public addresses, after DNS resolution.

    ``allow_loopback`` lets tests crawl servers on 127.0.0.0/8 and ::1; ``allow`` is an explicit
    allow-list of networks (e.g. an intranet mirror). Metadata addresses are never allowed.
    ``resolver`` replaces DNS (tests); the default is :func:`resolve`.
    """

    def __init__(self, *, allow_loopback: bool = False, allow: Iterable[str | IPNetwork] = (),
                 resolver: Resolver | None = None):
        self.allow_loopback = allow_loopback
        self.allow = tuple(ipaddress.ip_network(n) if isinstance(n, str) else n for n in allow)
        self.resolver = resolver or resolve

    async def check_url(self, url: str) -> list[IPAddress]:
        """Check the scheme and every address ``url``'s host resolves to; return the addresses.

        Raises :class:`GuardError` with kind ``bad_scheme``, ``dns`` or ``blocked_address``.
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise GuardError(ErrorKind.BAD_SCHEME, f"unparseable url {url!r}: {exc}") from None
        if parts.scheme.lower() not in SCHEMES:
            raise GuardError(ErrorKind.BAD_SCHEME, f"scheme {parts.scheme or 'none'!r} is not http(s)")
        if not parts.hostname:
            raise GuardError(ErrorKind.BAD_SCHEME, f"url {url!r} has no host")
        literal = _literal(parts.hostname)
        default = 443 if parts.scheme.lower() == "https" else 80
        addresses = [literal] if literal else await self.resolver(parts.hostname, port or default)
        for address in addresses:
            self.check_ip(address, parts.hostname)
        return addresses

    def check_ip(self, address: IPAddress, host: str = "") -> None:
        """Raise :class:`GuardError` (``blocked_address``) unless ``address`` may be contacted."""
        reason = self.refusal(address)
        if reason:
            shown = f"{host} → {address}" if host and host != str(address) else str(address)
            raise GuardError(ErrorKind.BLOCKED_ADDRESS, f"{shown} is {reason}")

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused (``"private"``, ``"loopback"`` …), or None if it is allowed."""
        if address in METADATA:
            return "a cloud metadata address"
        for candidate in (address, *_embedded_ipv4(address)):
            if self.allow_loopback and candidate.is_loopback:
                return None
            if any(candidate.version == net.version and candidate in net for net in self.allow):
                return None
        for candidate in (address, *_embedded_ipv4(address)):
            reason = _non_public(candidate)
            if reason:
                return reason
        return None


def _non_public(address: IPAddress) -> str | None:
    checks = (("loopback", address.is_loopback), ("link-local", address.is_link_local),
              ("multicast", address.is_multicast), ("unspecified", address.is_unspecified),
              ("private", address.is_private), ("reserved", address.is_reserved),
              ("not globally routable", not address.is_global))
    return next((f"a {name} address" if name != "not globally routable" else name
                 for name, hit in checks if hit), None)


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo:
        found.append(address.teredo[1])
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, via the running loop's ``getaddrinfo``.

    Raises :class:`GuardError` with kind ``dns`` when the name does not resolve.
    """
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise GuardError(ErrorKind.DNS, f"{host} does not resolve: {exc}") from None
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    if not addresses:
        raise GuardError(ErrorKind.DNS, f"{host} resolves to no address")
    return sorted(addresses, key=lambda a: (a.version, int(a)))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None
