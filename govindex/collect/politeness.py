"""Per-host politeness: how many requests a host sees at once, and how far apart they start.

By default one request is in flight per host and consecutive requests start ``delay`` seconds
apart. A host's ``Crawl-delay`` raises its delay (never lowers it), and a ``Retry-After`` answer
pushes its next start back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class HostGate:
    """Admits requests to one host: at most ``slots`` at once, starts ``delay`` seconds apart."""

    def __init__(self, slots: int, delay: float):
        self.slots = asyncio.Semaphore(slots)
        self.delay = delay
        self.next_start = 0.0
        self._clock = asyncio.Lock()

    def raise_delay(self, delay: float | None) -> None:
        """Use ``delay`` from now on if it is longer than the current one (a floor, not a cap)."""
        if delay is not None and delay > self.delay:
            self.delay = delay

    def hold(self, seconds: float) -> None:
        """Start no request before ``seconds`` from now (a ``Retry-After``)."""
        self.next_start = max(self.next_start, time.monotonic() + seconds)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Wait for a slot and for the host's next start time; hold the slot inside the block."""
        async with self.slots:
            async with self._clock:
                wait = self.next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.next_start = time.monotonic() + self.delay
            yield


class Gates:
    """One :class:`HostGate` per host, created on first use."""

    def __init__(self, slots: int, delay: float, max_delay: float):
        self.slots, self.delay, self.max_delay = slots, delay, max_delay
        self._gates: dict[str, HostGate] = {}

    def __getitem__(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(self.slots, self.delay)
        return gate

    def floor(self, host: str, delay: float | None) -> None:
        """Raise a host's delay to ``delay`` (capped at ``max_delay``), e.g. from robots.txt."""
        if delay is not None:
            self[host].raise_delay(min(delay, self.max_delay))
