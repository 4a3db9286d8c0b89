"""Where per-partition evaluation runs: in this process (default) or as Ray tasks.

Evaluation splits in two: the aggregation of each fact table by unit and round — one query per
partition of the facts, partitions holding disjoint sets of units — and everything after it
(normalisations across units, rounds, the tree), which needs all units and is small. An executor
runs the first part; the results are concatenated. Queries are polars LazyFrames, which pickle,
so a Ray worker needs nothing but polars and the files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import polars as pl


def collect_query(query: pl.LazyFrame) -> pl.DataFrame:
    """Run one partition's aggregation on the streaming engine."""
    return query.collect(engine="streaming")


class Executor(Protocol):
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...


class InProcess:
    """Every partition here, one after the other (polars uses the cores within each)."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(x) for x in items]


class RayExecutor:
    """Partitions as Ray tasks, on a local Ray instance or the cluster at ``address``.

    Needs the optional extra: ``pip install 'govindex[ray]'``.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError as exc:  # a user's environment, not a bug
            from govindex.diagnostics import UsageError

            raise UsageError("the Ray executor needs the optional extra: pip install 'govindex[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False}
            if address:
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            ray.init(**kwargs)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        task = self._ray.remote(fn)
        return list(self._ray.get([task.remote(x) for x in items]))

    def shutdown(self) -> None:
        self._ray.shutdown()
