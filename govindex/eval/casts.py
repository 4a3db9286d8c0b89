"""How a stored column becomes a declared one: the table of accepted parquet types and the strict
text parser for CSV cells.

Parquet files carry types, and those types are the contract: a column is read when its type is
the declared one or a lossless widening of it (Int32 → int, any integer → float, Date →
datetime, Categorical → str …), or a naive Datetime for a date (its day: the declaration says
the time of day does not matter). UInt64 → int holds only up to 2^63 - 1; that is checked on
the data, and a value that does not fit is a facts error. Anything else (text in an int column,
Int64 in a bool column, a timezone-aware datetime) is a facts error: guessing would silently
change a score.

CSV cells are text. Each declared type has one strict parser; a cell that does not parse is a
facts error naming its line, never a null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

import polars as pl

INT64_MAX = 2**63 - 1

TRUE_TEXT = ("1", "true", "yes", "y", "是", "有")
FALSE_TEXT = ("0", "false", "no", "n", "否", "无")

# Text formats a CSV date or datetime cell may take (ISO 8601 without a UTC offset; / for -).
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
                    "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")


@dataclass(frozen=True, slots=True)
class Check:
    """A value check on one column: ``bad(col)`` is true on the rows that cannot be read as
    declared (null counts as readable). ``kind`` is the problem's short name."""

    bad: Callable[[pl.Expr], pl.Expr]
    kind: str
    what: str  # "is beyond the Int64 range", said of the first bad value
    hint: str = ""
    physical: bool = False  # show the stored number: the value itself cannot be converted


@dataclass(frozen=True, slots=True)
class Accept:
    """A stored type the declared one accepts, with the value checks that must hold."""

    checks: tuple[Check, ...] = ()


NON_FINITE = Check(lambda c: c.cast(pl.Float64).is_finite().not_(), "non-finite", "is not a finite number",
                   "inf, -inf and NaN are not facts: leave the cell empty (null) when there is no value")
_INT_RANGE = Check(lambda c: c > INT64_MAX, "out-of-range", "is beyond the Int64 range (2^63 - 1)",
                   "an int column holds 64-bit signed integers; declare the column float for larger values")

# Days from 1970-01-01 to 0001-01-01 and to 9999-12-31: the years a date can be written in.
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896


def _out_of_years(per_day: int, unit: str) -> Check:
    lo, hi = _FIRST_DAY * per_day, (_LAST_DAY + 1) * per_day - 1
    return Check(lambda c: (c.to_physical() < lo) | (c.to_physical() > hi), "out-of-range",
                 f"{unit} from 1970-01-01 is not a date between the years 1 and 9999",
                 "a damaged file, or a number stored as a date", physical=True)


def _accept_time(d: pl.DataType) -> Accept | None:
    """A Date, or a naive Datetime, for a date or a datetime column. Days and milliseconds reach
    beyond what µs (the engine's unit) can hold: there the values must lie in the years 1–9999."""
    if _is(d, pl.Date):
        return Accept((_out_of_years(1, "days"),))
    if not _naive(d):
        return None
    # µs is what the engine computes in: its whole range converts; ms converts only within it
    ms = d.time_unit == "ms"
    return Accept((_out_of_years(86_400_000, "milliseconds"),) if ms else ())


_SMALL_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
_ALL_INTS = (*_SMALL_INTS, pl.UInt64)


def _is(dtype: object, *classes: type[pl.DataType]) -> bool:
    return any(dtype == c or isinstance(dtype, c) for c in classes)


def _naive(dtype: object) -> TypeGuard[pl.Datetime]:
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is None


def _accept_int(d: pl.DataType) -> Accept | None:
    if _is(d, *_SMALL_INTS):
        return Accept()
    return Accept((_INT_RANGE,)) if _is(d, pl.UInt64) else None


def _accept_float(d: pl.DataType) -> Accept | None:
    if _is(d, *_ALL_INTS):
        return Accept()  # exact up to 2^53, within a relative 1e-16 beyond
    return Accept((NON_FINITE,)) if _is(d, pl.Float32, pl.Float64, pl.Decimal) else None


