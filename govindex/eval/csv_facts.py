"""A CSV fact table, read strictly: UTF-8 (a BOM is fine), one header, every record as wide as the
header, every cell parsed as its column's declared type. Each problem is located by line (a
quoted cell may span lines, so lines are counted by the CSV reader, not by rows)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from govindex.eval import casts
from govindex.eval.problems import Problem

_NOT_UTF8_HINT = ("save the file as UTF-8; a file from Excel in Chinese Windows is usually GB18030: "
                  "`iconv -f GB18030 -t UTF-8 in.csv > out.csv`")


def read_csv_facts(path: Path, declared: dict[str, str]) -> tuple[pl.DataFrame | None, list[Problem]]:
    """The declared columns of ``path`` typed as declared, or None and the problems found. A blank
    (or all-space) cell is null; other columns are ignored."""
    text, problems = _decode(path)
    if text is None:
        return None, problems
    header, records, starts, problems = _records(path, text)
    if problems:
        return None, problems
    cols, problems = _columns(path, header, declared)
    if problems:
        return None, problems
    raw = pl.DataFrame({c: [r[i] if r[i].strip() else None for r in records] for c, i in cols.items()},
                       schema={c: pl.String for c in cols})
    return _typed(path, raw, declared, starts)


def _decode(path: Path) -> tuple[str | None, list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem("unreadable", str(path), None, f"cannot read: {exc.strerror or exc}")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [Problem("encoding", str(path), None,
                              f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded", _NOT_UTF8_HINT, line)]


def _records(path: Path, text: str) -> tuple[list[str], list[list[str]], list[int], list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [], [], [Problem("missing-column", str(path), None, "empty: no header line")]
    except csv.Error as exc:
        return [], [], [], [Problem("ragged", str(path), None, f"the header is not CSV: {exc}", "", 1)]
    records, starts, ragged, line = [], [], [], reader.line_num
    try:
        for rec in reader:
            if not rec:  # a blank line holds no record
                line = reader.line_num
                continue
            if len(rec) != len(header):
                ragged.append((line + 1, len(rec)))
            records.append(rec)
            starts.append(line + 1)
            line = reader.line_num
    except csv.Error as exc:
        return header, [], [], [Problem("ragged", str(path), None, f"not CSV: {exc}", "", reader.line_num)]
    if ragged:
        first, n = ragged[0]
        more = f"; {len(ragged):,} such records" if len(ragged) > 1 else ""
        return header, [], [], [Problem("ragged", str(path), None,
                                        f"{n} fields where the header has {len(header)}{more}",
                                        "every record needs as many fields as the header; quote cells "
                                        "that hold commas", first)]
    return header, records, starts, []


def _columns(path: Path, header: list[str], declared: dict[str, str]) -> tuple[dict[str, int], list[Problem]]:
    problems, at = [], {}
    for i, h in enumerate(header):
        if h in at and h in declared:
            problems.append(Problem("duplicate-column", str(path), h, f"appears twice in the header "
                                    f"(fields {at[h] + 1} and {i + 1})", "", 1))
        at.setdefault(h, i)
    for col, typ in declared.items():
        if col not in at:
            problems.append(Problem("missing-column", str(path), col, f"missing (declared {typ})",
                                    f"the header has {', '.join(header) or 'nothing'}", 1))
    return {c: at[c] for c in declared if c in at}, problems


def _typed(path: Path, raw: pl.DataFrame, declared: dict[str, str],
           starts: list[int]) -> tuple[pl.DataFrame | None, list[Problem]]:
    typed = raw.select([casts.from_text(c, t) for c, t in declared.items()])
    checks = {c: casts.text_bad(c, t) for c, t in declared.items() if t not in ("str", "list[str]")}
    bad = raw.select([e.alias(c) for c, e in checks.items()])
    floats = [c for c, t in declared.items() if t == "float"]
    non_finite = typed.select([casts.NON_FINITE.bad(pl.col(c)).fill_null(False) for c in floats])
    problems = []
    for c in checks:
        problems += _cell_problems(path, raw, bad[c], c, f"is not {casts.TEXT_SHAPES[declared[c]]}", starts)
    for c in floats:
        problems += _cell_problems(path, raw, non_finite[c], c, casts.NON_FINITE.what, starts,
                                   casts.NON_FINITE.hint, "non-finite")
    return (None, problems) if problems else (typed, [])


def _cell_problems(path: Path, raw: pl.DataFrame, mask: pl.Series, col: str, what: str, starts: list[int],
                   hint: str = "", kind: str = "bad-value") -> list[Problem]:
    n = int(mask.sum())
    if not n:
        return []
    i = int(mask.arg_true()[0])
    more = f" ({n:,} cells)" if n > 1 else ""
    return [Problem(kind, str(path), col, f"{raw[col][i]!r} {what}{more}", hint, starts[i])]
