"""A CSV fact table, read strictly: UTF-8 (a BOM is fine), one header, every record as wide as the
header, every cell parsed as its column's declared type. Each problem is located by line.

Two readers, one result: when no quoted cell spans lines (every line holds an even number of
quotes) the lines are checked and parsed vectorised, by polars; otherwise Python's csv module
reads record by record (slower, and exact about where each record starts)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from govindex.diagnostics import Diagnostic
from govindex.eval import casts
from govindex.eval.problems import problem

_NOT_UTF8_HINT = ("save the file as UTF-8; a file from Excel in Chinese Windows is usually GB18030: "
                  "`iconv -f GB18030 -t UTF-8 in.csv > out.csv`")


def read_csv_facts(path: Path, declared: dict[str, str]) -> tuple[pl.DataFrame | None, list[Diagnostic]]:
    """The declared columns of ``path`` typed as declared, or None and the problems found. A blank
    (or all-space) cell is null; other columns are ignored."""
    text, problems = _decode(path)
    if text is None:
        return None, problems
    lines = pl.Series("line", [text]).str.split("\n").explode().str.strip_suffix("\r")
    multiline = bool((lines.str.count_matches('"') % 2 == 1).any())
    header, records, starts, problems = (None if multiline else _lines(path, lines, text)) or _records(path, text)
    if problems:
        return None, problems
    cols, problems = _columns(path, header, declared)
    if problems:
        return None, problems
    raw = records.select([pl.when(pl.col(f"f{i}").str.strip_chars() != "").then(pl.col(f"f{i}")).alias(c)
                          for c, i in cols.items()])
    return _typed(path, raw, declared, starts)


def _ragged(path: Path, width: int, ragged: list[tuple[int, int]]) -> list[Diagnostic]:
    first, n = ragged[0]
    more = f"; {len(ragged):,} such records" if len(ragged) > 1 else ""
    return [problem("ragged", str(path), None, f"{n} fields where the header has {width}{more}",
                    "every record needs as many fields as the header; quote cells that hold commas", first)]


def _lines(path: Path, lines: pl.Series, text: str) -> tuple[list[str], pl.DataFrame, list[int], list[Diagnostic]] | None:
    """Records one per line (no quoted cell spans lines): widths counted outside quotes, blank
    lines skipped, cells split by polars' CSV reader; None when polars reads the lines otherwise
    than they were counted (odd quoting): then the csv module decides."""
    header = next(csv.reader([lines[0]]), [])
    if not header:
        return [], pl.DataFrame(), [], [problem("missing-column", str(path), None, "empty: no header line")]
    frame = pl.DataFrame({"line": lines}).with_row_index("no", offset=1).slice(1).filter(pl.col("line") != "")
    unquoted = pl.when(pl.col("line").str.contains('"', literal=True)).then(pl.col("line").str.replace_all('"[^"]*"', ""))
    fields = unquoted.otherwise(pl.col("line")).str.count_matches(",", literal=True) + 1
    bad = frame.filter(fields != len(header)).select("no", fields.alias("n"))
    if bad.height:
        return header, pl.DataFrame(), [], _ragged(path, len(header), bad.rows())
    blank = frame.height < lines.len() - 1 - (lines[-1] == "")  # blank lines inside: leave them out
    body = (pl.concat([lines.head(1), frame["line"]]).str.join("\n")[0] if blank else text).encode()
    names = [f"f{i}" for i in range(len(header))]
    try:
        records = pl.read_csv(io.BytesIO(body), has_header=True, new_columns=names, infer_schema=False,
                              empty_string_is_null=False, raise_if_empty=False)
    except pl.exceptions.PolarsError:
        return None
    if records.height != frame.height:
        return None
    return [h.strip() for h in header], records, frame["no"].to_list(), []


def _decode(path: Path) -> tuple[str | None, list[Diagnostic]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [problem("unreadable", str(path), None, f"cannot read: {exc.strerror or exc}")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [problem("encoding", str(path), None,
                              f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded", _NOT_UTF8_HINT, line)]


def _records(path: Path, text: str) -> tuple[list[str], pl.DataFrame, list[int], list[Diagnostic]]:
    """Records by Python's csv module, each with the line it starts on (quoted cells may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], pl.DataFrame(), [], [problem("missing-column", str(path), None, "empty: no header line")]
    except csv.Error as exc:
        return [], pl.DataFrame(), [], [problem("ragged", str(path), None, f"the header is not CSV: {exc}", "", 1)]
    records, starts, ragged, line = [], [], [], reader.line_num
    try:
        for rec in reader:
            if rec:  # a blank line holds no record
                if len(rec) != len(header):
                    ragged.append((line + 1, len(rec)))
                records.append(rec)
                starts.append(line + 1)
            line = reader.line_num
    except csv.Error as exc:
        return header, pl.DataFrame(), [], [problem("ragged", str(path), None, f"not CSV: {exc}", "", reader.line_num)]
    if ragged:
        return header, pl.DataFrame(), [], _ragged(path, len(header), ragged)
    columns = {f"f{i}": [r[i] for r in records] for i in range(len(header))}
    return header, pl.DataFrame(columns, schema={k: pl.String for k in columns}), starts, []


def _columns(path: Path, header: list[str], declared: dict[str, str]) -> tuple[dict[str, int], list[Diagnostic]]:
    problems: list[Diagnostic] = []
    at: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in at and h in declared:
            problems.append(problem("duplicate-column", str(path), h, f"appears twice in the header "
                                    f"(fields {at[h] + 1} and {i + 1})", "", 1))
        at.setdefault(h, i)
    for col, typ in declared.items():
        if col not in at:
            problems.append(problem("missing-column", str(path), col, f"missing (declared {typ})",
                                    f"the header has {', '.join(header) or 'nothing'}", 1))
    return {c: at[c] for c in declared if c in at}, problems


def _typed(path: Path, raw: pl.DataFrame, declared: dict[str, str],
           starts: list[int]) -> tuple[pl.DataFrame | None, list[Diagnostic]]:
    typed = raw.select([casts.from_text(c, t) for c, t in declared.items()])
    parsed = [c for c, t in declared.items() if t not in ("str", "list[str]")]
    # a cell that is not blank but reads as null did not parse
    bad = pl.DataFrame([raw[c].is_not_null() & typed[c].is_null() for c in parsed])
    floats = [c for c, t in declared.items() if t == "float"]
    non_finite = typed.select([casts.NON_FINITE.bad(pl.col(c)).fill_null(False) for c in floats])
    problems = []
    for c in parsed:
        problems += _cell_problems(path, raw, bad[c], c, f"is not {casts.TEXT_SHAPES[declared[c]]}", starts)
    for c in floats:
        problems += _cell_problems(path, raw, non_finite[c], c, casts.NON_FINITE.what, starts,
                                   casts.NON_FINITE.hint, "non-finite")
    return (None, problems) if problems else (typed, [])


def _cell_problems(path: Path, raw: pl.DataFrame, mask: pl.Series, col: str, what: str, starts: list[int],
                   hint: str = "", kind: str = "bad-value") -> list[Diagnostic]:
    n = int(mask.sum())
    if not n:
        return []
    i = int(mask.arg_true()[0])
    more = f" ({n:,} cells)" if n > 1 else ""
    return [problem(kind, str(path), col, f"{raw[col][i]!r} {what}{more}", hint, starts[i])]
