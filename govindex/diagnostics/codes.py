"""The one registry of diagnostic codes: code → short name, stable, each documented in
docs/rules-language.md §15 (tests/test_docs.py checks every one).

    E0xx–E4xx  rule files (errors)              W5xx  rule files (warnings)
    M1xx–M3xx  manual workbooks (M3xx: warnings) A1xx–A3xx  adapter imports (A3xx: warnings)
    F1xx       facts files                       C1xx  channels registries

A code's severity is ``error`` unless it is listed in :data:`WARNINGS`; a caller may say
otherwise for one diagnostic (``--force`` makes an M2xx mismatch a warning; a record an adapter
import skips is ``skipped``).
"""

from __future__ import annotations

from typing import Literal

Severity = Literal["error", "warning", "skipped"]

CODES: dict[str, str] = {
    # rule files
    "E001": "syntax-error", "E002": "unreadable-file", "E003": "no-rule-files",
    "E101": "unknown-table", "E102": "unknown-column", "E103": "unknown-function", "E104": "unknown-name",
    "E105": "bad-arguments", "E106": "type-mismatch", "E107": "bad-regex", "E108": "expression-too-large",
    "E201": "duplicate-id", "E202": "maxima-mismatch", "E203": "point-outside-indicator", "E204": "unknown-parent",
    "E205": "cycle", "E206": "missing-setting", "E207": "bad-setting", "E208": "unknown-setting",
    "E209": "no-missing-policy", "E210": "empty-indicator", "E211": "bad-grading", "E212": "bad-marker",
    "E213": "bad-cleaning", "E220": "bad-rank", "E221": "unknown-rank-group",
    "E230": "bad-stage", "E231": "unknown-group-column", "E232": "non-numeric-denominator", "E233": "stage-conflict",
    "E240": "bad-missing-reason", "E241": "reason-without-policy", "E242": "bad-not-applicable", "E243": "bad-gate",
    "E244": "bad-gate-condition", "E245": "bad-curve",
    "E250": "unknown-ref", "E251": "ref-cycle", "E252": "duplicate-ref", "E253": "bad-total", "E254": "no-total",
    "E255": "bad-summary", "E256": "unknown-summary-node", "E257": "unknown-summary-group", "E258": "duplicate-summary",
    "E260": "unknown-graded-node", "E261": "bad-measures", "E262": "bad-class-condition", "E263": "bad-conditions",
    "E264": "duplicate-grading", "E265": "bad-grading-parameter", "E266": "bad-level-rounding",
    "E267": "bad-statistic",
    "E270": "score-on-needs-scale", "E271": "bad-score-on", "E272": "score-outside-scale",
    "E273": "score-on-with-normalise",
    "E280": "duplicate-grading-id", "E281": "grading-name-clash", "E282": "unknown-grading", "E283": "grading-cycle",
    "E284": "bad-statistic-group",
    "E290": "bad-keep", "E291": "value-not-averaged", "E292": "value-not-normalised", "E293": "values-and-rates",
    "E294": "value-node-setting",
    "E320": "bad-metadata-file", "E321": "ragged-metadata-row", "E322": "metadata-not-a-number",
    "E323": "unknown-metadata-column", "E324": "duplicate-generated-id", "E325": "bad-generated-id",
    "E326": "empty-metadata-value", "E327": "bad-template",
    "E301": "no-ruleset", "E302": "units-file", "E303": "duplicate-ruleset",
    # functions: `let f(a, b) = …`
    "E310": "function-arity", "E311": "parameter-shadows", "E312": "function-shadows-builtin",
    "E313": "function-as-value", "E314": "value-called", "E315": "function-cycle",
    # composition (lang/compose.py, docs §2a)
    "E330": "unknown-edit-target", "E331": "bad-extends", "E332": "extends-cycle", "E333": "removed-still-referenced",
    "E334": "edited-twice", "E335": "include-cycle", "E336": "bad-include", "E337": "edit-without-base",
    "E338": "bad-move",
    # statistics declared in the rules (check/statistics.py, docs §14c)
    "E350": "bad-statistic", "E351": "unknown-statistic-node", "E352": "unknown-statistic-group",
    "E353": "duplicate-statistic", "E354": "bad-statistic-among",
    "E401": "bad-test",
    "W501": "unused-declaration", "W502": "unused-table", "W503": "undeclared-marker", "W504": "large-expression",
    "W505": "unused-parameter",
    # manual workbooks (govindex manual import)
    "M101": "not-a-number", "M102": "value-not-allowed", "M103": "out-of-range", "M104": "unknown-unit",
    "M105": "unknown-point", "M106": "not-manual", "M107": "duplicate-unit", "M108": "duplicate-column",
    "M109": "name-mismatch", "M110": "no-unit", "M111": "unnamed-column", "M112": "no-code-column",
    "M113": "unreadable", "M114": "formula-no-value", "M115": "cell-too-long", "M116": "merged-cells",
    "M117": "blank-book", "M118": "no-change", "M119": "held-elsewhere",
    "M120": "unknown-assigned-unit", "M121": "unknown-assigned-point", "M122": "disagreement",
    "M123": "resolution-no-reason", "M124": "bad-resolution",
    "M201": "wrong-ruleset", "M202": "wrong-round", "M203": "points-changed", "M204": "no-metadata",
    "M301": "units-not-listed", "M302": "points-not-listed", "M303": "note-without-entry", "M304": "resolved-kept",
    # adapter imports (govindex import)
    "A101": "bad-record", "A102": "bad-value", "A103": "unknown-unit", "A104": "no-unit", "A105": "wrong-round",
    "A201": "unreadable-source", "A202": "bad-response", "A203": "bad-mapping", "A204": "unknown-table",
    "A205": "other-rows", "A301": "field-absent",
    # facts files (score, explain, bench …)
    "F101": "missing-table", "F102": "missing-column", "F103": "wrong-type", "F104": "bad-value",
    "F105": "non-finite", "F106": "out-of-range", "F107": "ragged-csv", "F108": "duplicate-column",
    "F109": "not-utf8", "F110": "unreadable",
    # FACTS/overrides.csv: corrections after publication (eval/overrides.py, docs §10)
    "F120": "unknown-override-point", "F121": "override-of-indicator", "F122": "unknown-override-unit",
    "F123": "unknown-override-round", "F124": "override-without-reason", "F125": "bad-override-value",
    "F126": "override-not-allowed", "F127": "duplicate-override", "F128": "bad-override-date",
    "F129": "bad-overrides-file",
    # channels registries (govindex crawl, channels)
    "C101": "unreadable", "C102": "bad-header", "C103": "bad-row", "C104": "bad-unit", "C105": "unknown-kind",
    "C106": "bad-url", "C107": "duplicate-channel",
}

WARNINGS = frozenset({"W501", "W502", "W503", "W504", "W505", "M301", "M302", "M303", "M304", "A301"})


def default_severity(code: str) -> Severity:
    """The severity ``code`` has unless a caller says otherwise."""
    return "warning" if code in WARNINGS else "error"
