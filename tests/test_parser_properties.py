"""Property tests of the parser and the checker (hypothesis).

(a) ``parse_text`` on any text raises nothing but :class:`RuleError`, whose diagnostics are all
    E001/E002 with a line and column ≥ 1 — on random text and on mutations (characters and
    tokens deleted, inserted, replaced, swapped) of the mini rule set;
(b) ``check`` on mutated copies of the mini rule set never raises; it returns diagnostics, a rule
    set exactly when there is no error, and a rule set it accepts compiles and evaluates;
(c) random expression ASTs printed to text (by a printer of this file, with random redundant
    parentheses, whitespace and comments, and by ``govindex.lang.fmt.format_expr``) parse back equal.

Engine bugs these found are kept as regression tests at the end.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from govindex.check.run import check
from govindex.diagnostics import CODES, RuleError
from govindex.lang import nodes as n
from govindex.lang.parse import parse_text

MINI = Path(__file__).parent / "fixtures" / "mini"
MINI_TEXT = (MINI / "mini.rules").read_text(encoding="utf-8")


def fast(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def assert_parses_or_rule_error(text: str) -> n.RuleFile | None:
    try:
        return parse_text(text, "<mutant>")
    except RuleError as exc:
        assert exc.diagnostics, "a RuleError without diagnostics"
        for d in exc.diagnostics:
            assert d.code in ("E001", "E002"), d
            assert d.span.line >= 1 and d.span.col >= 1, d
            assert d.message
            d.render(text)  # rendering a diagnostic never raises either
        return None


# ---------------------------------------------------------------- mutations of a valid file

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*|\d+(?:\.\d+)?|==|!=|<=|>=|\s+|.',
                    re.S)
VOCAB = ["ruleset", "table", "indicator", "point", "under", "let", "test", "given", "expect", "valid", "when",
         "if", "then", "else", "and", "or", "not", "in", "true", "false", "null", "{", "}", "[", "]", "(", ")",
         ":", ",", "=", "==", "<", ">=", "+", "-", "*", "/", "x", "pages", "count", "max", "missing", "exclude",
         "zero", "rounds", "mean", "kind", "technical", "manual", "probe", "score", "where", "1", "0.5", "1e400",
         '"s"', '"', "#", "\n", " ", "中文", "\\", "\x00", "@", "\r"]
GRAMMAR_CHARS = '{}[]():,"#-+*/<>=!\n \t\\_.e0123456789中'


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@st.composite
def mutated(draw, text: str = MINI_TEXT, max_edits: int = 4) -> str:
    """``text`` with 1..max_edits random edits, each on characters or on tokens."""
    for _ in range(draw(st.integers(1, max_edits))):
        if draw(st.booleans()):
            chars = list(text)
            i = draw(st.integers(0, len(chars)))
            op = draw(st.sampled_from(["delete", "insert", "replace"]))
            ch = draw(st.sampled_from(GRAMMAR_CHARS) | st.characters())
            if op == "insert" or i == len(chars):
                chars.insert(i, ch)
            elif op == "delete":
                del chars[i]
            else:
                chars[i] = ch
            text = "".join(chars)
        else:
            toks = tokens(text) or [""]
            i = draw(st.integers(0, len(toks) - 1))
            op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "swap"]))
            if op == "delete":
                del toks[i]
            elif op == "insert":
                toks.insert(i, draw(st.sampled_from(VOCAB)) + draw(st.sampled_from(["", " "])))
            elif op == "replace":
                toks[i] = draw(st.sampled_from(VOCAB))
            elif op == "duplicate":
                toks.insert(i, toks[i])
            else:
                j = draw(st.integers(0, len(toks) - 1))
                toks[i], toks[j] = toks[j], toks[i]
            text = "".join(toks)
    return text


def test_mini_parses():
    assert parse_text(MINI_TEXT).items


@fast(300)
@given(st.text())
@example("")
@example("\x00")
@example('point p "P" {')
@example('ruleset "x" { units: "a" } ruleset')
@example('table t { valid when true valid when false }')
@example('point p "P" { score: f(a: 1, 2) }')
@example('point p "P" { score: {1: 1, 1.0: 2} }')
@example('point p "P" { score: f(a: 1, a: 2) }')
@example("\r\r\x0c@")
def test_parse_random_text_raises_only_rule_errors(text):
    assert_parses_or_rule_error(text)


@fast(400)
@given(mutated())
def test_parse_mutated_rules_raises_only_rule_errors(text):
    assert_parses_or_rule_error(text)


# ---------------------------------------------------------------- the checker on mutants

_UNITS = (MINI / "units.csv").read_text(encoding="utf-8")


def check_text(text: str):
    d = Path(tempfile.mkdtemp(prefix="govindex-mutant-"))
    try:
        (d / "units.csv").write_text(_UNITS, encoding="utf-8")
        (d / "mini.rules").write_text(text, encoding="utf-8", errors="surrogatepass")
        rs, diags = check(d)
        errors = [x for x in diags if x.is_error]
        assert (rs is None) == bool(errors), diags
        for x in diags:
            assert x.code in CODES, x
            x.render()  # reads the file back; must not raise
            x.to_json()
        if rs is not None:  # accepted: the compiler and evaluator must handle it (no CompileGap)
            from govindex.eval.evaluate import evaluate
            from govindex.eval.facts import frames_from_rows

            evaluate(rs, frames_from_rows(rs, {}))
        return rs, diags
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_check_mini_is_clean():
    rs, diags = check_text(MINI_TEXT)
    assert rs is not None and not [d for d in diags if d.is_error]


@fast(120)
@given(mutated(max_edits=3))
@example(MINI_TEXT.replace("max: 6", "max: 7"))  # maxima mismatch
@example(MINI_TEXT.replace("probe: count(pages)", "probe: count(pagez)"))  # unknown table
@example(MINI_TEXT.replace("missing: zero", "missing: null"))  # keyword as a policy
@example(MINI_TEXT.replace("indicator qa", "indicator web"))  # duplicate id
def test_check_mutated_rules_never_raises(text):
    check_text(text)


# ---------------------------------------------------------------- expressions: print, parse back

KEYWORDS = {"and", "or", "not", "in", "if", "then", "else", "true", "false", "null", "under", "when"}
NAME_RE = re.compile(r"[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*")
PREC = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "not in": 4,
        "+": 5, "-": 5, "*": 6, "/": 6}


def is_name(s: str) -> bool:
    return bool(NAME_RE.fullmatch(s)) and s not in KEYWORDS


_names = st.one_of(
    st.sampled_from(["x", "pages", "a_1", "中文", "点位x", "_", "point", "table", "valid", "given", "expect",
                     "let", "test", "ruleset", "indicator", "android", "iffy", "nothing", "in_", "trueish"]),
    st.from_regex(NAME_RE, fullmatch=True).filter(lambda s: len(s) <= 8),
).filter(is_name)
names = st.deferred(lambda: _names)  # short repr (the regex strategy's is huge)

numbers = st.builds(n.Number, st.floats(min_value=0, allow_nan=False, allow_infinity=False)
                    | st.integers(0, 10**6).map(float)
                    | st.floats(max_value=0, allow_nan=False, allow_infinity=False))
strings = st.builds(n.String, st.text(max_size=8) | st.sampled_from(['"', "\\", "\\n", "\n", "\t", "#", "a\\"]))
leaves = st.one_of(numbers, strings, st.builds(n.Bool, st.booleans()), st.just(n.Null()), st.builds(n.Name, names))


def _no_negated_number(u: n.Unary) -> n.Unary:
    # `-1` parses as the number -1, never as Unary("-", 1): that AST has no text; wrap the number.
    return n.Unary("-", n.ListLit((u.operand,))) if isinstance(u.operand, n.Number) else u


def _first_per_key(pairs):
    seen = {}
    for k, v in pairs:  # duplicate keys are a syntax error; dedupe rather than filter
        seen.setdefault(k, v)
    return seen.items()


def _extend(inner):
    children = st.deferred(lambda: inner)  # a short repr: hypothesis prints strategies on filter retries
    map_key = st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(abs) | names | st.text(max_size=4)
    return st.one_of(
        st.builds(n.Unary, st.just("not"), children),
        st.builds(n.Unary, st.just("-"), children).map(_no_negated_number),
        st.builds(n.Binary, st.sampled_from(sorted(PREC)), children, children),
        st.builds(n.If, children, children, children),
        st.builds(n.ListLit, st.lists(children, max_size=3).map(tuple)),
        st.builds(n.MapLit, st.lists(st.tuples(map_key, children), max_size=3).map(
            lambda kv: tuple(n.Pair(k, v) for k, v in _first_per_key(kv)))),
        st.builds(n.Call, names, st.lists(children, max_size=3).map(tuple),
                  st.lists(st.tuples(names, children), max_size=2).map(
                      lambda kv: tuple(n.Kwarg(k, v) for k, v in _first_per_key(kv)))),
    )


exprs = st.recursive(leaves, _extend, max_leaves=12)


def _number_text(v: float, draw) -> str:
    if v.is_integer() and abs(v) < 1e15 and draw(st.booleans()):
        return str(int(v))
    return repr(v)


def _string_text(s: str, draw) -> str:
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + (s.replace("\t", "\\t") if draw(st.booleans()) else s) + '"'


def print_tokens(e: n.Expr, draw) -> tuple[list[str], int]:
    """(tokens, precedence) of ``e``: parentheses where the grammar needs them, and at random."""
    def sub(x: n.Expr, level: int) -> list[str]:
        toks, prec = print_tokens(x, draw)
        return ["(", *toks, ")"] if prec < level or draw(st.integers(0, 9)) == 0 else toks

    def comma(parts: list[list[str]]) -> list[str]:
        out: list[str] = []
        for k, p in enumerate(parts):
            out += ([","] if k else []) + p
        return out

    if isinstance(e, n.Number):
        if e.value < 0 or (e.value == 0 and str(e.value).startswith("-")):
            return ["-", _number_text(-e.value, draw)], 7
        return [_number_text(e.value, draw)], 8
    if isinstance(e, n.String):
        return [_string_text(e.value, draw)], 8
    if isinstance(e, n.Bool):
        return ["true" if e.value else "false"], 8
    if isinstance(e, n.Null):
        return ["null"], 8
    if isinstance(e, n.Name):
        return [e.id], 8
    if isinstance(e, n.Call):
        args = [sub(a, 0) for a in e.args] + [[k.name, ":", *sub(k.value, 0)] for k in e.kwargs]
        return [e.fn, "(", *comma(args), ")"], 8
    if isinstance(e, n.ListLit):
        return ["[", *comma([sub(i, 0) for i in e.items]), "]"], 8
    if isinstance(e, n.MapLit):
        def key(k):
            if isinstance(k, float):
                return _number_text(k, draw)
            return k if is_name(k) and draw(st.booleans()) else _string_text(k, draw)
        return ["{", *comma([[key(p.key), ":", *sub(p.value, 0)] for p in e.pairs]), "}"], 8
    if isinstance(e, n.Unary):
        return ([e.op, *sub(e.operand, 3)], 3) if e.op == "not" else (["-", *sub(e.operand, 7)], 7)
    if isinstance(e, n.If):
        return ["if", *sub(e.cond, 0), "then", *sub(e.then, 0), "else", *sub(e.else_, 0)], 0
    if isinstance(e, n.Binary):
        p = PREC[e.op]
        op = e.op.split()
        if p == 4:  # comparisons do not chain
            return [*sub(e.left, 5), *op, *sub(e.right, 5)], 4
        return [*sub(e.left, p), *op, *sub(e.right, p + 1)], p
    raise TypeError(e)


SEPARATORS = [" ", " ", " ", "\n", "\t", "\r\n", "  # a comment: ) ] } \" \n", "\n\n  "]


def in_point(text: str) -> n.Expr:
    rf = parse_text(f'point p "P" {{\n  score: {text}\n}}\n')
    (item,) = rf.items
    assert isinstance(item, n.PointDecl) and len(item.settings) == 1
    return item.settings[0].value


@fast(300)
@given(exprs, st.data())
def test_printed_expression_parses_back(e, data):
    toks, _ = print_tokens(e, data.draw)
    text = toks[0] + "".join(data.draw(st.sampled_from(SEPARATORS)) + t for t in toks[1:])
    assert in_point(text) == e, text


try:
    from govindex.lang.fmt import format_expr
except ImportError:  # pragma: no cover - the formatter is optional for this file
    format_expr = None


def _fmt_safe(e: n.Expr) -> bool:
    """Map keys the formatter prints bare must be names."""
    if isinstance(e, n.MapLit):
        if any(isinstance(p.key, str) and p.key.isidentifier() and not is_name(p.key) for p in e.pairs):
            return False
    children = {
        n.Unary: lambda x: [x.operand], n.Binary: lambda x: [x.left, x.right], n.If: lambda x: [x.cond, x.then, x.else_],
        n.ListLit: lambda x: list(x.items), n.MapLit: lambda x: [p.value for p in x.pairs],
        n.Call: lambda x: [*x.args, *(k.value for k in x.kwargs)],
    }.get(type(e), lambda x: [])
    return all(_fmt_safe(c) for c in children(e))


@pytest.mark.skipif(format_expr is None, reason="govindex.lang.fmt not available")
@fast(300)
@given(exprs)
def test_format_expr_parses_back(e):
    text = format_expr(e)
    assert in_point(text) == e, text
    assert format_expr(in_point(text)) == text  # and formatting is stable


@pytest.mark.parametrize("text,expected", [
    ("a - b - c", "(a - b) - c"),
    ("a / b * c", "(a / b) * c"),
    ("-a * b", "(-a) * b"),
    ("not a == b and c", "(not (a == b)) and c"),
    ("a or b and c", "a or (b and c)"),
    ("a + b in [1]", "(a + b) in [1]"),
    ("a not in [1] or b", "(a not in [1]) or b"),
    ("if a then b else c or d", "if a then b else (c or d)"),
    ("- -1", "1"),
    ("f(x, cap: 1)", "f((x), cap: (1))"),
])
def test_precedence(text, expected):
    assert in_point(text) == in_point(expected)


# ---------------------------------------------------------------- regressions: engine bugs these tests found


@pytest.mark.parametrize("body", ["+".join(["x"] * 600), "-" * 1000 + "x", "not " * 1000 + "x", "[" * 1000 + "]" * 1000])
def test_bug_deep_nesting_is_a_rule_error(body):
    assert_parses_or_rule_error(f'point p "P" {{ score: {body} }}')


BUG_RULES = """ruleset "r" {
  units: "units.csv"
  rounds: {1: "2019-01-01"}
  missing: zero
}
table t {
  unit: str
  round: int
  s: str
}
indicator i "I" {
  max: 1
  point p "P" {
    kind: technical
    max: 1
    probe: count(t, where: contains(s, "a"))
    score: presence(x)
  }
}
"""
BUG_UNITS = "code,name\nA,甲\nB,乙\n"


def _check_bug(text: str, units: str = BUG_UNITS):
    d = Path(tempfile.mkdtemp(prefix="govindex-bug-"))
    try:
        (d / "units.csv").write_text(units, encoding="utf-8")
        (d / "r.rules").write_text(text, encoding="utf-8")
        return check(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _edit(old: str, new: str, text: str = BUG_RULES) -> str:
    assert old in text
    return text.replace(old, new)


def test_bug_rules_are_clean():
    rs, diags = _check_bug(BUG_RULES)
    assert rs is not None and not [d for d in diags if d.is_error]


CHECK_BUGS = [
    pytest.param(_edit("{1: ", "{1e400: "), BUG_UNITS, id="round-key-1e400-OverflowError"),
    pytest.param(_edit("missing: zero", "missing: zero\n  rounding: {digits: 1e400}"), BUG_UNITS,
                 id="rounding-digits-1e400-OverflowError"),
    pytest.param(_edit('"units.csv"', '"units\x00.csv"'), BUG_UNITS, id="units-path-NUL-ValueError"),
    pytest.param(BUG_RULES, "code,name\nA,甲,extra\n", id="units-csv-extra-field-AttributeError"),
    pytest.param(_edit('contains(s, "a")', 'matches(s, "a{99999999999}")'), BUG_UNITS,
                 id="regex-repeat-too-large-OverflowError"),
]


@pytest.mark.parametrize("text,units", CHECK_BUGS)
def test_bug_check_raises(text, units):
    rs, diags = _check_bug(text, units)
    assert isinstance(diags, list)


@pytest.mark.skipif(format_expr is None, reason="govindex.lang.fmt not available")
@pytest.mark.parametrize("key", ["true", "under", "é"])
def test_bug_format_map_key(key):
    e = n.MapLit((n.Pair(key, n.Number(1.0)),))
    assert in_point(format_expr(e)) == e


def test_bug_line_numbers_with_lone_cr():
    text = 'let a = 1\rlet b = @'
    with pytest.raises(RuleError) as info:
        parse_text(text)
    d = info.value.diagnostics[0]
    shown = d.render(text).splitlines()[1]
    assert shown.endswith("let b = @"), shown


# ---------------------------------------------------------------- the oracle: accepted mutants score finitely
#
# Mutants of the shipped rule sets (rules/2019, examples/country-index): random edits, and numbers
# replaced by extreme ones. When `check` accepts a mutant, `score` on the example facts must give
# finite totals and a JSON document a strict parser reads; the only other allowed outcome is a
# clean FactsError (a mutant may declare columns the facts do not have). For speed the 2019 facts
# are cut to their first units (all rounds, all tables), written once per session.

import json  # noqa: E402
import math  # noqa: E402

from govindex.diagnostics import FactsError  # noqa: E402

SHIPPED = {"rules-2019": (Path(__file__).parents[1] / "rules" / "2019", None),
           "country-index": (Path(__file__).parents[1] / "examples" / "country-index",
                             Path(__file__).parents[1] / "examples" / "country-index" / "facts")}
FACTS_2019 = Path(__file__).parents[1] / "examples" / "2019" / "facts"
EXTREMES = ["1e308", "1e400", "0", "1e-320", "1e-12", "1e-9", "1e15", "9e15", "1e300", "-1", "-1e308", "0.5",
            "100", "2", "123456789012345678901234567890"]
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


@st.composite
def numeric_mutant(draw, text: str) -> str:
    """``text`` with one to three number literals replaced by extreme values."""
    spans = [m.span() for m in _NUMBER.finditer(text)]
    for _ in range(draw(st.integers(1, 3))):
        if not spans:
            break
        a, b = draw(st.sampled_from(spans))
        new = draw(st.sampled_from(EXTREMES))
        text = text[:a] + new + text[b:]
        spans = [m.span() for m in _NUMBER.finditer(text)]
    return text


@st.composite
def shipped_mutant(draw, root: Path) -> tuple[str, str]:
    """(file name, mutated text) for one file of the rule set at ``root``."""
    files = sorted(p.name for p in root.glob("*.rules"))
    name = draw(st.sampled_from(files))
    text = (root / name).read_text(encoding="utf-8")
    return name, draw(numeric_mutant(text) | mutated(text, max_edits=2))


def strict_loads(text: str):
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def facts_2019(tmp_path_factory) -> Path:
    """The 2019 example facts of the first 25 units of the registry, one parquet file per table."""
    from govindex.check.run import load
    from govindex.eval.facts import scan

    rs = load(SHIPPED["rules-2019"][0])
    keep = [u.code for u in rs.units[:25]]
    out = tmp_path_factory.mktemp("facts-2019")
    for t in rs.tables:
        try:
            df = scan(rs, FACTS_2019, t).filter(pl_col(rs.unit_column).is_in(keep)).collect()
        except FactsError:
            continue  # a table the example facts do not hold
        df.write_parquet(out / f"{t}.parquet")
    return out


def pl_col(name: str):
    import polars as pl

    return pl.col(name)


@pytest.fixture(scope="module")
def oracle_dirs(tmp_path_factory):
    """One working copy of each shipped rule set, reused by every mutant (a mutant rewrites one
    file and the file is restored after), and parses memoised by (text, path): the files a
    mutant leaves alone are parsed once, not once per example."""
    from functools import lru_cache

    import govindex.lang.parse as parse_mod

    dirs = {}
    for which, (root, _) in SHIPPED.items():
        dirs[which] = tmp_path_factory.mktemp(which)
        shutil.copytree(root, dirs[which], dirs_exist_ok=True, ignore=shutil.ignore_patterns("facts"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parse_mod, "parse_text", lru_cache(maxsize=256)(parse_mod.parse_text))
        yield dirs


def score_oracle(d: Path, name: str, text: str, facts: Path) -> str:
    """Check the rule set copy ``d`` with file ``name`` replaced by ``text``; when accepted, score it.
    Returns what happened: "rejected", "facts-error" or "scored"."""
    original = (d / name).read_bytes()
    try:
        (d / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        return _score_oracle(d, facts)
    finally:
        (d / name).write_bytes(original)


def _score_oracle(d: Path, facts: Path) -> str:
    from govindex.eval.evaluate import evaluate
    from govindex.eval.explain import load_sources
    from govindex.results import strict_json, to_json

    rs, diags = check(d)
    assert (rs is None) == any(x.is_error for x in diags)
    for x in diags:
        x.render()
    if rs is None:
        return "rejected"
    try:
        sc = evaluate(rs, load_sources(rs, facts))
    except FactsError:
        return "facts-error"
    totals = [t for t in sc.units["total"].to_list() if t is not None]
    assert all(math.isfinite(t) for t in totals), totals
    assert all(0 <= t <= rs.nodes["total"].max * (1 + 1e-9) for t in totals)
    doc = strict_loads(strict_json(to_json(sc)))
    assert len(doc["units"]) == len(rs.units)
    return "scored"


@fast(12)
@given(shipped_mutant(SHIPPED["rules-2019"][0]))
def test_oracle_rules_2019_mutants_score_finitely(oracle_dirs, facts_2019, mutant):
    score_oracle(oracle_dirs["rules-2019"], *mutant, facts_2019)


@fast(40)
@given(shipped_mutant(SHIPPED["country-index"][0]))
@example(("ruleset.rules", (SHIPPED["country-index"][0] / "ruleset.rules").read_text(encoding="utf-8")
          .replace("max_total: 100", "max_total: 1e15")))
def test_oracle_country_index_mutants_score_finitely(oracle_dirs, mutant):
    score_oracle(oracle_dirs["country-index"], *mutant, SHIPPED["country-index"][1])


@pytest.mark.parametrize("which", sorted(SHIPPED))
def test_oracle_unmutated_rule_sets_score(which, oracle_dirs, facts_2019):
    d, facts = oracle_dirs[which], SHIPPED[which][1] or facts_2019
    name = sorted(p.name for p in d.glob("*.rules"))[0]
    assert score_oracle(d, name, (d / name).read_text(encoding="utf-8"), facts) == "scored"


# Accepted mutants worth keeping: at the bounds they score finitely; beyond them, check refuses.
ORACLE_CASES = [
    ("country-index", "pillars.rules", "weight: 3", "weight: 1e-9", "scored"),
    ("country-index", "pillars.rules", "weight: 3", "weight: 1e6", "scored"),
    ("country-index", "pillars.rules", "weight: 3", "weight: 1e15", "rejected"),  # the others' shares < 1e-9
    ("country-index", "pillars.rules", "weight: 3", "weight: 1e16", "rejected"),
    ("country-index", "ruleset.rules", "max_total: 100", "max_total: 1e15", "scored"),
    ("country-index", "ruleset.rules", "max_total: 100", "max_total: 1e-9", "rejected"),  # shares < 1e-9
    ("country-index", "ruleset.rules", "max_total: 100", "max_total: 1e400", "rejected"),
    ("rules-2019", "1-supply.rules", "cap: 500", "cap: 1e15", "scored"),
    ("rules-2019", "1-supply.rules", "cap: 30", "cap: 1e-320", "scored"),
    ("rules-2019", "1-supply.rules", "cap: 30", "cap: 1e300", "rejected"),
]


@pytest.mark.parametrize("which,name,old,new,outcome", ORACLE_CASES)
def test_oracle_regressions(which, name, old, new, outcome, oracle_dirs, facts_2019):
    d, facts = oracle_dirs[which], SHIPPED[which][1] or facts_2019
    text = (d / name).read_text(encoding="utf-8")
    assert old in text
    assert score_oracle(d, name, text.replace(old, new, 1), facts) == outcome
