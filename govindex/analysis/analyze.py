"""Results → the report's statistics (SPEC §1.5): the ``analyze`` stage.

:func:`load_results` (:mod:`govindex.analysis.load`) reads a ``score --out`` directory.
:func:`analyze` turns loaded
results — and optionally a previous year's — into one JSON-ready dict, documented in the README
("Analysis: govindex analyze"). Every figure is computed from unrounded scores; derived figures
(rates of means, shares of a reference, ratios, ranges, changes) from the exact figures, or with
``--from-published D`` from the figures as published at D decimals (:class:`stats.Published`);
standard deviations are population SDs unless ``--sd sample``; units whose total is null are left
out of every statistic. The JSON keeps exact values: a printed figure is rounded once, from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from govindex.analysis import statistics as declared
from govindex.analysis import stats as st
from govindex.analysis.compare import compare
from govindex.analysis.load import TOTAL, Results, load_results  # noqa: F401 (the stage's public names)
from govindex.diagnostics import ResultsError, UsageError
from govindex.provenance import differences

DEFAULT_REGION_ATTR = "macro_region"
DEFAULT_PROVINCE_ATTR = "province"
DEFAULT_REFERENCE = "东部"
RATE_THRESHOLD = 0.6
TOP = 3
WITHIN = 3
KMEANS_RUNS = 10  # k-means++ starts; the run with the least inertia wins
FEW_COMMON = 0.5  # --previous: fewer units in both years than this share of the smaller year is noted


@dataclass(frozen=True)
class Options:
    """What ``analyze`` groups by and how it clusters (the CLI options)."""

    region_attr: str | None = None  # None: macro_region when the units have it
    province_attr: str | None = None  # None: province when the units have it
    reference_region: str | None = None  # None: 东部 when present, else the region with the highest mean
    clusters: int = 4
    seed: int = 0
    sd: st.SdKind = "population"  # --sd: population (divide by n) or sample (n − 1)
    published: int | None = None  # --from-published: derived figures from values rounded at these decimals


# --- analysis --------------------------------------------------------------------------------


def analyze(res: Results, previous: Results | None = None, options: Options | None = None) -> dict:
    """Every statistic of SPEC §1.5 for ``res`` (and its changes against ``previous``), JSON-ready."""
    opts = options or Options()
    _require_scored(res, "the results")
    doc = _analyze(res, opts)
    # Which method and data made each side (docs §16), and a note when they differ.
    doc["inputs"] = {"current": res.provenance, "previous": previous.provenance if previous is not None else None}
    if previous is not None:
        _require_scored(previous, "the previous results")
        doc["notes"] += differences(res.provenance, previous.provenance)
        doc["notes"] += _common_units(res, previous)
        prev_opts = Options(opts.region_attr, opts.province_attr, _reference_for(doc, previous, opts), 0, opts.seed,
                            opts.sd, opts.published)
        doc["previous"] = compare(doc, _analyze(previous, prev_opts), res, previous, st.Published(opts.published))
    doc["statistics"] = declared.compute(res, previous)  # `statistic` declarations (docs §14c)
    return tidy(doc)


def _scored_codes(res: Results) -> set[str]:
    return {u["code"] for u, t in zip(res.units, res.scores[TOTAL]) if not np.isnan(t)}


def _require_scored(res: Results, what: str) -> None:
    """No statistic means anything without a scored unit: an error, not an empty report."""
    if not res.units:
        raise ResultsError(f"{what} ({res.ruleset}) hold no units: nothing to analyze "
                           f"(does the rule set's units registry list any?)")
    if not _scored_codes(res):
        raise ResultsError(f"{what} ({res.ruleset}): none of the {len(res.units)} units has a total: "
                           f"nothing to analyze (see `govindex score` for why every total is null)")


def _common_units(res: Results, previous: Results) -> list[str]:
    """An error when the two years share no scored unit (not the same index); a note when few."""
    now, then = _scored_codes(res), _scored_codes(previous)
    common = now & then
    if not common:
        raise ResultsError(f"the results ({res.ruleset}, {len(now)} scored units) and --previous ({previous.ruleset}, "
                           f"{len(then)}) share no unit code: there is no year-over-year change to report "
                           f"(is --previous a result of the same index?)")
    if len(common) < FEW_COMMON * min(len(now), len(then)):
        return [f"only {len(common)} unit(s) are scored in both years ({len(now)} now, {len(then)} in "
                f"{previous.ruleset}): the changes of national and group figures compare different sets of units"]
    return []


def _reference_for(doc: dict, previous: Results, opts: Options) -> str | None:
    # The previous year is measured against the same reference region when it has one.
    ref = doc.get("reference_region")
    attr = doc.get("region_attr")
    if ref is not None and attr in previous.attrs and any(u.get(attr) == ref for u in previous.units):
        return ref
    return None


def _analyze(res: Results, opts: Options) -> dict:
    scored = ~np.isnan(res.scores[TOTAL])
    notes: list[str] = []
    region_attr = _attr(res, opts.region_attr, DEFAULT_REGION_ATTR, "region", notes)
    province_attr = _attr(res, opts.province_attr, DEFAULT_PROVINCE_ATTR, "province", notes)
    ctx = _Context(res, scored, region_attr, province_attr, opts)
    ctx.reference = _reference(ctx, opts.reference_region, notes)
    if (~scored).any():
        notes.append(f"{int((~scored).sum())} unit(s) with a null total are left out of every statistic")
    levels = [x for x in res.indicators if x["level"] <= 2]
    l3 = [x for x in res.indicators if x["level"] == 3]
    doc = {
        "ruleset": res.ruleset, "max_total": res.max_total, "sd": opts.sd, "from_published": opts.published,
        "units_total": len(res.units), "units_scored": int(scored.sum()), "units_null": int((~scored).sum()),
        "units_null_share": st.ratio(int((~scored).sum()), len(res.units)),
        "region_attr": region_attr, "province_attr": province_attr, "reference_region": ctx.reference,
        "regions": ctx.region_order, "provinces": ctx.province_order,
        "indicators": [_indicator(ctx, x) for x in levels],
        "l3": [_brief(ctx, x) for x in l3],
        "grading": _grading(ctx),
        "clusters": _clusters(ctx, opts, notes) if opts.clusters > 0 else None,
        "previous": None,
        "notes": notes,
    }
    if not l3:
        notes.append("the tree has no L3 indicators")
    if doc["grading"] is None:
        notes.append("the results carry no grading")
    return doc


def _attr(res: Results, asked: str | None, default: str, what: str, notes: list[str]) -> str | None:
    if asked is not None and asked not in res.attrs:
        raise UsageError(f"the units have no attribute `{asked}` (they have: {', '.join(res.attrs) or 'none'})")
    name = asked or default
    if name not in res.attrs:
        notes.append(f"no {what} statistics: the units have no `{name}` attribute "
                     f"(use --{what}-attr with one of: {', '.join(res.attrs) or 'none'})")
        return None
    return name


class _Context:
    """The scored units of one result and their groupings, shared by every indicator's figures."""

    def __init__(self, res: Results, scored: np.ndarray, region_attr: str | None, province_attr: str | None,
                 opts: Options):
        self.res, self.scored = res, scored
        self.sd: st.SdKind = opts.sd
        self.pub = st.Published(opts.published)
        self.units = [u for u, s in zip(res.units, scored) if s]
        self.region_attr, self.province_attr = region_attr, province_attr
        self.regions = [str(u.get(region_attr)) for u in self.units] if region_attr else []
        self.provinces = [str(u.get(province_attr)) for u in self.units] if province_attr else []
        self.region_order = _first_seen(self.units, region_attr)
        self.province_order = _first_seen(self.units, province_attr)
        self.reference: str | None = None

    def values(self, node: str) -> np.ndarray:
        return self.res.scores[node][self.scored]


