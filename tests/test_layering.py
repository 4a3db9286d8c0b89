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
for _name, _allowed in ALLOWED.items():
    if _name not in ("root", "diagnostics", "fsio"):
        _allowed.add("fsio")
# What collection may use of the rest: the checked rule set, the fact layout, row conditions for
# markers and cleaning, the error base.
FACT_CONTRACT = {"govindex.check.run", "govindex.ir", "govindex.eval.facts", "govindex.diagnostics",
                 "govindex.eval.compile", "govindex.lang.nodes", "govindex.fsio"}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


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
