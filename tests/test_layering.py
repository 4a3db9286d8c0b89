"""Dependencies point one way: engine never imports probes; probes imports from engine only the
fact contract (and the CLI module of probes is the one place that wires both)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# What collection may use of the engine: the checked rule set, the fact layout, row conditions
# for markers and cleaning, the error base.
CONTRACT = {"engine.check", "engine.model", "engine.facts", "engine.errors", "engine.compile", "engine.nodes"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_engine_never_imports_probes():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imports(p) if m.split(".")[0] == "probes")
                 for p in (ROOT / "engine").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_probes_use_only_the_fact_contract():
    bad = {}
    for p in (ROOT / "probes").rglob("*.py"):
        if p.name == "cli.py" and p.parent.name == "probes":
            continue  # the CLI wiring
        used = {m for m in imports(p) if m.split(".")[0] == "engine"} - CONTRACT
        if used:
            bad[str(p.relative_to(ROOT))] = sorted(used)
    assert bad == {}
