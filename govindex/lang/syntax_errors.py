"""Syntax errors (E001) as people read them: lark's exceptions located and labelled.

``SYNTAX_EXAMPLES`` maps a label and a hint to bad examples (lark's ``match_examples``); the table
doubles as test data and is documented in docs/rules-language.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from govindex.diagnostics import Diagnostic
from govindex.lang import nodes as n

# Friendly names for terminals in "expected ..." messages.
_TERMINALS = {
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "COLON": "':'", "COMMA": "','", "EQUAL": "'='", "NAME": "a name", "STRING": 'a "string"',
    "NUMBER": "a number", "COMP_OP": "a comparison", "ADD_OP": "'+' or '-'", "MUL_OP": "'*' or '/'",
    "MINUS": "'-'", "$END": "end of file",
}
for _kw in ("ruleset", "grading", "marker", "clean", "summary", "statistic", "ref", "table", "indicator", "point", "let", "test",
            "under", "valid", "when", "given", "expect", "if", "then", "else", "and", "or", "not", "in", "true", "false", "null"):
    _TERMINALS[_kw.upper()] = f"'{_kw}'"

# Bad examples → a label and a hint (lark's match_examples). Doubles as test data.
SYNTAX_EXAMPLES: dict[str, tuple[str, list[str]]] = {
    "missing ':' after a setting name": (
        "write settings as `name: value`, e.g. `max: 10`",
        ['indicator a "A" { max 10 }', 'point p "P" { probe count(pages) }',
         'indicator a "A" { point p "P" { max 1 } }', 'indicator a "A" { indicator b "B" { max 1 } }'],
    ),
    "unclosed block": (
        "every '{' needs a matching '}'",
        ['indicator a "A" { max: 10', 'point p "P" { max: 1', 'indicator a "A" { point p "P" { max: 1',
         'indicator a "A" { point p "P" { max: 1 }', 'indicator a "A" { point p "P" { max: 1 }\n'],
    ),
    "indicator or point without a label": (
        'give a quoted Chinese label after the id: `indicator supply "服务供给能力" { ... }`',
        ["indicator a { max: 10 }", "point p { max: 1 }"],
    ),
    "unquoted string": (
        'strings are written in double quotes: "住房"',
        ["ruleset x { }", 'ruleset "x" { units: my units.csv }'],
    ),
    "missing operand": (
        "an operator needs a value on both sides",
        ['point p "P" { score: x + }', 'point p "P" { probe: count(pages, where: status == ) }',
         'indicator a "A" { point p "P" { score: x + } }', 'indicator a "A" { point p "P" { score: x * } }',
         'indicator a "A" { point p "P" { probe: count(pages, where: status == ) } }'],
    ),
    "missing ',' between arguments": (
        "separate arguments with commas: f(a, b)",
        ['point p "P" { score: linear(x cap: 3) }', 'indicator a "A" { point p "P" { score: linear(x cap: 3) } }'],
    ),
    "function without parameters": (
        "a function takes at least one parameter: `let f(v) = …`; a value is `let name = …`",
        ["let f() = 1", "let f( = 1"],
    ),
}



def syntax_diagnostic(exc: UnexpectedInput, text: str, path: str, parse: Callable[[str], Tree[Any]]) -> Diagnostic:
    """E001 for a lark error: located, labelled from the table of bad examples when one matches
    (``parse`` is the parser the examples are tried with), else the tokens that were expected."""
    label = None
    try:
        # Each example twice: as the first item of a file and after another item (LALR states differ).
        examples = {k: v[1] + ["let z_ = 1\n" + x for x in v[1]] for k, v in SYNTAX_EXAMPLES.items()}
        label = exc.match_examples(parse, examples, use_accepts=True)
    except Exception:  # noqa: BLE001 - a failed label lookup must not hide the real error
        label = None
    hint = SYNTAX_EXAMPLES[label][0] if label else ""
    line, col = max(exc.line, 1) if exc.line != -1 else 1, max(exc.column, 1) if exc.column != -1 else 1
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        found = "end of file"
    elif isinstance(exc, UnexpectedToken):
        found = repr(str(exc.token))
    elif isinstance(exc, UnexpectedCharacters):
        found = repr(exc.char)
    else:
        found = "this"
    expected = sorted({_TERMINALS.get(t, t) for t in getattr(exc, "expected", None) or getattr(exc, "allowed", None) or []})
    message = f"unexpected {found}" + (f"; {label}" if label else "")
    if expected and not hint:
        hint = "expected " + ", ".join(expected[:8]) + (" ..." if len(expected) > 8 else "")
    return Diagnostic("E001", message, n.Span(path, line, col, line, col + 1), hint)
