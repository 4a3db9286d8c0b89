"""Explain as text: the full trace (:func:`render_text`, every probe with its evidence rows) and
the compact view of a whole unit (:func:`render_compact`, one line per point grouped under its
indicators with subtotals). Rows that fail a table's ``valid when`` rule are listed once, at the
top, never under every point."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from govindex.diagnostics import display_width
from govindex.eval import overrides as ov
from govindex.ir import ROOT


def render_text(doc: dict[str, Any], fmt_num: Callable[[float | None], str]) -> str:
    """The full trace: each node, each probe with its values per round, formula and evidence."""
    lines = _header(doc, fmt_num)
    lines += invalid_block(doc)
    for x in _tops(doc):
        _render_node(x, 0, lines, fmt_num)
    return "\n".join(lines)


def _header(doc: dict[str, Any], fmt_num: Callable[[float | None], str]) -> list[str]:
    u = doc["unit"]
    extra = " · ".join(v for k, v in u.items() if k not in ("code", "name") and v)
    total = (f"total {fmt_num(doc['reported'])}, rank {doc['rank']} of {doc['of']}" if doc.get("has_total", True)
             else f"no total (total: none): categories only, {doc['of']} units")
    return [f"{u['name']} ({u['code']}{', ' + extra if extra else ''})", total + _grades_text(doc), ""]


def _tops(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """`total: none`: the root is no result (no value to show): its categories are the top lines."""
    top = doc["node"]
    return top["children"] if not doc.get("has_total", True) and top["id"] == ROOT else [top]


def _grades_text(doc: dict[str, Any]) -> str:
    """`` · grade A 优秀 (A2) · grading groups: VH · grading bands of perf: green`` — the total's own
    grade, then each named grading (of the total, or ``of <node>``), for the header line."""
    parts = []
    if "grade" in doc:
        g = doc["grade"]
        label = f" {g['label']}" if g["label"] not in (None, g["id"]) else ""
        sub = f" ({g['sublevel']})" if g.get("sublevel") not in (None, g["id"]) else ""
        parts.append("grade —" if g["id"] is None else f"grade {g['id']}{label}{sub}")
    for gid, v in doc.get("gradings", {}).items():
        of = "" if v["node"] == ROOT else f" of {v['node']}"
        parts.append(f"grading {gid}{of}: {v['grade'] or '—'}")
    return "".join(f" · {p}" for p in parts)


def _render_node(x: dict[str, Any], depth: int, lines: list[str], f: Callable[[float | None], str]) -> None:
    pad = "  " * depth
    # One value per node: as published (val:<node> rounded by `rounding:`), the figure scores.json shows.
    score = (f"value {f(x['reported'])} (not a rate)" if x.get("value_kept")
             else f"{f(x['reported'])} / {x['max']:g}")
    if "max_in_parent" in x:
        score += f" (in its parent {f(x['in_parent'])} / {x['max_in_parent']:g})"
    if x["kind"] == "ref":
        rate = "null" if x["rate"] is None else f"{x['rate']:.4g}"
        lines.append(f"{pad}↪ {x['id']} {x['name']}  {score}  refers to {x['refers_to']} (computed once, under "
                     f"{x['declared_under']}): rate {rate} × {x['max']:g}; missing: {x['missing']}")
        return
    if x["kind"] == "indicator":
        lines.append(f"{pad}{x['id']} {x['name']}  {score}  [{x['aggregate']}]{_carried_text(x)}")
        if "excluded" in x:
            r = x["renormalised"]
            factor = "—" if r["factor"] is None else f"{r['factor']:.6g}"
            lines.append(f"{pad}    excluded {', '.join(x['excluded'])}: the others renormalised, "
                         f"× {r['max_all']:g} / {r['max_present']:g} = × {factor}")
        if "stages" in x:
            lines.append(f"{pad}    stages {x['stages']}")
        for c in x["children"]:
            _render_node(c, depth + 1, lines, f)
        return
    flag = "" if x["status"] == "ok" else f"  !{x['status']}"
    flag += "  !overridden" if x.get("overrides") else ""
    lines.append(f"{pad}• {x['id']} {x['name']}  {score}  [{x['kind']}]{flag}{_carried_text(x)}")
    lines.append(f"{pad}    probe    {x['probe']}")
    if "stages" in x:
        lines.append(f"{pad}    stages   {x['stages']}")
    vals = " · ".join(f"r{r['round']}: {_v(r['value'])}" + ("" if r["status"] == "ok" else f" ({r['status']})")
                      + _round_carried(r) for r in x["per_round"])
    lines.append(f"{pad}    values   {vals}")
    lines += ov.render_lines(x, pad)  # overrides of FACTS/overrides.csv: old → new, why, who, when
    rate = "null" if x["rate"] is None else f"{x['rate']:.4g}"
    if x.get("value_kept"):
        lines.append(f"{pad}    score    value (not a rate): z = {x['score']!r} ({x['rounds_policy']} of rounds; "
                     f"missing: {x['missing']})")
    else:
        lines.append(f"{pad}    score    {x['formula']} → rate {rate} ({x['rounds_policy']} of rounds; "
                     f"missing: {x['missing']})")
    for fact in x["facts"]:
        render_evidence(fact, pad + "    ", lines)


_CARRIED_SHOWN = ("rank_label", "grade", "imputed", "treated", "why")


def _round_carried(r: dict[str, Any]) -> str:
    """`` (imputed) [treated 0.5]`` for a round's carried values: a flag when set, a value when there."""
    out = " (imputed)" if r.get("imputed") else ""
    return out + "".join(f" [{k} {_v(r[k])}]" for k in _CARRIED_SHOWN if k != "imputed" and r.get(k) is not None)


