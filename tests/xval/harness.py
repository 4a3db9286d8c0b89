"""Shared plumbing of the cross-validation tests: doubles as hex, one external process per module.

Doubles travel as C99 hex floats (``float.hex`` here, R's ``sprintf("%a")`` and a small parser in
node), so nothing is lost in a decimal round trip; "NA" is a missing value.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

HERE = Path(__file__).parent


def to_hex(x: float | None) -> str:
    """``x`` as a C99 hex float; ``NA`` for None; ``NaN``/``Inf``/``-Inf`` as R writes them."""
    if x is None:
        return "NA"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return x.hex()


def from_hex(s: str) -> float | None:
    """The double written by :func:`to_hex`, R or node; None for ``NA``."""
    if s == "NA":
        return None
    return float.fromhex({"Inf": "inf", "-Inf": "-inf", "NaN": "nan"}.get(s, s))


def same(a: float | None, b: float | None) -> bool:
    """Bit-for-bit equality, NaN equal to NaN and ``+0.0`` to ``−0.0`` (``==`` on doubles)."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def run_cases(command: Sequence[str], cases: Iterable[tuple[str, str, Sequence[str], Sequence[float | None]]],
              tmp: Path) -> dict[str, list[float | None]]:
    """Write ``cases`` (id, op, args, values) to a file, run ``command CASES OUT`` once, and read back
    each case's results by id."""
    src, out = tmp / "cases.tsv", tmp / "out.tsv"
    src.write_text("".join(f"{i}\t{op}\t{' '.join(a)}\t{' '.join(map(to_hex, v))}\n" for i, op, a, v in cases))
    subprocess.run([*command, str(src), str(out)], check=True, timeout=120, capture_output=True)
    results: dict[str, list[float | None]] = {}
    for line in out.read_text().splitlines():
        key, _, values = line.partition("\t")
        results[key] = [from_hex(s) for s in values.split(" ")] if values else []
    return results