def _accept_str(d: pl.DataType) -> Accept | None:
    # An integer column of codes (130100) reads unambiguously as their decimal text.
    return Accept() if _is(d, pl.String, pl.Categorical, pl.Enum, *_ALL_INTS) else None


def _accept_list(d: pl.DataType) -> Accept | None:
    if isinstance(d, pl.List) and _is(d.inner, pl.String, pl.Categorical, pl.Enum, pl.Null):
        return Accept()
    return None


_ACCEPT: dict[str, Callable[[pl.DataType], Accept | None]] = {
    "int": _accept_int,
    "float": _accept_float,
    "str": _accept_str,
    "bool": lambda d: Accept() if _is(d, pl.Boolean) else None,
    "date": _accept_time,
    "datetime": _accept_time,
    "list[str]": _accept_list,
}


def accept(declared: str, dtype: pl.DataType) -> Accept | None:
    """How a stored column of ``dtype`` is read as ``declared``, or None when it cannot be."""
    if _is(dtype, pl.Null):
        return Accept()  # every value null: fits any type
    return _ACCEPT[declared](dtype)


def type_hint(declared: str, dtype: pl.DataType) -> str:
    """What to do about a stored type the declared one does not accept."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return ("store naive local times (the rule set's round dates are local), e.g. "
                "`.dt.convert_time_zone('Asia/Shanghai').dt.replace_time_zone(None)`")
    if _is(dtype, pl.String):
        return f"a parquet column's type is the contract: write {declared} values, not text"
    if declared == "bool":
        return "write a boolean column (true/false)"
    if declared == "list[str]":
        return "write a list-of-strings column (in a CSV file, separate items with |)"
    return f"write the column as {declared}, or declare the type it holds"


# ------------------------------------------------------------------ CSV text


def _stripped(c: str) -> pl.Expr:
    return pl.col(c).str.strip_chars()


def _first_of(exprs: list[pl.Expr]) -> pl.Expr:
    return pl.coalesce(exprs) if len(exprs) > 1 else exprs[0]




def _bool_text(c: str) -> pl.Expr:
    low = _stripped(c).str.to_lowercase()
    return pl.when(low.is_in(list(TRUE_TEXT))).then(True).when(low.is_in(list(FALSE_TEXT))).then(False)


def _list_text(c: str) -> pl.Expr:
    col = pl.col(c)
    return pl.when(col.is_null()).then(pl.lit([], pl.List(pl.String()))).otherwise(col.str.split("|"))


_FROM_TEXT: dict[str, Callable[[str], pl.Expr]] = {
    "str": lambda c: pl.col(c),
    "int": lambda c: _stripped(c).cast(pl.Int64, strict=False),  # digits and a sign: not 12.5, 1e3, 34,603
    "float": lambda c: _stripped(c).cast(pl.Float64, strict=False),
    "bool": _bool_text,
    "date": lambda c: _first_of([_stripped(c).str.to_date(f, strict=False) for f in DATE_FORMATS]),
    "datetime": lambda c: _first_of([_stripped(c).str.to_datetime(f, strict=False, time_unit="us")
                                     for f in DATETIME_FORMATS]),
    "list[str]": _list_text,
}

TEXT_SHAPES = {
    "int": "an integer (digits, optional sign; no separators, decimals or %)",
    "float": "a number (1234.5 or 1.2e3; no separators or %)",
    "bool": "yes/no, true/false, 1/0, 是/否 or 有/无",
    "date": "a valid date YYYY-MM-DD",
    "datetime": "a date and time YYYY-MM-DD HH:MM[:SS] without a UTC offset",
}


def from_text(column: str, declared: str) -> pl.Expr:
    """The strict reading of a text column (blank cells already null) as ``declared``: null where
    the cell is blank or does not parse; :func:`text_bad` tells the two apart."""
    return _FROM_TEXT[declared](column).alias(column)


def text_bad(column: str, declared: str) -> pl.Expr:
    """True on the cells of a text column that are not blank but do not parse as ``declared``."""
    if declared in ("str", "list[str]"):
        return pl.lit(False)
    return pl.col(column).is_not_null() & _FROM_TEXT[declared](column).is_null()