def _carried_text(x: dict[str, Any]) -> str:
    """`` · rank =3 · grade A · imputed · treated 0.5 · why …`` for the carried fields the node has."""
    parts = []
    if x.get("rank_label") is not None:
        parts.append(f"rank {x['rank_label']}")
    elif x.get("rank") is not None:
        parts.append(f"rank {x['rank']}")
    if x.get("grade") is not None:
        parts.append(f"grade {x['grade']}")
    if x.get("imputed"):
        parts.append("imputed")
    if x.get("treated") is not None:
        parts.append(f"treated {_v(x['treated'])}")
    if x.get("why") and "excluded" not in x:  # exclusions get a line of their own, with the factor
        parts.append(f"why: {x['why']}")
    return "".join(f" · {p}" for p in parts)


def _v(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        # 4 significant digits, but never an exponent for a count or a sum (15640, not 1.564e+04)
        return f"{v:.0f}" if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}" if abs(v) < 1e4 else f"{v:.1f}"
    if isinstance(v, str) and len(v) > 60:
        return v[:57] + "…"
    return str(v)




# ------------------------------------------------------------------ evidence


def invalid_block(doc: dict[str, Any]) -> list[str]:
    """The rows that fail each table's ``valid when`` rule: once per table, before the tree."""
    out = []
    for table, v in doc.get("invalid", {}).items():
        out.append(f"invalid  {v['rows']} row(s) of {table} fail its rule `valid when {v['rule']}` "
                   f"(left out of every probe)")
        out += ["         " + _row(r) for r in v["sample"]]
    return out + [""] if out else out


def render_evidence(fact: dict[str, Any], pad: str, lines: list[str]) -> None:
    """One aggregate's evidence: a line saying what was chosen and why, then the rows."""
    where = f" where {fact['filter']}" if fact["filter"] else ""
    of = f"{fact['matched']} row(s) of {fact['table']}{where}"
    sub = pad + "         "
    kind = fact["aggregate"]
    if kind == "coverage":
        found = sum(i["found"] for i in fact["items"])
        per = " · ".join(f"r{r['round']}: {r['found']}/{r['of']}" for r in fact["per_round"])
        lines.append(f"{pad}facts    coverage of {fact['column']}: {found} of {len(fact['items'])} item(s) "
                     f"found in {of}{f' (per round {per})' if per else ''}")
        for i in fact["items"]:
            if not i["found"]:
                lines.append(f"{sub}✗ {i['item']}  missing")
                continue
            rounds = ", ".join(f"r{r}" for r in i["rounds"])
            lines.append(f"{sub}✓ {i['item']}  {i['rows_carrying']} row(s){f' ({rounds})' if rounds else ''}")
            lines += [f"{sub}    " + _row(r, fact) for r in i["rows"]]
        return
    lines.append(f"{pad}facts    {_what(fact)}{of}{_per_round(fact)}")
    lines += [sub + _row(r, fact) for r in fact["rows"]]
    if len(fact["rows"]) < fact["chosen"]:
        lines.append(f"{sub}… {fact['chosen'] - len(fact['rows'])} more (--limit N, --all)")
    if kind == "ratio" and fact["other_rows"]:
        lines.append(f"{sub}rows not satisfying {fact['condition']}:")
        lines += [sub + _row(r, fact) for r in fact["other_rows"]]