def _first_seen(units: list[dict], attr: str | None) -> list[str]:
    # Order of first appearance by unit code: for the 2019 registry 东部, 中部, 西部, 东北.
    # A unit without a value for the attribute is in no group (but still in the national figures).
    if attr is None:
        return []
    return list(dict.fromkeys(str(u[attr]) for u in sorted(units, key=lambda u: u["code"])
                              if u.get(attr) not in (None, "")))


def _reference(ctx: _Context, asked: str | None, notes: list[str]) -> str | None:
    if ctx.region_attr is None:
        if asked is not None:
            raise UsageError("--reference-region needs a region attribute on the units (see --region-attr)")
        return None
    if asked is not None:
        if asked not in ctx.region_order:
            raise UsageError(f"no region `{asked}` (regions: {', '.join(ctx.region_order)})")
        return asked
    if DEFAULT_REFERENCE in ctx.region_order:
        return DEFAULT_REFERENCE
    gs = st.groups(ctx.values(TOTAL), ctx.regions, ctx.region_order)
    if not gs:
        return None
    best = max(gs, key=lambda g: g.mean)  # first of equal means, in region order
    notes.append(f"reference region: {best.name}, the highest mean total (no region `{DEFAULT_REFERENCE}`)")
    return best.name


def _ok(ctx: _Context, node: str) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """Scores of ``node`` for the scored units where it is not null, those units, and the mask."""
    v = ctx.values(node)
    keep = ~np.isnan(v)
    return v[keep], [u for u, k in zip(ctx.units, keep) if k], keep


