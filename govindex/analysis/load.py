"""Reading a results directory (a ``score --out`` generation): ``scores.json`` for the tree, the
units and the grading; ``scores_long.parquet`` for the unrounded scores."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from govindex.diagnostics import OutputError, ResultsError
from govindex.fsio import check_manifest, recover_dir

TOTAL = "total"  # the root's node id in scores_long.parquet (govindex.ir.ROOT)
# scores.json does not carry the rule set's total_label: the engine's default, in the tree's language.
TOTAL_NAMES = ("总分", "Total")
# Keys of a unit in scores.json that are not registry attributes.
_UNIT_KEYS = {"code", "name", "total", "rank", "grade", "sublevel", "scores", "points", "status"}


@dataclass(frozen=True)
class Results:
    """One ``score --out`` directory, loaded: the tree, the units and their unrounded scores."""

    ruleset: str
    max_total: float
    indicators: list[dict]  # the root first, then scores.json "indicators" in tree order
    units: list[dict]  # scores.json units without scores/points/status (code, name, attrs, rank, grade…)
    attrs: list[str]  # registry attributes present on the units (province, macro_region, region…)
    scores: dict[str, np.ndarray]  # node id → unrounded score per unit (aligned with units; NaN = null)
    grading: dict | None = None
    provenance: dict | None = None  # scores.json "provenance" (govindex.provenance.build), when it has one
    # For the statistics declared in the rules (analysis/statistics.py): scores.json "points", the
    # points' unrounded scores (aligned with units), and scores.json "statistics".
    points: list[dict] = field(default_factory=list)
    point_scores: dict[str, np.ndarray] = field(default_factory=dict)
    statistics: list[dict] = field(default_factory=list)

    def names(self) -> dict[str, str]:
        return {u["code"]: u["name"] for u in self.units}


def load_results(path: Path) -> Results:
    """Read ``scores.json`` and ``scores_long.parquet`` from a results directory.

    A swap a killed ``score --out`` left half done is finished first; when the directory carries a
    ``generation.json`` manifest, both files must be the ones it records (never two scoring runs)."""
    import polars as pl

    _recover(path)
    js, long = path / "scores.json", path / "scores_long.parquet"
    missing = [p.name for p in (js, long) if not p.is_file()]
    if missing:
        raise ResultsError(f"{path} is not a results directory: no {' and no '.join(missing)} "
                           f"(write one with `govindex score RULES --facts DIR --out {path}`)")
    _, mixed = check_manifest(path, [js.name, long.name])
    if mixed:
        raise ResultsError(f"{path}: the files are not of one scoring run ({'; '.join(mixed)}); "
                           f"score again with `--out {path}`")
    try:
        doc = json.loads(js.read_text(encoding="utf-8"))
        frame = pl.read_parquet(long, columns=["code", "node", "score"])
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise ResultsError(f"{path}: cannot read the results: {exc}") from exc
    if not isinstance(doc, dict) or not {"indicators", "units"} <= doc.keys():
        raise ResultsError(f"{js}: not a scores.json document (no \"indicators\" or \"units\")")
    if doc.get("has_total") is False:
        raise ResultsError(f"{path}: the rule set publishes no total (`total: none`), and the analysis and the "
                           "report compare units by their total; read the categories in scores.csv, "
                           "scores.xlsx or scores_long.parquet")
    try:
        return _results(doc, frame, path)
    except (KeyError, TypeError, AttributeError, pl.exceptions.PolarsError) as exc:
        raise ResultsError(f"{js}: not of the `score --out` shape ({type(exc).__name__}: {exc})") from None


def _recover(path: Path) -> None:
    # A reader finishes an interrupted swap too (the directory may be missing until it is); on a
    # read-only filesystem it cannot, and the files are read as they are.
    try:
        recover_dir(path)
    except OutputError:
        pass


def _total_name(indicators: list[dict]) -> str:
    cjk = any("\u4e00" <= ch <= "\u9fff" for x in indicators for ch in str(x.get("name", "")))
    return TOTAL_NAMES[0] if cjk or not indicators else TOTAL_NAMES[1]


def _results(doc: dict, frame, path: Path) -> Results:
    import polars as pl

    max_total = float(doc.get("max_total") or 0.0)
    root = {"id": TOTAL, "name": doc.get("total_label") or _total_name(doc["indicators"]), "level": 0, "parent": None,
            "max": max_total, "aggregate": None}
    indicators = [root, *doc["indicators"]]
    units = [{k: v for k, v in u.items() if k not in ("scores", "points", "status")} for u in doc["units"]]
    codes = [u["code"] for u in units]
    ids = [x["id"] for x in indicators]
    pids = [p["id"] for p in doc.get("points") or []] if doc.get("statistics") else []
    wide = (frame.filter(pl.col("node").is_in([*ids, *pids]))
            .pivot(on="node", index="code", values="score", aggregate_function="first"))
    wide = pl.DataFrame({"code": codes}, schema={"code": pl.String}).join(wide, on="code", how="left")
    absent = [i for i in ids if i not in wide.columns]
    if absent and codes:  # results with no units have no scores at all (analyze() says so)
        raise ResultsError(f"{path}: scores_long.parquet has no scores for {', '.join(absent[:5])}"
                           f"{' …' if len(absent) > 5 else ''} — not the results of the same scoring run?")
    scores = {i: wide[i].cast(pl.Float64).fill_null(float("nan")).to_numpy() if i in wide.columns
              else np.full(len(codes), np.nan) for i in ids}
    attrs = [k for k in dict.fromkeys(k for u in units for k in u) if k not in _UNIT_KEYS]
    prov = doc.get("provenance")
    points = {p: wide[p].cast(pl.Float64).fill_null(float("nan")).to_numpy() if p in wide.columns
              else np.full(len(codes), np.nan) for p in pids}
    return Results(str(doc.get("ruleset", path.name)), max_total, indicators, units, attrs, scores,
                   doc.get("grading"), prov if isinstance(prov, dict) else None,
                   list(doc.get("points") or []), points, list(doc.get("statistics") or []))
