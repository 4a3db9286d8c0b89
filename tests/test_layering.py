"""Dependencies point one way (SPEC §7): each stage of ``govindex`` imports only the stages above
it in the pipeline; ``lang`` imports nothing of ours but ``diagnostics``; ``eval`` never imports
``collect``; ``analysis`` and ``report`` read only the results contract; ``collect`` uses only the
fact contract; nobody but the CLI imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PKG = ROOT / "govindex"

# Each layer may import itself and the layers named here (and nothing else of ours).
ALLOWED: dict[str, set[str]] = {
    "root": set(),
    "diagnostics": set(),
    "lang": {"diagnostics"},
    "ir": {"diagnostics", "lang"},
    "check": {"diagnostics", "lang", "ir"},
    "grade": {"diagnostics", "ir"},
    "eval": {"diagnostics", "lang", "ir", "check", "grade"},
    "results": {"diagnostics", "ir", "eval", "grade"},
    "versions": {"diagnostics", "lang", "ir", "check", "eval", "grade", "results"},
    "analysis": {"diagnostics", "results"},
    "report": {"diagnostics", "results", "analysis"},
    "collect": {"diagnostics", "lang", "ir", "check", "eval"},
    "synth": {"diagnostics", "lang", "ir", "check", "eval", "collect"},
    "cli": {"diagnostics", "lang", "ir", "check", "eval", "grade", "results", "versions", "analysis", "report",
            "collect", "synth"},
}
# fsio, the one way outputs are written, is a base layer (on diagnostics) that every layer may use.
ALLOWED["fsio"] = {"diagnostics"}
# provenance (which method and data produced a result) is a base layer too: it reads the checked rule
# set and formats it (lang.fmt); the CLI builds it, analysis and the report compare two of them.
ALLOWED["provenance"] = {"root", "diagnostics", "lang", "ir"}  # root: govindex.__version__
for _user in ("analysis", "report", "cli"):
    ALLOWED[_user].add("provenance")
for _name, _allowed in ALLOWED.items():
    if _name not in ("root", "diagnostics", "fsio"):  # (provenance gets fsio too: unused)
        _allowed.add("fsio")
# What collection may use of the rest: the checked rule set, the fact layout, row conditions for
# markers and cleaning, the error base.
FACT_CONTRACT = {"govindex.check.run", "govindex.ir", "govindex.eval.facts", "govindex.diagnostics",
                 "govindex.eval.compile", "govindex.lang.nodes", "govindex.fsio"}


# Modules at the top of the package that belong to a layer named otherwise.
PART_OF = {"results_book": "results"}  # the results workbook's cells: part of the results layer


def layer(module: str) -> str:
    parts = module.split(".")
    return PART_OF.get(parts[1], parts[1]) if len(parts) > 1 else "root"


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "govindex" and node.level == 0:
            out |= {f"govindex.{a.name}" for a in node.names}  # from govindex import ir
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return {m for m in out if m.split(".")[0] == "govindex"}


def ours() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_every_module_is_in_a_known_layer():
    assert {layer(module_of(p)) for p in ours()} <= set(ALLOWED)


def test_imports_point_down_the_pipeline():
    bad = {}
    for p in ours():
        me = layer(module_of(p))
        wrong = sorted(m for m in imports(p) if layer(m) != me and layer(m) not in ALLOWED[me])
        if wrong:
            bad[str(p.relative_to(ROOT))] = wrong
    assert bad == {}


def test_collect_uses_only_the_fact_contract():
    bad = {}
    for p in (PKG / "collect").rglob("*.py"):
        used = {m for m in imports(p) if layer(m) != "collect"} - FACT_CONTRACT
        if used:
            bad[str(p.relative_to(ROOT))] = sorted(used)
    assert bad == {}


def test_the_old_top_level_packages_are_gone():
    assert not (ROOT / "engine").exists() and not (ROOT / "probes").exists()


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of ours ``path`` imports when it runs: at the top and inside functions alike (a
    cycle through a function-level import is still a cycle, only a later one), but not under
    ``if TYPE_CHECKING:``. ``from govindex.a import b`` is an edge to ``govindex.a.b`` when that is a
    module. A package's ``__init__``, which Python runs before any module in it, is not counted as
    imported by its own modules: only an explicit import is an edge."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            node.body = []
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names}
    return out & modules


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(comp) > 1 or v in graph[v]:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    modules = {module_of(p): p for p in ours()}
    graph = {m: runtime_imports(p, set(modules)) for m, p in modules.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}, "b": set()}) == [["a"]]