def _what(fact: dict[str, Any]) -> str:
    kind, col = fact["aggregate"], fact.get("column")
    if kind == "ratio":
        return f"ratio: {fact['numerator']} / {fact['denominator']} satisfy {fact['condition']}, among "
    if kind in ("min", "max", "days_since"):
        which = "newest" if kind == "days_since" else ("lowest" if kind == "min" else "highest")
        return f"{kind} of {col}: the {which} row per round, among "
    if kind in ("sum", "mean", "median"):
        return f"{kind} of {col} over "
    return f"{kind}: "


def _per_round(fact: dict[str, Any]) -> str:
    rounds = fact.get("per_round") or []
    if not rounds:
        return ""
    keys = [k for k in rounds[0] if k not in ("round", "rows")]
    parts = []
    for r in rounds:
        label = f"r{r['round']}: " if "round" in r else ""
        extra = "".join(f", {k} {_v(r[k])}" for k in keys)
        parts.append(f"{label}{r['rows']} row(s){extra}" if "rows" in r else f"{label}{extra.lstrip(', ')}")
    return " (" + " · ".join(parts) + ")"


def _row(r: dict[str, Any], fact: dict[str, Any] | None = None) -> str:
    tested = (fact or {}).get("tested", {})
    return "  ".join(f"{k}={_cell(v, tested.get(k))}" for k, v in r.items() if v not in (None, "", []))


_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d+")


def _cell(v: object, tested: list[str] | None) -> str:
    """A list column shows the literals the probe tests that the row carries, and how many others."""
    if isinstance(v, list):
        if tested is None:
            return "[" + ", ".join(map(str, v[:4])) + (f", +{len(v) - 4}" if len(v) > 4 else "") + "]"
        hit = [x for x in v if x in tested]
        rest = len(v) - len(hit)
        return "[" + ", ".join(hit) + (f"{', ' if hit else ''}+{rest} other(s)" if rest else "") + "]"
    if isinstance(v, str) and _STAMP.fullmatch(v):  # a datetime to the second: the fraction is noise here
        return v.split(".")[0]
    return _v(v)


# ------------------------------------------------------------------ compact (a whole unit)


def render_compact(doc: dict[str, Any], fmt_num: Callable[[float | None], str], digits: int) -> str:
    """One line per point (id, label, value, rate, score / max, status and the policy it took),
    grouped under the indicators with their subtotals; invalid rows once per table."""
    lines = _header(doc, fmt_num) + invalid_block(doc)
    rows: list[tuple[str, str]] = []
    for x in _tops(doc):
        _compact_node(x, 0, rows, fmt_num, digits)
    width = min(max((_width(a) for a, _ in rows), default=0), 64)
    lines += [f"{a}{' ' * max(width - _width(a), 0)}  {b}".rstrip() for a, b in rows]
    return "\n".join(lines)


def _width(s: str) -> int:
    """Columns ``s`` takes in a terminal: CJK characters are two wide (the one display width)."""
    return display_width(s)


def _compact_node(x: dict[str, Any], depth: int, rows: list[tuple[str, str]],
                  f: Callable[[float | None], str], digits: int) -> None:
    pad = "  " * depth
    # a rate at the rule set's precision: rounded to `digits` places, as a % with two places fewer (at least one)
    pct = "—" if x.get("rate") is None else f"{100 * x['rate']:.{max(digits - 2, 1)}f}%"
    score = (f"value {f(x['reported'])} (not a rate)" if x.get("value_kept")
             else f"{f(x['reported'])} / {x['max']:g}")
    if x["kind"] == "ref":
        rows.append((f"{pad}↪ {x['id']} {x['name']}", f"{score}  {pct}  refers to {x['refers_to']}"))
        return
    if x["kind"] == "indicator":
        rows.append((f"{pad}{x['id']} {x['name']}", f"{score}  {pct}  [{x['aggregate']}]{_carried_text(x)}"
                     + (f"  excluded {', '.join(x['excluded'])}" if "excluded" in x else "")))
        for c in x["children"]:
            _compact_node(c, depth + 1, rows, f, digits)
        return
    last = next((r for r in reversed(x["per_round"]) if r["value"] is not None), None)
    value = "value —" if last is None else f"value {_num(last['value'], digits)} (r{last['round']})"
    rows.append((f"{pad}• {x['id']} {x['name']}", f"{score}  {pct}  {value}  {_status(x)}{_carried_text(x)}"))


def _status(x: dict[str, Any]) -> str:
    """``ok``; ``no_data → zero`` (the policy it took); ``overridden``."""
    s = x["status"]
    out = s if s == "ok" else f"{s} → {x['missing']}"
    return out + (" · overridden" if x.get("overridden") else "")


def _num(v: object, digits: int) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if v == v else "nan"
    return _v(v)