def _brief(ctx: _Context, x: dict) -> dict:
    v, units, _ = _ok(ctx, x["id"])
    m = st.mean(v)
    zero = int(st.is_zero(v).sum())
    return {"id": x["id"], "name": x["name"], "level": x["level"], "parent": x["parent"], "max": x["max"],
            "n": len(v), "mean": m, "rate": st.ratio(ctx.pub.value(m), x["max"]), "sd": st.sd(v, ctx.sd),
            "zero": zero, "zero_share": st.ratio(zero, len(v))}


def _indicator(ctx: _Context, x: dict) -> dict:
    v, units, keep = _ok(ctx, x["id"])
    doc = _brief(ctx, x)
    n, m = len(v), doc["mean"]
    rates = v / x["max"] if x["max"] else np.full(n, np.nan)
    n_above = int(st.above(v, m).sum()) if n else 0
    n_60 = int(st.above(rates, RATE_THRESHOLD).sum()) if n else 0
    doc.update({
        "above_mean": {"count": n_above, "share": st.ratio(n_above, n)},
        "rate_above_60": {"count": n_60, "share": st.ratio(n_60, n)},
        "lowest": _extreme(v, units, low=True), "highest": _extreme(v, units, low=False),
        "top": _top(v, units, TOP),
        "regions": _regions(ctx, x, v, keep) if ctx.region_attr else None,
        "provinces": _provinces(ctx, x, v, keep, doc["sd"]) if ctx.province_attr else None,
    })
    return doc


def _extreme(v: np.ndarray, units: list[dict], low: bool) -> dict | None:
    if not len(v):
        return None
    score = float(v.min() if low else v.max())
    at = [u for u, s in zip(units, v) if abs(s - score) <= st.TOLERANCE * max(1.0, abs(score))]
    first = min(at, key=lambda u: u["code"])
    return {"score": score, "count": len(at), "code": first["code"], "name": first["name"]}


def _top(v: np.ndarray, units: list[dict], k: int) -> list[dict]:
    order = sorted(range(len(v)), key=lambda i: (-v[i], units[i]["code"]))
    return [{"code": units[i]["code"], "name": units[i]["name"], "score": float(v[i])} for i in order[:k]]


def _regions(ctx: _Context, x: dict, v: np.ndarray, keep: np.ndarray) -> list[dict]:
    keys = [k for k, ok in zip(ctx.regions, keep) if ok]
    gs = st.groups(v, keys, ctx.region_order, ctx.sd)
    pub = ctx.pub.value
    ref = next((g.mean for g in gs if g.name == ctx.reference), None)
    return [{"name": g.name, "n": g.n, "share": st.ratio(g.n, len(v)), "mean": g.mean,
             "rate": st.ratio(pub(g.mean), x["max"]), "share_of_reference": st.ratio(pub(g.mean), pub(ref))}
            for g in gs]


def _provinces(ctx: _Context, x: dict, v: np.ndarray, keep: np.ndarray, unit_sd: float | None) -> dict:
    keys = [k for k, ok in zip(ctx.provinces, keep) if ok]
    gs = st.groups(v, keys, ctx.province_order, ctx.sd)
    means = np.array([g.mean for g in gs])
    prov_sd = st.sd(means, ctx.sd)
    hi = max(gs, key=lambda g: g.mean) if gs else None
    lo = min(gs, key=lambda g: g.mean) if gs else None
    pub = ctx.pub.value
    excess = st.ratio(pub(unit_sd), pub(prov_sd))
    # A province of one unit has no spread to speak of: it is not ranked by within-province SD.
    spread = sorted((g for g in gs if g.n >= 2 and g.sd is not None), key=lambda g: (-(g.sd or 0.0), g.name))
    return {
        "groups": [{"name": g.name, "n": g.n, "share": st.ratio(g.n, len(v)), "mean": g.mean,
                    "rate": st.ratio(pub(g.mean), x["max"]), "sd": g.sd if g.n >= 2 else None}
                   for g in sorted(gs, key=lambda g: -g.mean)],
        "sd": prov_sd,
        "highest": {"name": hi.name, "mean": hi.mean} if hi else None,
        "lowest": {"name": lo.name, "mean": lo.mean} if lo else None,
        "ratio": st.ratio(pub(hi.mean), pub(lo.mean)) if hi and lo else None,
        "range": _range(hi, lo, pub),
        "unit_sd": unit_sd,
        "unit_sd_excess_pct": None if excess is None else (excess - 1) * 100,
        "within_sd_largest": [{"name": g.name, "n": g.n, "sd": g.sd} for g in spread[:WITHIN]],
        "within_sd_smallest": [{"name": g.name, "n": g.n, "sd": g.sd}
                               for g in sorted(spread, key=lambda g: (g.sd or 0.0, g.name))[:WITHIN]],
    }


