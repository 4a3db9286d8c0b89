"""The crawl frontier of every site, and the append-only journal that lets a crawl resume.

A site is one web channel of one unit, keyed by ``(unit, kind, site)`` where ``site`` is the
channel's canonical start URL. Its frontier is breadth-first: URLs by depth, in the order they
were discovered. Every change is appended to the journal (JSON lines) before the page that caused
it is committed to the index, so replaying the journal rebuilds the frontier exactly, and the
index says which of its URLs are done. Events::

    {"t": "site", "u": unit, "k": kind, "s": site}                       a site and its start URL
    {"t": "add", "u": …, "k": …, "s": …, "d": depth, "urls": [...]}     URLs queued at a depth
    {"t": "seen", "u": …, "k": …, "s": …, "urls": [...]}                reached by a redirect
    {"t": "scope", "u": …, "k": …, "s": …, "host": host}                 a host joins the scope
    {"t": "robots", "o": origin, "f": warc_file, "off": offset, "len": n}  where robots.txt's answer is stored

A robots.txt answer is journaled after its WARC record is flushed: a resumed crawl reads it back
from the archive instead of fetching (and storing) it again.

A torn last line (a crash mid-write) is dropped on replay and cut off before appending again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from govindex.collect.errors import ArchiveError
from govindex.collect.urls import Scope, host_of, shape, trap_reason

SiteKey = tuple[str, str, str]  # unit, kind, site (canonical start URL)


@dataclass(frozen=True, slots=True)
class Limits:
    """How far a site's frontier may grow."""

    max_depth: int = 6
    max_pages: int = 2000
    max_per_shape: int = 500
    skip_extensions: frozenset[str] = frozenset()


@dataclass(slots=True)
class SiteState:
    """One site's frontier: queued URLs by depth, what was seen, what is done."""

    unit: str
    kind: str
    site: str
    scope: Scope
    levels: list[list[str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    shapes: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, str] = field(default_factory=dict)
    queued: int = 0

    @property
    def key(self) -> SiteKey:
        """``(unit, kind, site)``."""
        return (self.unit, self.kind, self.site)

    def pending(self, depth: int) -> list[str]:
        """URLs queued at ``depth`` and not done yet, in discovery order."""
        if depth >= len(self.levels):
            return []
        return [u for u in self.levels[depth] if u not in self.done]

    def finished(self) -> bool:
        """Whether every queued URL is done."""
        return all(u in self.done for level in self.levels for u in level)

    def queue(self, depth: int, urls: list[str]) -> None:
        """Append ``urls`` to the frontier at ``depth`` (the journal has them already)."""
        while len(self.levels) <= depth:
            self.levels.append([])
        self.levels[depth].extend(urls)
        self.seen.update(urls)
        self.shapes.update(shape(u) for u in urls)
        self.queued += len(urls)


class Frontier:
    """Every site's frontier, journaled to ``path``; rebuilt from it when it exists."""

    def __init__(self, path: Path, limits: Limits, extra_hosts: Iterable[str] = ()):
        self.path = path
        self.limits = limits
        self.extra_hosts = tuple(extra_hosts)
        self.sites: dict[SiteKey, SiteState] = {}
        self.robots: dict[str, tuple[str, int, int]] = {}  # origin → WARC file, offset, length
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for event in _replay(path):
                self._apply(event)
            self._fh: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - append-only journal
        except OSError as exc:
            raise ArchiveError(f"cannot open the crawl journal {path}: {exc}") from None

    def _apply(self, ev: dict[str, Any]) -> None:
        if ev["t"] == "robots":
            self.robots[ev["o"]] = (ev["f"], ev["off"], ev["len"])
            return
        key = (ev["u"], ev["k"], ev["s"])
        if ev["t"] == "site":
            self.sites[key] = SiteState(ev["u"], ev["k"], ev["s"], Scope.of(ev["s"], self.extra_hosts))
            self.sites[key].queue(0, [ev["s"]])
            return
        state = self.sites.get(key)
        if state is None:
            raise ArchiveError(f"{self.path}: event for a site never declared: {ev}")
        if ev["t"] == "add":
            state.queue(ev["d"], ev["urls"])
        elif ev["t"] == "seen":
            state.seen.update(ev["urls"])
        elif ev["t"] == "scope":
            state.scope = state.scope.with_host(ev["host"])

    def _log(self, ev: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise ArchiveError(f"cannot write the crawl journal {self.path}: {exc}") from None

    def _event(self, state: SiteState, t: str, **data: Any) -> None:
        ev = {"t": t, "u": state.unit, "k": state.kind, "s": state.site, **data}
        self._log(ev)
        self._apply(ev)

    def site(self, unit: str, kind: str, start_url: str) -> SiteState:
        """The state of a site, declared (start URL queued at depth 0) if new."""
        key = (unit, kind, start_url)
        if key not in self.sites:
            self._log({"t": "site", "u": unit, "k": kind, "s": start_url})
            self._apply({"t": "site", "u": unit, "k": kind, "s": start_url})
        return self.sites[key]

    def offer(self, state: SiteState, depth: int, links: Iterable[str]) -> list[str]:
        """Queue the in-scope, unseen, uncapped ``links`` at ``depth``; return those queued."""
        if depth > self.limits.max_depth:
            return []
        new: dict[str, None] = {}
        shapes: Counter[str] = Counter()
        for url in links:
            if url in state.seen or url in state.rejected or url in new or url not in state.scope:
                continue
            reason = self._refusal(state, url, len(new), shapes)
            if reason:
                state.rejected[url] = reason
                continue
            new[url] = None
            shapes[shape(url)] += 1
        if new:
            self._event(state, "add", d=depth, urls=list(new))
        return list(new)

    def release(self, state: SiteState) -> Counter[str]:
        """Forget a finished site's frontier (memory); return how many URLs it turned away, by reason."""
        rejected = Counter(state.rejected.values())
        state.levels.clear()
        state.seen.clear()
        state.shapes.clear()
        state.rejected.clear()
        state.done.clear()
        return rejected

    def _refusal(self, state: SiteState, url: str, adding: int, shapes: Counter[str]) -> str | None:
        lim = self.limits
        if state.queued + adding >= lim.max_pages:
            return "page_cap"
        if lim.skip_extensions and url.split("?")[0].rsplit(".", 1)[-1].lower() in lim.skip_extensions:
            return "asset"
        key = shape(url)
        if state.shapes[key] + shapes[key] >= lim.max_per_shape:
            return "shape_cap"
        return trap_reason(url)

    def robots_stored(self, origin: str, warc_file: str, offset: int, length: int) -> None:
        """Journal where the answer to ``origin``'s robots.txt is stored (its record is on disk)."""
        ev = {"t": "robots", "o": origin, "f": warc_file, "off": offset, "len": length}
        self._log(ev)
        self._apply(ev)

    def redirected(self, state: SiteState, final_url: str, depth: int) -> None:
        """Record where a page's redirects ended: the start page's host joins the scope; the target
        counts as seen so that a link to it is not fetched again."""
        host = host_of(final_url)
        if depth == 0 and host and final_url not in state.scope:
            self._event(state, "scope", host=host)
        if final_url in state.scope and final_url not in state.seen:
            self._event(state, "seen", urls=[final_url])

    def sync(self) -> None:
        """Force the journal to disk (before index rows that depend on it are committed)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush and close the journal."""
        if not self._fh.closed:
            self.sync()
            self._fh.close()


def _replay(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as fh:  # cut a torn last line so the next append starts clean
            fh.truncate(end)
    for number, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArchiveError(f"{path}:{number}: corrupt journal line: {exc}") from None
