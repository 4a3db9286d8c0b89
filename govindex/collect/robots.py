"""robots.txt: fetched once per origin per crawl, parsed with protego.

What a fetch outcome means follows Google's documented handling: a 2xx body is parsed; a 4xx
(other than 429) or an exhausted redirect chain means there is no robots.txt, so everything is
allowed; a 5xx, a 429 or an unreachable host means the site cannot say, so nothing is fetched
from it during this crawl. ``Crawl-delay`` (or ``Request-rate``) becomes a floor on the delay
between two requests to the host.

A robots.txt of any size is parsed on its first :data:`MAX_BYTES` (500 KiB, the least RFC 9309
§2.5 lets a crawler parse) instead of being refused as too large, which would close the whole
site; a line cut at that boundary is dropped, and the rest is never downloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from govindex.collect.errors import ErrorKind
from govindex.collect.fetch import FetchResult

MAX_BYTES = 500 * 1024
ALLOW_ALL_ERRORS = frozenset({ErrorKind.REDIRECT_LOOP, ErrorKind.TOO_MANY_REDIRECTS})
# When robots.txt could not be fetched for one of these, the host itself is unreachable or refused:
# a page's row says so rather than "robots".
UNREACHABLE = frozenset({ErrorKind.DNS, ErrorKind.CONNECT, ErrorKind.TIMEOUT, ErrorKind.BLOCKED_ADDRESS,
                         ErrorKind.BAD_SCHEME})


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """The robots.txt rules of one origin, or a blanket allow/deny and why."""

    origin: str
    rules: Protego | None
    allow_all: bool
    reason: str  # parsed | missing (4xx) | unavailable (5xx, 429, unreachable)
    failure: ErrorKind | None = None  # why robots.txt was unavailable
    message: str = ""

    def allowed(self, url: str, agent: str) -> bool:
        """Whether ``agent`` may fetch ``url``."""
        if self.rules is None:
            return self.allow_all
        return bool(self.rules.can_fetch(url, agent))

    def refusal(self, url: str, agent: str) -> tuple[ErrorKind, str] | None:
        """Why ``url`` may not be fetched, as the error kind and message of its row, or None."""
        if self.allowed(url, agent):
            return None
        if self.failure in UNREACHABLE:
            return self.failure, self.message
        return ErrorKind.ROBOTS, self.message or "disallowed by robots.txt"

    def delay(self, agent: str) -> float | None:
        """Seconds between requests asked for by ``Crawl-delay`` or ``Request-rate``, or None."""
        if self.rules is None:
            return None
        delay = self.rules.crawl_delay(agent)
        rate = self.rules.request_rate(agent)
        from_rate = rate.seconds / rate.requests if rate and rate.requests else None
        values = [float(v) for v in (delay, from_rate) if v is not None]
        return max(values) if values else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: robots.txt applies per origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def settles(result: FetchResult) -> bool:
    """Whether a robots.txt fetch settles the origin's rules for the round: an answer (2xx, or a
    4xx but 429), not a failure that a resumed crawl should ask about again."""
    if result.status is None:
        return False
    return (result.ok and result.status < 300) or (result.error is ErrorKind.HTTP_4XX and result.status != 429)


def policy_from(origin: str, result: FetchResult) -> RobotsPolicy:
    """Interpret the fetch of ``origin/robots.txt``."""
    if result.ok and result.status is not None and result.status < 300:
        text = result.text if result.text is not None else result.body.decode("utf-8", "replace")
        if result.truncated:  # a rule cut in the middle ("Disallow: /adm") would say something else
            text = text[: text.rfind("\n") + 1]
        return RobotsPolicy(origin, Protego.parse(text), True, "parsed")
    if (result.error is ErrorKind.HTTP_4XX and result.status != 429) or result.error in ALLOW_ALL_ERRORS:
        return RobotsPolicy(origin, None, True, "missing")
    return RobotsPolicy(origin, None, False, "unavailable", result.error,
                        f"robots.txt unavailable ({result.message or result.error}): the host is not crawled")



class RobotsCache:
    """robots.txt policies by origin, each fetched once however many pages ask at the same time."""

    def __init__(self, fetch: Callable[[str], Awaitable[FetchResult]], agent: str):
        self._fetch = fetch
        self.agent = agent.split("/")[0].strip() or agent
        self._policies: dict[str, asyncio.Task[RobotsPolicy]] = {}

    async def policy(self, url: str) -> RobotsPolicy:
        """The policy of ``url``'s origin, fetching its robots.txt the first time."""
        origin = origin_of(url)
        task = self._policies.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._load(origin))
            self._policies[origin] = task
        return await asyncio.shield(task)

    async def _load(self, origin: str) -> RobotsPolicy:
        return policy_from(origin, await self._fetch(origin + "/robots.txt"))

    async def allowed(self, url: str) -> bool:
        """Whether this crawler may fetch ``url``."""
        return (await self.policy(url)).allowed(url, self.agent)

    async def refusal(self, url: str) -> tuple[ErrorKind, str] | None:
        """Why this crawler may not fetch ``url`` (error kind and message), or None."""
        return (await self.policy(url)).refusal(url, self.agent)

    async def delay(self, url: str) -> float | None:
        """The crawl delay the origin of ``url`` asks for, if any."""
        return (await self.policy(url)).delay(self.agent)

    def close(self) -> None:
        """Cancel robots fetches still running (at the end of a crawl)."""
        for task in self._policies.values():
            task.cancel()
