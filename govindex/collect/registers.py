"""The small JSON registers kept beside a round's manual rows (disputes, assignments): read as a
list of records or refused with a located hint, written atomically. Scoring never reads them
(they are not ``.parquet``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from govindex.diagnostics import FactsError
from govindex.fsio import write_file

_T = TypeVar("_T")


def read_records(path: Path, key: str, build: Callable[[dict[str, Any]], _T], what: str, hint: str) -> list[_T]:
    """The records under ``key`` of the register at ``path`` (none when it does not exist);
    :class:`FactsError` naming ``what`` with ``hint`` when it cannot be read."""
    if not path.exists():
        return []
    try:
        return [build(d) for d in json.loads(path.read_text(encoding="utf-8"))[key]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FactsError(f"{path}: cannot read the round's {what}: {exc}; nothing written\n  hint: {hint}") from None


def write_records(path: Path, fmt: str, key: str, records: list[dict[str, Any]]) -> None:
    """Write the register atomically (the caller holds the round's lock)."""
    write_file(path, json.dumps({"format": fmt, key: records}, ensure_ascii=False, indent=1) + "\n")