def _range(hi: st.Group | None, lo: st.Group | None, pub) -> dict | None:
    """极差: the highest province mean minus the lowest, and which provinces they are."""
    if hi is None or lo is None:
        return None
    return {"value": pub(hi.mean) - pub(lo.mean), "highest": hi.name, "lowest": lo.name}


def _grading(ctx: _Context) -> dict | None:
    g = ctx.res.grading
    if not g:
        return None
    totals = ctx.values(TOTAL)
    grades = [u.get("grade") for u in ctx.units]
    n = len(totals)
    classes = []
    for c in g.get("classes", []):
        v = totals[np.array([gr == c["id"] for gr in grades], dtype=bool)] if n else totals
        classes.append({"id": c["id"], "label": c.get("label"), "count": len(v), "share": st.ratio(len(v), n),
                        "mean": st.mean(v), "lowest": float(v.min()) if len(v) else None,
                        "highest": float(v.max()) if len(v) else None})
    subs: dict[str, int] = {}
    for u in ctx.units:
        if u.get("sublevel"):
            subs[u["sublevel"]] = subs.get(u["sublevel"], 0) + 1
    return {"label": g.get("label"), "method": g.get("method"), "classes": classes, "sublevels": subs,
            "sublevel_shares": {k: st.ratio(c, n) for k, c in subs.items()}, "breaks": g.get("breaks", [])}


def _clusters(ctx: _Context, opts: Options, notes: list[str]) -> dict | None:
    feats = [x for x in ctx.res.indicators if x["level"] == 2] or [x for x in ctx.res.indicators if x["level"] == 1]
    if not feats or not ctx.units:
        notes.append("no clusters: no indicators or no scored units")
        return None
    if feats[0]["level"] == 1:
        notes.append("clusters over L1 score rates: the tree has no L2 indicators")
    x = np.column_stack([ctx.values(f["id"]) / f["max"] for f in feats])
    keep = ~np.isnan(x).any(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} unit(s) with a null feature are not clustered")
    units = [u for u, k in zip(ctx.units, keep) if k]
    totals = ctx.values(TOTAL)[keep]
    km = st.kmeans(x[keep], opts.clusters, seed=opts.seed, n_init=KMEANS_RUNS)
    if km.centers.shape[0] < opts.clusters:
        notes.append(f"{opts.clusters} clusters asked, {km.centers.shape[0]} units to cluster")
    found: list[dict[str, Any]] = []
    for j in range(km.centers.shape[0]):
        idx = np.flatnonzero(km.labels == j)
        if not len(idx):  # units with equal rates share a centre: fewer clusters than asked
            continue
        order = sorted(idx, key=lambda i: (-totals[i], units[i]["code"]))
        found.append({"size": len(idx), "share": len(idx) / len(units), "mean_total": float(totals[idx].mean()),
                      "rates": {f["id"]: float(x[keep][idx, c].mean()) for c, f in enumerate(feats)},
                      "members": [{"code": units[i]["code"], "name": units[i]["name"], "total": float(totals[i])}
                                  for i in order]})
    found.sort(key=lambda c: (-c["mean_total"], c["members"][0]["code"]))
    if len(found) < km.centers.shape[0]:
        notes.append(f"{len(found)} clusters: the other units have the same score rates as one of them")
    return {"k": len(found), "seed": opts.seed, "init": "k-means++", "n_init": KMEANS_RUNS,
            "features": [f["id"] for f in feats],
            "units": len(units), "inertia": km.inertia,
            "clusters": [{"id": i + 1, **c} for i, c in enumerate(found)]}


# --- output ----------------------------------------------------------------------------------


def tidy(value):
    """Plain JSON values, recursively: NaN becomes None, numpy numbers Python ones.

    Floats keep their exact value (no rounding here: a printed figure is rounded once, from it).
    """
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if np.isnan(f) else f + 0.0
    if isinstance(value, np.integer):
        return int(value)
    return value
