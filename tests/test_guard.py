"""The address guard (govindex.collect.guard): scheme and resolved addresses, IPv4 and IPv6."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from govindex.collect.errors import ErrorKind, GuardError
from govindex.collect.fetch import FetchConfig, Fetcher
from govindex.collect.guard import AddressGuard
from tests.webservers import Page, Site


def check(guard: AddressGuard, url: str) -> list:
    return asyncio.run(guard.check_url(url))


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/", "http://[::1]/", "http://127.0.0.1:8080/", "http://0.0.0.0/", "http://224.0.0.1/",
    "http://100.64.0.1/", "http://[fe80::1]/", "http://[::ffff:10.0.0.1]/", "http://[2002:a00:1::1]/",
    "http://[64:ff9b::a9fe:a9fe]/", "http://240.0.0.1/", "http://localhost/", "http://100.100.100.200/",
])
def test_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(GuardError) as err:
        check(AddressGuard(), url)
    assert err.value.kind is ErrorKind.BLOCKED_ADDRESS


@pytest.mark.parametrize("url", ["ftp://h/x", "file:///etc/passwd", "gopher://h/", "http:///x"])
def test_refuses_other_schemes(url: str) -> None:
    with pytest.raises(GuardError) as err:
        check(AddressGuard(), url)
    assert err.value.kind is ErrorKind.BAD_SCHEME


def test_public_addresses_pass() -> None:
    assert check(AddressGuard(), "http://8.8.8.8/") == [ipaddress.ip_address("8.8.8.8")]
    assert check(AddressGuard(), "https://[2001:4860::1]/")


def test_loopback_allowed_only_when_asked() -> None:
    guard = AddressGuard(allow_loopback=True)
    assert check(guard, "http://localhost/")[0].is_loopback
    check(guard, "http://127.0.0.3/")
    check(guard, "http://[::1]/")
    with pytest.raises(GuardError):
        check(guard, "http://10.0.0.1/")


def test_allow_list_but_never_metadata() -> None:
    guard = AddressGuard(allow=["10.0.0.0/8", "169.254.0.0/16", "fd00::/8"])
    check(guard, "http://10.1.2.3/")
    check(guard, "http://169.254.1.1/")
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/"):
        with pytest.raises(GuardError, match="metadata"):
            check(guard, url)


def test_every_resolved_address_must_pass() -> None:
    async def resolver(host: str, port: int) -> list:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]

    with pytest.raises(GuardError, match="10.0.0.7") as err:
        check(AddressGuard(resolver=resolver), "http://rebind.example/")
    assert err.value.kind is ErrorKind.BLOCKED_ADDRESS


def test_unresolvable_name_is_a_dns_error() -> None:
    async def resolver(host: str, port: int) -> list:
        from govindex.collect.guard import resolve
        return await resolve("name..with..empty..labels.invalid", port)

    with pytest.raises(GuardError) as err:
        check(AddressGuard(resolver=resolver), "http://x.invalid/")
    assert err.value.kind is ErrorKind.DNS


def test_redirect_hop_to_a_private_address_is_refused() -> None:
    routes = {"/": Page(status=302, headers={"Location": "http://10.0.0.1/admin"}),
              "/meta": Page(status=301, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
              "/local": Page(status=302, headers={"Location": "http://localhost/"})}

    async def go(site: Site) -> list:
        async with Fetcher(FetchConfig(deadline=5), AddressGuard(allow_loopback=True)) as f:
            strict = Fetcher(FetchConfig(deadline=5), AddressGuard())
            try:
                return [await f.fetch(site.url("/")), await f.fetch(site.url("/meta")),
                        await strict.fetch(site.url("/local"))]
            finally:
                await strict.aclose()

    with Site("127.0.0.1", routes) as site:
        first, meta, local = asyncio.run(go(site))
    assert first.error is ErrorKind.BLOCKED_ADDRESS and first.final_url == "http://10.0.0.1/admin"
    assert [h.status for h in first.hops] == [302]
    assert meta.error is ErrorKind.BLOCKED_ADDRESS and "metadata" in meta.message
    assert local.error is ErrorKind.BLOCKED_ADDRESS and site.hits["/local"] == 0  # refused before connecting
