"""URLs: canonical form, crawl scope, and cheap trap heuristics.

:func:`canonicalize` is the crawler's identity for a page: two links that reach the same resource
by different spellings (``HTTP://Gov.CN:80/a/../b?y=2&x=1&utm_source=z#top``) become one URL
(``http://gov.cn/b?x=1&y=2``), so each is fetched and stored once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from string import ascii_letters, digits
from urllib.parse import urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAMS = frozenset({"gclid", "fbclid", "msclkid", "yclid", "dclid", "mc_cid", "mc_eid",
                             "_hsenc", "_hsmi", "spm"})
TRACKING_PREFIXES = ("utm_",)

_UNRESERVED = frozenset(ascii_letters + digits + "-._~")
_PATH_SAFE = frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = frozenset("!$'()*+,;=:@/?")
_KEY_SAFE = _QUERY_SAFE - {"="}
_HEX = frozenset("0123456789abcdefABCDEF")
_PATH_CLEAN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_QUERY_CLEAN = re.compile(r"[A-Za-z0-9\-._~!$'()*+,;=:@/?]*")
_STRIPPED = re.compile(r"[\t\n\r]")
_DIGITS = re.compile(r"\d+")


def canonicalize(url: str, base: str | None = None) -> str | None:
    """The canonical absolute form of ``url`` (resolved against ``base``), or None.

    Lower-cases scheme and host (IDNA-encoded), drops default ports, user info and the fragment,
    removes dot segments, normalises percent-encoding (unreserved characters decoded, hex in upper
    case, other characters UTF-8 encoded), drops tracking parameters (``utm_*``, ``gclid`` …) and
    sorts the query. None when the result is not an http(s) URL with a host.
    """
    url = _STRIPPED.sub("", url.strip())
    try:
        if base is not None:
            url = urljoin(base, url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = _host(parts.hostname)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = remove_dot_segments(_escape(parts.path, _PATH_SAFE) or "/")
    return urlunsplit((scheme, netloc, path, _query(parts.query), ""))


def _host(hostname: str) -> str | None:
    host = hostname.lower().rstrip(".")
    if host.isascii():
        return host or None
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _escape(text: str, safe: frozenset[str]) -> str:
    if (_PATH_CLEAN if safe is _PATH_SAFE else _QUERY_CLEAN).fullmatch(text):
        return text  # the common case: nothing to normalise
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and text[i + 1 : i + 2] in _HEX and text[i + 2 : i + 3] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in _UNRESERVED or ch in safe:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: resolve ``.`` and ``..`` segments of an absolute path."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments[1:], start=1):
        last = i == len(segments) - 1
        if seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _query(query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        key = _escape(key, _KEY_SAFE)
        if is_tracking_param(key):
            continue
        pairs.append((key, sep + _escape(value, _QUERY_SAFE)))
    pairs.sort()
    return "&".join(k + v for k, v in pairs)


def is_tracking_param(key: str) -> bool:
    """Whether a query parameter only tracks the visitor (``utm_source``, ``gclid`` …)."""
    low = key.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def host_of(url: str) -> str:
    """The lower-case host name of ``url`` (no port), or ``""``."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class Scope:
    """The hosts a site's crawl may visit: exact names, or ``.suffix`` for a domain and below."""

    hosts: frozenset[str]

    @classmethod
    def of(cls, start_url: str, extra: Iterable[str] = ()) -> Scope:
        """The scope of a site: the start URL's host plus ``extra`` hosts."""
        return cls(frozenset({host_of(start_url), *(h.lower() for h in extra)}) - {""})

    def with_host(self, host: str) -> Scope:
        """This scope with one more host (e.g. where the start page redirected to)."""
        return Scope(self.hosts | {host.lower()})

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        host = host_of(url)
        if not host:
            return False
        if host in self.hosts:
            return True
        return any(h.startswith(".") and (host.endswith(h) or host == h[1:]) for h in self.hosts)


def in_scope(url: str, start_url: str, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether ``url`` is on the start URL's host or one of ``extra_hosts``."""
    return url in Scope.of(start_url, extra_hosts)


def shape(url: str) -> str:
    """The URL with digit runs masked and the query reduced to its sorted keys.

    URLs of one shape differ only in numbers or parameter values: a calendar's days, a list's
    pages, a faceted search's combinations. The crawler caps how many of one shape it takes.
    """
    parts = urlsplit(url)
    keys = sorted({p.partition("=")[0] for p in parts.query.split("&") if p})
    masked = _DIGITS.sub("#", parts.path)
    return f"{parts.netloc}{masked}" + ("?" + "&".join(_DIGITS.sub("#", k) for k in keys) if keys else "")


def trap_reason(url: str, *, max_length: int = 1024, max_segments: int = 16,
                max_repeats: int = 3, max_params: int = 16) -> str | None:
    """Why ``url`` looks like a crawler trap (a reason label), or None.

    Catches what relative-link loops and session-laden URLs produce: very long URLs, very deep
    paths, one path segment repeated (``/a/b/a/b/a/b``), very many query parameters.
    """
    if len(url) > max_length:
        return "long_url"
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) > max_segments:
        return "deep_path"
    if segments and max(segments.count(s) for s in set(segments)) >= max_repeats:
        return "repeated_segment"
    if parts.query.count("&") + 1 > max_params:
        return "many_params"
    return None
