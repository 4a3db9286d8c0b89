"""The catalogue of functions the rules language knows: their signatures, by context.

Three contexts:
- ``AGGREGATES``: probe functions over a fact table, one value per unit and round;
- ``ROW``: functions on one row of a fact table (inside ``where:`` and value expressions);
- ``FORMULAS``: scoring formulas over a point's probe value ``x``, plus unit-level maths that
  probes may also use.

A signature lists positional parameters, then keyword parameters, each with its type; the
checker validates calls against it and the compiler dispatches on the same names. Docs and
tests read this table, so a function missing here is a function that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Types of the language: num, bool, str, datetime, list (a list[str] column), strs (a list of
# string literals), nums, map (a {number: number} table), table, any.


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str
    required: bool = True
    literal: bool = False  # must be written as a literal (or a let of one): a marker, a keyword, a pattern

    @property
    def is_list(self) -> bool:
        """Takes a list: a list column, a list of literals, a threshold table."""
        return self.type in ("list", "strs", "nums", "map")


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    params: tuple[Param, ...]
    returns: str
    doc: str
    kwonly: tuple[Param, ...] = field(default=())
    variadic: bool = False  # accepts any number of positional arguments of params[0].type
    across_units: bool = False  # needs every unit's value (normalisations)


def _p(spec: str) -> tuple[Param, ...]:
    """``name:type`` pairs; ``name?`` is optional, ``type!`` must be a literal."""
    out = []
    for part in spec.split():
        name, _, typ = part.partition(":")
        req = not name.endswith("?")
        out.append(Param(name.rstrip("?"), typ.rstrip("!"), req, typ.endswith("!") or typ in ("strs", "nums", "map")))
    return tuple(out)


def _sig(name: str, pos: str, returns: str, doc: str, kw: str = "", **extra: bool) -> Signature:
    return Signature(name, _p(pos), returns, doc, _p(kw), **extra)


_WHERE = "where?:bool"
_STAT_KW = "by?:str! where?:bool"

AGGREGATES: dict[str, Signature] = {s.name: s for s in [
    _sig("any", "table:table", "bool", "Whether any row matches `where` (数据有无, presence).", _WHERE),
    _sig("count", "table:table", "num", "Number of rows matching `where` (数据量, quantity).", _WHERE),
    _sig("distinct", "table:table value:any", "num", "Exact number of distinct values among matching rows.", _WHERE),
    _sig("approx_distinct", "table:table value:any", "num",
         "Approximate (HyperLogLog) number of distinct values; for very large tables.", _WHERE),
    _sig("sum", "table:table value:num", "num", "Sum of a row expression over matching rows.", _WHERE),
    _sig("mean", "table:table value:num", "num", "Mean of a row expression over matching rows.", _WHERE),
    _sig("min", "table:table value:any", "num", "Smallest value over matching rows.", _WHERE),
    _sig("max", "table:table value:any", "num", "Largest value over matching rows.", _WHERE),
    _sig("median", "table:table value:num", "num", "Median over matching rows (e.g. reply days).", _WHERE),
    _sig("ratio", "table:table cond:bool", "num",
         "Share of rows matching `where` that also match `cond`; no data when none match `where`.", _WHERE),
    _sig("coverage", "table:table column:any expected:strs", "num",
         "Share of the expected list found in the column among matching rows (数据集合度, aggregation "
         "degree): list columns by element, text columns by substring.", _WHERE),
    _sig("days_since", "table:table column:datetime", "num",
         "Days from the newest value among matching rows to the round's reference date.", _WHERE),
    _sig("entry", "table:table", "num",
         "The value entered for this point (manual collection): the `value` column of the rows whose "
         "`point` column is this point's id."),
]}

ROW: dict[str, Signature] = {s.name: s for s in [
    _sig("has", "column:list value:str!", "bool", "The list column contains the value (a marker)."),
    _sig("has_any", "column:list values:strs", "bool", "The list column contains any of the values."),
    _sig("has_all", "column:list values:strs", "bool", "The list column contains all of the values."),
    _sig("contains", "column:str text:str!", "bool", "Substring test."),
    _sig("contains_any", "column:str keywords:strs", "bool", "Contains any keyword of the list."),
    _sig("matches", "column:str pattern:str!", "bool", "Regular expression search (Rust regex syntax)."),
    _sig("starts_with", "column:str prefix:str!", "bool", "Prefix test."),
    _sig("ends_with", "column:str suffix:str!", "bool", "Suffix test."),
    _sig("length", "column:any", "num", "Length of a text (characters) or a list (items)."),
    _sig("days_between", "start:datetime end:datetime", "num", "Days from `start` to `end` (fractional)."),
    _sig("present", "column:any", "bool", "The value is not null."),
]}

FORMULAS: dict[str, Signature] = {s.name: s for s in [
    _sig("presence", "x:any", "num", "1 when x is true or positive, else 0 (数据有无)."),
    _sig("linear", "x:num", "num", "x / cap, capped at 1.", "cap:num"),
    _sig("ramp", "x:num", "num", "(x − lo) / (hi − lo) clamped to [0, 1]; decreasing when lo > hi.", "lo:num hi:num"),
    _sig("goalpost", "x:num", "num", "Goalpost normalisation with fixed posts: (x − lo) / (hi − lo), clamped.",
         "lo:num hi:num"),
    _sig("steps", "x:num table:map", "num", "Threshold table: the rate of the highest threshold ≤ x, else 0."),
    _sig("steps_down", "x:num table:map", "num",
         "Descending threshold table (durations): the rate of the lowest threshold ≥ x, else 0."),
    _sig("log_scale", "x:num", "num", "ln(1 + x) / ln(1 + cap), capped at 1.", "cap:num"),
    _sig("sqrt_scale", "x:num", "num", "√x / √cap, capped at 1.", "cap:num"),
    _sig("minmax", "x:num", "num", "(x − min) / (max − min) across units of the round; when all are equal, 1 if x > 0 else 0.",
         across_units=True),
    _sig("zscore", "x:num", "num", "z-score across units mapped to [0, 1]: (z + span) / (2·span), clamped.",
         "span?:num", across_units=True),
    _sig("rank", "x:num", "num", "Percentile rank across units (ties averaged): 0 for the lowest, 1 for the highest.",
         across_units=True),
    _sig("best_ratio", "x:num", "num", "x divided by the best unit's x.", across_units=True),
    _sig("lognormal", "x:num", "num",
         "Log-normal curve: ½·erfc(c·(ln x − ln median)/(ln median − ln p10)), c = erfc⁻¹(0.2); x = median "
         "scores 0.5, x = p10 scores 0.9; lower is better when p10 < median. `curve: \"lighthouse\"`: "
         "Lighthouse's audit score (its erf approximation, bands, boost, two decimals).",
         "p10:num median:num curve?:str!"),
    _sig("decay", "x:num", "num", "0.5^(x / half_life): recency, e.g. days since the newest post.", "half_life:num"),
    _sig("sigmoid", "x:num", "num", "1 / (1 + e^(−steepness·(x − mid))).", "mid:num steepness?:num"),
    _sig("clamp", "x:num lo:num hi:num", "num", "x limited to [lo, hi]."),
    _sig("min", "a:num", "num", "Smallest of the arguments.", variadic=True),
    _sig("max", "a:num", "num", "Largest of the arguments.", variadic=True),
    _sig("avg", "a:num", "num", "Mean of the arguments (nulls skipped).", variadic=True),
    _sig("strict_min", "a:num", "num", "Smallest of the arguments; null when any argument is null.", variadic=True),
    _sig("strict_max", "a:num", "num", "Largest of the arguments; null when any argument is null.", variadic=True),
    _sig("strict_avg", "a:num", "num", "Mean of the arguments; null when any argument is null.", variadic=True),
    _sig("log", "x:num", "num", "Natural logarithm."),
    _sig("sqrt", "x:num", "num", "Square root."),
    _sig("abs", "x:num", "num", "Absolute value."),
    _sig("coalesce", "a:any", "num", "The first argument that is not null.", variadic=True),
    _sig("round", "x:num digits:num!", "num",
         "x rounded to `digits` decimals (0–15) by `mode` (default `half_up`; the modes of §12).", "mode?:str!"),
    _sig("floor", "x:num digits?:num!", "num", "The decimal floor of x to `digits` decimals (default 0), toward −∞."),
    _sig("ceil", "x:num digits?:num!", "num", "The decimal ceiling of x to `digits` decimals (default 0), toward +∞."),
    _sig("exp", "x:num", "num", "e^x."),
    _sig("ln", "x:num", "num", "Natural logarithm (the same as `log`)."),
    _sig("pow", "x:num y:num", "num", "x^y (null where undefined, e.g. a negative x to a fractional y)."),
    # Statistics across the units of the round (of a group with `by:`, those where `where:` holds): §9b.
    _sig("units_mean", "v:num", "num", "The exact mean of v over the units.", _STAT_KW, across_units=True),
    _sig("units_median", "v:num", "num", "R's median of v over the units.", _STAT_KW, across_units=True),
    _sig("units_sd", "v:num", "num", "The sample SD (n − 1) of v over the units.", _STAT_KW, across_units=True),
    _sig("units_skewness", "v:num", "num", "COINr's skewness (e1071 type 2) of v over the units.", _STAT_KW,
         across_units=True),
    _sig("units_kurtosis", "v:num", "num", "COINr's excess kurtosis (e1071 type 2) of v over the units.", _STAT_KW,
         across_units=True),
    _sig("units_quantile", "v:num p:num!", "num", "R's quantile of v at p over the units (type 1–9, default 7).",
         f"type?:num {_STAT_KW}", across_units=True),
    _sig("units_kth_largest", "v:num k:num!", "num", "The k-th largest v over the units (ties counted singly).",
         _STAT_KW, across_units=True),
    _sig("units_count", "v:num", "num", "The number of units with a value of v.", _STAT_KW, across_units=True),
]}
STATISTICS = tuple(n for n in FORMULAS if n.startswith("units_"))

MISSING_POLICIES = {
    "zero": "missing data scores 0",
    "exclude": "the point is left out and its parent's remaining maxima are scaled up to the parent's max",
    "null": "the parent's score becomes null (and so on up, per each node's own policy)",
}
ROUND_POLICIES = {
    "latest": "the latest round that has data",
    "mean": "mean of the rounds that have data",
    "max": "best round",
    "min": "worst round",
    "share": "share of rounds with data whose rate is above 0",
}
AGGREGATORS = {
    "sum": "sum of the children's scores, capped at max; children's maxima must add up to max",
    "capped_sum": "sum capped at max; children's maxima may add up to more (bonus points)",
    "mean": "max × mean of the children's rates: exactsum(wᵢrᵢ) / exactsum(wᵢ), weights default 1",
    "wmean": "max × weighted mean of the children's rates (`weight:` on each child), as `mean`",
    "wavg": "max × Σ rate·weight / Σ weight over the children present: the weighted average as published",
    "geomean": "max × weighted geometric mean of the children's rates, exp(Σ wᵢ ln rᵢ / Σ wᵢ)",
    "geomean_product": "max × the product-and-root: (r₁ · r₂ · … · rₙ)^(1/n), in declared order",
    "min": "max × the lowest child rate",
    "max": "max × the highest child rate",
}
ROUNDING_MODES = ("half_up", "half_even", "decimal_half_up", "decimal_half_even", "binary_half_up",
                   "r", "floor", "ceil", "truncate", "up", "down")
COLUMN_TYPES = ("str", "int", "float", "bool", "date", "datetime", "list[str]")
