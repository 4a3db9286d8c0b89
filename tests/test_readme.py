"""README.md does not drift from the code: every `govindex …` command it shows parses against the
CLI (commands, options, arguments — nothing is run) and its table of commands names every command
and only real options; every `rules/…:line` it cites exists; its sample of `diff rules/2018
rules/2019` is made of lines of the real output (the golden); the example figures it quotes (the
rank-1 unit, the class counts and L1 means set beside the report's) are today's."""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main

from govindex.cli import app
from tests.conftest import GOLDEN, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```[a-z]*\n(.*?)^```", README, re.M | re.S)


def _commands() -> list[str]:
    """Each `govindex …` invocation of the README's code blocks, without comments, pipes,
    redirections or a trailing `&`; a `&&` chain gives each of its govindex commands."""
    found = []
    for block in BLOCKS:
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():  # a `\` continuation joins its lines
            for part in line.split("&&"):
                m = re.match(r"\s*(?:\.venv/bin/)?govindex\s(.*)", part)
                if not m:
                    continue
                rest = re.split(r"\s#\s", m.group(1) + " ")[0]  # a comment
                rest = re.split(r"\s[|>]\s", rest)[0]  # a pipe or a redirection
                found.append(re.sub(r"\s&\s*$", "", rest).strip())  # in the background
    return found


COMMANDS = _commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 35, COMMANDS  # the tour, analysis, report, diff, collection …


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_parses(line):
    args = shlex.split(line)
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("govindex", list(args))
    while hasattr(cmd, "commands"):  # a group: the next word names its command
        rest = [*ctx._protected_args, *ctx.args]  # click keeps the command word apart
        assert rest, f"`govindex {line}` names no command"
        name, sub, left = cmd.resolve_command(ctx, rest)
        assert sub is not None, f"`govindex {line}`: no command {name!r}"
        cmd, ctx = sub, sub.make_context(name, list(left), parent=ctx)  # UsageError/BadParameter if wrong


def test_rule_file_locations_exist():
    cited = set(re.findall(r"(rules/[\w.-]+/[\w.-]+\.rules):(\d+)", README))
    assert cited
    for path, line in sorted(cited):
        f = ROOT / path
        assert f.is_file(), f"README cites {path}, which does not exist"
        assert int(line) <= len(f.read_text(encoding="utf-8").splitlines()), f"README cites {path}:{line}"


def test_unknown_column_sample_points_at_the_probe():
    # `check` on `markerz` at rules/2019/1-supply.rules:54:38: that place holds `markers` today
    m = re.search(r"rules/2019/1-supply\.rules:(\d+):(\d+): error\[E102 unknown-column\]", README)
    assert m
    line = (ROOT / "rules/2019/1-supply.rules").read_text(encoding="utf-8").splitlines()[int(m.group(1)) - 1]
    assert line[int(m.group(2)) - 1:].startswith("markers")


def test_diff_sample_is_the_real_output():
    sample = next(b for b in BLOCKS if b.startswith("rules/2018 → rules/2019\n"))
    real = set((GOLDEN / "diff_2018_2019.txt").read_text(encoding="utf-8").splitlines())
    shown = [ln for ln in sample.splitlines() if ln.strip() != "…"]
    assert len(shown) > 15
    missing = [ln for ln in shown if ln not in real]
    assert not missing, f"README diff sample lines not in the real output: {missing}"


def _table_rows() -> list[str]:
    """The first cell of each row of the README's table of commands."""
    table = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    return [ln.split(" | ")[0] for ln in table.splitlines() if ln.startswith("| `govindex")]


def _resolve(words: list[str]):
    cmd = typer.main.get_command(app)
    for w in words:
        if not hasattr(cmd, "commands") or w not in cmd.commands:
            break
        cmd = cmd.commands[w]
    return cmd


def test_commands_table_names_every_command_and_only_real_options():
    top = typer.main.get_command(app)
    listed: set[str] = set()
    for cell in _table_rows():
        for span in re.findall(r"`govindex ([^`]+)`", cell):
            words = span.replace("\\|", "|").split()
            for alt in words[1].split("|") if len(words) > 1 and "|" in words[1] else [None]:
                path = [words[0], *([alt] if alt else words[1:2])]
                assert path[0] in top.commands, f"README's table names no command `govindex {path[0]}`"
                cmd = _resolve(path)
                listed.add(" ".join(path[: 1 + hasattr(top.commands[path[0]], "commands")]))
                if alt is not None:
                    continue  # `manual template|import …`: options not listed
                known = {o for prm in cmd.params for o in (*prm.opts, *prm.secondary_opts)}
                unknown = set(re.findall(r"--[a-z][a-z-]*", span)) - known
                assert not unknown, f"README lists {sorted(unknown)} for `govindex {' '.join(path)}`"
    real = {n if not hasattr(c, "commands") else f"{n} {s}" for n, c in top.commands.items()
            for s in (getattr(c, "commands", None) or [None])}
    assert real <= listed, f"commands missing from the README's table: {sorted(real - listed)}"


@pytest.fixture(scope="module")
def example_2019():
    """rules/2019 scored on the shipped example facts, as `score` does (about 3 s)."""
    from govindex.check.run import load
    from govindex.eval.evaluate import evaluate
    from govindex.eval.explain import load_sources
    from govindex.results import wide_table

    rs = load(ROOT / "rules/2019")
    sc = evaluate(rs, load_sources(rs, ROOT / "examples/2019/facts"))
    return wide_table(sc).sort("rank", "code")


def test_example_figures_the_readme_quotes(example_2019):
    w = example_2019
    top = w.row(0, named=True)
    # the Results JSON sample's rank-1 unit, and the unit shown as rank 161
    assert f'"code": "{top["code"]}", "name": "{top["name"]}"' in README
    assert f'"total": {top["total"]:.2f}, "rank": 1, "grade": "{top["grade"]}", "sublevel": "{top["sublevel"]}"' in README
    dg = w.filter(w["code"] == "441900").row(0, named=True)
    assert f'"total": {dg["total"]:g}, "rank": {dg["rank"]}' in README
    # the class counts and the first-level means set beside the report's
    counts = " / ".join(str(w.filter(w["grade"] == c).height) for c in "ABCD")
    flat = " ".join(README.split())
    assert f"On the shipped example facts: {counts} units (the 2019 report: 14 / 203 / 103 / 14)" in flat
    assert f"It finds {counts};" in flat
    means = ", ".join(f"{w[c].mean():.2f}" for c in ("supply", "response")) + f" and {w['intelligence'].mean():.2f}"
    assert f"They come out at {means}." in flat
