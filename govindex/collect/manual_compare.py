"""Double entry: two filled books of the same cells compared cell by cell (``manual compare``).

Both books are read and checked as an import would (:func:`govindex.collect.manual_import.read_book`:
a bad cell in either is an error, nothing compared). Every unit × point then falls in one of:

- **agree**: both books hold the same value (within the entry tolerance of
  :data:`govindex.eval.compile.ENTRY_EPS`);
- **disagree**: both hold a value and they differ — listed by both cells:
  ``a.xlsx:录入!G5 = 1 vs b.xlsx:录入!G5 = 0.5``, with the unit and the point;
- **only in A** / **only in B**: one book left the cell blank.

The cells are found by unit × point, not by position: two books with their rows or columns in
another order compare the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from govindex.collect.manual import ManualImportError, manual_points, num
from govindex.collect.manual_import import Book, read_book
from govindex.collect.manual_merge import Entry
from govindex.diagnostics import GovindexError
from govindex.eval.compile import ENTRY_EPS
from govindex.ir import RuleSet


@dataclass
class Comparison:
    """The outcome of comparing book ``a`` with book ``b``."""

    a: Book
    b: Book
    agree: int = 0
    disagree: list[tuple[Entry, Entry]] = field(default_factory=list)
    only_a: list[Entry] = field(default_factory=list)
    only_b: list[Entry] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # point id → label
    names: dict[str, str] = field(default_factory=dict)  # unit code → name

    def render(self) -> str:
        """The comparison as text: a summary line, then every disagreement and every one-sided cell."""
        a, b = self.a.path.name, self.b.path.name
        lines = [f"{a} ({_who(self.a)}) vs {b} ({_who(self.b)}), round {self.a.round}: "
                 f"{self.agree} cells agree, {len(self.disagree)} disagree, {len(self.only_a)} only in {a}, "
                 f"{len(self.only_b)} only in {b}"]
        if self.disagree:
            lines.append("不一致 disagreements:")
        for x, y in self.disagree:
            lines.append(f"  {_cell(x)} = {num(x.value)} vs {_cell(y)} = {num(y.value)}   {self._what(x)}")
        for book, only in ((a, self.only_a), (b, self.only_b)):
            if only:
                lines.append(f"仅 {book} 填写 only in {book}:")
            lines += [f"  {_cell(e)} = {num(e.value)}   {self._what(e)}" for e in only]
        return "\n".join(lines)

    def _what(self, e: Entry) -> str:
        return f"{e.unit} {self.names.get(e.unit, '')} · {e.point} {self.labels.get(e.point, '')}".rstrip()

    def to_json(self) -> dict[str, object]:
        def side(e: Entry) -> dict[str, object]:
            return {"book": Path(e.where.path).name, "cell": f"{e.where.sheet}!{e.where.ref}", "value": e.value,
                    "collector": e.collector}

        def one(e: Entry, **more: object) -> dict[str, object]:
            return {"unit": e.unit, "unit_name": self.names.get(e.unit, ""), "point": e.point,
                    "label": self.labels.get(e.point, ""), **more}

        return {"a": str(self.a.path), "b": str(self.b.path), "round": self.a.round, "agree": self.agree,
                "disagree": [one(x, a=side(x), b=side(y)) for x, y in self.disagree],
                "only_a": [one(e, a=side(e)) for e in self.only_a], "only_b": [one(e, b=side(e)) for e in self.only_b]}


def _who(book: Book) -> str:
    """Who filled a book: its metadata's collector, else the 采集人 of its entries."""
    return book.collector or "、".join(sorted({e.collector for e in book.entries} - {""})) or "采集人未填"


def _cell(e: Entry) -> str:
    return f"{Path(e.where.path).name}:{e.where.sheet}!{e.where.ref}"


class CompareError(GovindexError):
    """A book to compare has bad cells (the import's diagnostics); nothing was compared."""

    def __init__(self, exc: ManualImportError):
        self.diagnostics = exc.problems
        super().__init__(str(exc).replace(", nothing imported", ", nothing compared", 1))


def compare_books(rs: RuleSet, a: Path, b: Path, round_no: int | None = None) -> Comparison:
    """Compare two filled books of ``rs`` cell by cell (see the module's docstring);
    :class:`CompareError` if either has a bad cell."""
    try:
        book_a = read_book(Path(a), rs, round_no)
        book_b = read_book(Path(b), rs, round_no if round_no is not None else book_a.round)
    except ManualImportError as exc:
        raise CompareError(exc) from None
    out = Comparison(book_a, book_b, labels={p.id: p.label for p in manual_points(rs)},
                     names={u.code: u.name for u in rs.units})
    order = {p.id: i for i, p in enumerate(manual_points(rs))}
    units = {u.code: i for i, u in enumerate(rs.units)}
    in_b = {(e.unit, e.point): e for e in book_b.entries}
    in_a = {(e.unit, e.point): e for e in book_a.entries}
    for key in sorted(in_a.keys() | in_b.keys(), key=lambda k: (units.get(k[0], 0), order.get(k[1], 0))):
        x, y = in_a.get(key), in_b.get(key)
        if x is None:
            out.only_b.append(y)  # type: ignore[arg-type]
        elif y is None:
            out.only_a.append(x)
        elif abs(x.value - y.value) <= ENTRY_EPS * max(1.0, abs(x.value)):
            out.agree += 1
        else:
            out.disagree.append((x, y))
    return out
