"""Composition: a rule set that ``extends`` another, edits it, and ``include``s shared files.

A syntax-tree → syntax-tree pass, run before ``check`` (docs §2a). For a rule set directory:

1. its files, with every ``include`` replaced by the included file (recursively);
2. if it ``extends`` a directory: that rule set, composed in turn (a chain of extends), then this
   one's edits applied in order (``override``, ``replace``, ``remove``, ``move``, ``rename``);
3. this one's own declarations added after the inherited ones.

Inherited items keep their base file's spans and every edit brings its own, so diagnostics,
``explain`` and ``diff`` point to the file that defined the thing. All problems are collected
(E330–E339); the checker runs only when composition found none.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from govindex.diagnostics import Diagnostic, RuleError, did_you_mean
from govindex.lang import nodes as n
from govindex.lang.parse import parse_dir, parse_file
from govindex.lang.templates import expand_templates

Node = n.IndicatorDecl | n.PointDecl
_NODE_KINDS = {"point": n.PointDecl, "indicator": n.IndicatorDecl}
_TOP_KINDS: dict[str, type] = {"table": n.TableDecl, "let": n.LetDecl, "test": n.TestDecl, "marker": n.MarkerDecl,
                               "clean": n.CleanDecl, "summary": n.SummaryDecl, "statistic": n.StatisticDecl,
                               "grading": n.GradingDecl,
                               "ruleset": n.RulesetDecl}
_EDITS = (n.OverrideDecl, n.RemoveDecl, n.MoveDecl, n.RenameDecl, n.ReplaceDecl)


def compose(files: list[n.RuleFile], root: Path) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    """The resolved files of the rule set at ``root`` (parsed as ``files``), and the composition errors."""
    c = _Composer()
    out = c.resolve(files, [_key_path(root)])
    return out, c.diags


def _key_path(p: Path) -> Path:
    return p.resolve() if p.is_dir() else p.resolve().parent


def key_of(it: n.Decl) -> tuple[str, str]:
    """(namespace, name) of a declaration: points and indicators share the ``node`` namespace."""
    if isinstance(it, (n.PointDecl, n.IndicatorDecl)):
        return "node", it.id
    if isinstance(it, (n.TableDecl, n.LetDecl)):
        return ("table" if isinstance(it, n.TableDecl) else "let"), it.name
    if isinstance(it, n.TestDecl):
        return "test", it.name
    if isinstance(it, n.GradingDecl):
        return "grading", it.id or ""
    if isinstance(it, n.RulesetDecl):
        return "ruleset", ""
    kind = {n.MarkerDecl: "marker", n.CleanDecl: "clean", n.StatisticDecl: "statistic"}.get(type(it), "summary")
    return kind, it.id


def _namespace(kind: str) -> str:
    return "node" if kind in _NODE_KINDS else kind


@dataclass
class _Composer:
    diags: list[Diagnostic] = field(default_factory=list)

    def err(self, code: str, msg: str, span: n.Span, hint: str = "") -> None:
        self.diags.append(Diagnostic(code, msg, span, hint))

    # ------------------------------------------------------------------ extends and include
    def resolve(self, files: list[n.RuleFile], chain: list[Path]) -> list[n.RuleFile]:
        files = self._includes(files)
        extends = [it for f in files for it in f.items if isinstance(it, n.ExtendsDecl)]
        edits = [it for f in files for it in f.items if isinstance(it, _EDITS)]
        own = [replace(f, items=tuple(it for it in f.items if not isinstance(it, (n.ExtendsDecl, *_EDITS))))
               for f in files]
        if not extends:
            for e in edits:
                self.err("E337", f"`{_edit_word(e)}` in a rule set that extends nothing", e.span,
                         'edits apply to an inherited rule set: add `extends "../<base>"` (in ruleset.rules)')
            return own
        for extra in extends[1:]:
            self.err("E337", "a second `extends`", extra.span, f"a rule set extends one base; the first is at {extends[0].span}")
        base = self._base(extends[0], chain)
        if base is None:
            return own
        return _Editor(self, base).apply(edits, own)

    def _base(self, ext: n.ExtendsDecl, chain: list[Path]) -> list[n.RuleFile] | None:
        path = _joined(ext.span.path, ext.path)
        if not path.is_dir() or not any(path.rglob("*.rules")):
            what = "does not exist" if not path.exists() else "is not a rule set directory (no .rules files)"
            self.err("E331", f"`extends {_quoted(ext.path)}`: {path} {what}", ext.span,
                     "the path is relative to this file's directory, e.g. extends \"../2019\"")
            return None
        key = _key_path(path)
        if key in chain:
            shown = " → ".join(str(p) for p in [*chain[chain.index(key):], key])
            self.err("E332", f"a cycle of extends: {shown}", ext.span, "a base cannot extend, directly or not, "
                     "the rule set that extends it")
            return None
        files, diags = parse_dir(path)
        if diags:
            self.diags.extend(diags)
            return None
        # The base's templates are expanded before the child's edits, so that an edit can name a
        # generated node (`override point water_licence { … }`); the child's own templates are
        # expanded by check() after composition.
        files, diags = expand_templates(self.resolve(files, [*chain, key]))
        if diags:
            self.diags.extend(diags)
            return None
        return files

    def _includes(self, files: list[n.RuleFile], stack: tuple[str, ...] = ()) -> list[n.RuleFile]:
        out: list[n.RuleFile] = []
        for f in files:
            out.append(replace(f, items=tuple(it for it in f.items if not isinstance(it, n.IncludeDecl))))
            for inc in (it for it in f.items if isinstance(it, n.IncludeDecl)):
                out.extend(self._include(inc, (*stack, str(Path(f.path).resolve()))))
        return out

    def _include(self, inc: n.IncludeDecl, stack: tuple[str, ...]) -> list[n.RuleFile]:
        path = _joined(inc.span.path, inc.path)
        if not path.is_file():
            self.err("E336", f"`include {_quoted(inc.path)}`: {path} is not a file", inc.span,
                     "the path is relative to this file's directory, e.g. include \"../shared/markers.rules\"")
            return []
        if str(path.resolve()) in stack:
            shown = " → ".join([*stack[stack.index(str(path.resolve())):], str(path.resolve())])
            self.err("E335", f"a cycle of includes: {shown}", inc.span, "include each shared file once, from the rule set")
            return []
        try:
            f = parse_file(path)
        except RuleError as exc:
            self.diags.extend(exc.diagnostics)
            return []
        return self._includes([f], stack)


def _joined(written_in: str, rel: str) -> Path:
    """``rel`` relative to the directory of the file that wrote it, normalised but not made absolute,
    so that inherited spans read ``rules/2019/1-supply.rules``, not ``rules/2018/../2019/…``."""
    return Path(os.path.normpath(Path(written_in).parent / rel))


def _quoted(s: str) -> str:
    return '"' + s + '"'


def _edit_word(e: n.Edit) -> str:
    return {n.OverrideDecl: "override", n.RemoveDecl: "remove", n.MoveDecl: "move", n.RenameDecl: "rename",
            n.ReplaceDecl: "replace"}.get(type(e), "edit")


def _target(e: n.Edit) -> tuple[str, str, str]:
    """(kind, namespace, name) an edit applies to."""
    if isinstance(e, n.ReplaceDecl):
        ns, name = key_of(e.item)
        kind = {n.PointDecl: "point", n.IndicatorDecl: "indicator"}.get(type(e.item), ns)
        return kind, ns, name
    assert isinstance(e, (n.OverrideDecl, n.RemoveDecl, n.MoveDecl, n.RenameDecl))
    return e.kind, _namespace(e.kind), e.target


Rewrite = Callable[[n.Decl], "list[n.Decl] | None"]  # None: not this one, keep looking


class _Editor:
    """Applies a child's edits, in order, to its base's files."""

    def __init__(self, c: _Composer, base: list[n.RuleFile]):
        self.c = c
        self.files = base
        self.removed: dict[str, n.Span] = {}  # node id → the edit that took it away

    def apply(self, edits: list[Any], own: list[n.RuleFile]) -> list[n.RuleFile]:
        """The base's files edited, then this rule set's own declarations."""
        self._twice(edits)
        new_ids = {key_of(it) for f in own for it in _decls(f.items)}
        for e in edits:
            kind, ns, name = _target(e)
            if isinstance(e, n.MoveDecl):
                self._move(e, new_ids)
            elif self._edit(e, kind, ns, name, _rewriter(self.c, e)) and isinstance(e, (n.RemoveDecl, n.RenameDecl)):
                gone = _subtree_ids(self._last) if isinstance(e, n.RemoveDecl) else [name]
                self.removed.update({i: e.span for i in gone if ns == "node"})
        self.removed = {k: v for k, v in self.removed.items() if ("node", k) not in self._all_keys(own)}
        result = [*self.files, *own]
        _References(self.c, self.removed).check(result)
        return result

    def _all_keys(self, own: list[n.RuleFile]) -> set[tuple[str, str]]:
        return {key_of(it) for f in (*self.files, *own) for it in _decls(f.items)}

    def _twice(self, edits: list[n.Edit]) -> None:
        seen: dict[tuple[str, str, str, str], n.Span] = {}
        for e in edits:
            if not isinstance(e, (n.OverrideDecl, n.ReplaceDecl)):
                continue
            _, ns, name = _target(e)
            k = (e.span.path, ns, name, type(e).__name__)
            if k in seen:
                self.c.err("E334", f"`{ns if ns != 'node' else 'node'} {name}` is {_edit_word(e)}d twice in this file",
                           e.span, f"the first is at {seen[k]}: merge the two into one")
            seen.setdefault(k, e.span)

    def _edit(self, e: n.Edit, kind: str, ns: str, name: str, fn: Rewrite) -> bool:
        wanted = _NODE_KINDS.get(kind) or _TOP_KINDS[kind]
        self._last: n.Decl | None = None

        def match(it: n.Decl) -> list[n.Decl] | None:
            if key_of(it) != (ns, name) or not isinstance(it, wanted):
                return None
            self._last = it
            return fn(it)
        self.files = [replace(f, items=_rewrite(f.items, match)) for f in self.files]
        if self._last is None:
            self._unknown(e, kind, ns, name)
            return False
        return True

    def _unknown(self, e: n.Edit, kind: str, ns: str, name: str) -> None:
        same_ns = [it for f in self.files for it in _decls(f.items) if key_of(it)[0] == ns]
        known = [key_of(it)[1] for it in same_ns]
        shown = f"{kind} {name}" if name else f"unnamed {kind}"
        hint = did_you_mean(name, known) if name else ""
        other = next((it for it in same_ns if key_of(it)[1] == name), None)
        if other is not None:  # `remove point x` where x is an indicator
            actual = "indicator" if isinstance(other, n.IndicatorDecl) else "point"
            hint = f"`{name}` is an {actual}: write `{_edit_word(e)} {actual} {name}`"
        where = f" (removed at {self.removed[name]})" if name in self.removed else ""
        self.c.err("E330", f"`{_edit_word(e)} {shown}`: the base has no {kind} `{name or '(unnamed)'}`{where}", e.span,
                   hint or f"the base declares {len(known)} of that kind; `govindex show` lists the resolved rule set")

    def _move(self, e: n.MoveDecl, new_ids: set[tuple[str, str]]) -> None:
        if not self._edit(e, e.kind, "node", e.target, lambda it: []):
            return
        moved = self._last
        assert isinstance(moved, (n.PointDecl, n.IndicatorDecl))
        if ("node", e.parent) in new_ids and not e.place:  # under an indicator this rule set adds
            self.files.append(n.RuleFile(e.span.path, (replace(moved, under=e.parent, span=e.span),)))
            return
        if e.parent in _subtree_ids(moved):
            self.c.err("E338", f"`move {e.kind} {e.target} under {e.parent}`: {e.parent} is inside {e.target}",
                       e.span, "a node cannot move under itself or its own subtree")
            return
        placed = [False]

        def into(it: n.Decl) -> list[n.Decl] | None:
            if not isinstance(it, n.IndicatorDecl) or it.id != e.parent:
                return None
            kids = _insert(it.children, replace(moved, under=None, span=e.span), e)  # its place is defined here
            placed[0] = kids is not None
            return [replace(it, children=kids if kids is not None else it.children)]
        self.files = [replace(f, items=_rewrite(f.items, into)) for f in self.files]
        if not placed[0]:
            parents = [k for f in self.files for it in _decls(f.items)
                       if isinstance(it, n.IndicatorDecl) for k in [it.id]]
            what = f"no indicator `{e.parent}`" if e.parent not in parents else \
                f"`{e.sibling}` is not a child of `{e.parent}`"
            self.c.err("E338", f"`move {e.kind} {e.target} under {e.parent}`: {what}", e.span,
                       did_you_mean(e.parent, parents) or "move under an indicator, before/after one of its children")


def _rewriter(c: _Composer, e: n.Edit) -> Rewrite:
    """What ``e`` makes of the item it names."""
    def fn(it: n.Decl) -> list[n.Decl]:
        if isinstance(e, n.OverrideDecl):
            return [_override(c, it, e)]
        if isinstance(e, n.ReplaceDecl):
            return [_replaced(it, e.item)]
        if isinstance(e, n.RenameDecl) and isinstance(it, (n.PointDecl, n.IndicatorDecl)):
            return [replace(it, id=e.new, span=e.span)]  # the id is defined here now
        return []
    return fn


def _insert(kids: tuple[n.IndicatorDecl | n.PointDecl | n.RefDecl, ...], node: n.Decl,
            e: n.MoveDecl) -> tuple[n.IndicatorDecl | n.PointDecl | n.RefDecl, ...] | None:
    assert isinstance(node, (n.IndicatorDecl, n.PointDecl))
    if e.place is None:
        return (*kids, node)
    for i, k in enumerate(kids):
        if isinstance(k, (n.IndicatorDecl, n.PointDecl)) and k.id == e.sibling:
            at = i if e.place == "before" else i + 1
            return (*kids[:at], node, *kids[at:])
    return None


def _rewrite(items: tuple[Any, ...], fn: Rewrite) -> tuple[Any, ...]:
    """``items`` with every declaration ``fn`` answers for replaced by its answer, indicators' children included."""
    out: list[Any] = []
    for it in items:
        got = fn(it) if not isinstance(it, n.RefDecl) else None
        if got is not None:
            out.extend(got)
        elif isinstance(it, n.IndicatorDecl):
            out.append(replace(it, children=_rewrite(it.children, fn)))
        else:
            out.append(it)
    return tuple(out)


def _decls(items: tuple[Any, ...]) -> list[n.Decl]:
    """Every declaration in ``items``, nested nodes included."""
    out: list[n.Decl] = []
    for it in items:
        if isinstance(it, n.RefDecl):
            continue
        out.append(it)
        if isinstance(it, n.IndicatorDecl):
            out.extend(_decls(it.children))
    return out


def _subtree_ids(it: n.Decl | None) -> list[str]:
    return [d.id for d in _decls((it,)) if isinstance(d, (n.PointDecl, n.IndicatorDecl))] if it else []


def _replaced(old: n.Decl, new: n.Decl) -> n.Decl:
    if isinstance(old, (n.PointDecl, n.IndicatorDecl)) and isinstance(new, (n.PointDecl, n.IndicatorDecl)):
        return replace(new, under=new.under or old.under)
    return new


def _override(c: _Composer, it: n.Decl, e: n.OverrideDecl) -> n.Decl:
    if isinstance(it, n.LetDecl):
        return replace(it, value=e.value, span=e.span) if e.value is not None else it  # defined here now
    if isinstance(it, n.TableDecl):
        cols = list(it.columns)
        for col in e.columns:
            at = next((i for i, x in enumerate(cols) if x.name == col.name), None)
            cols[at if at is not None else len(cols):at + 1 if at is not None else len(cols)] = [col]
        return replace(it, columns=tuple(cols), valid=e.valid if e.valid is not None else it.valid)
    settings = list(getattr(it, "settings", ()))
    for s in e.settings:
        at = next((i for i, x in enumerate(settings) if x.key == s.key), None)
        if at is None:
            settings.append(s)
        else:
            settings[at] = s
    for u in e.unsets:
        if not any(x.key == u.key for x in settings):
            c.err("E330", f"`unset {u.key}`: the {e.kind} has no setting `{u.key}`", u.span,
                  did_you_mean(u.key, [x.key for x in settings]) or "settings: " + ", ".join(x.key for x in settings))
        settings = [x for x in settings if x.key != u.key]
    out = replace(it, settings=tuple(settings))  # type: ignore[arg-type]
    if e.label is not None:  # the name is defined here now
        out = replace(out, name=e.label, span=e.span) if isinstance(out, n.RulesetDecl) else \
            replace(out, label=e.label, span=e.span)  # type: ignore[arg-type]
    return out


class _References:
    """E333: a node the child removed (or renamed) that something still names."""

    def __init__(self, c: _Composer, removed: dict[str, n.Span]):
        self.c, self.removed = c, removed

    def check(self, files: list[n.RuleFile]) -> None:
        if not self.removed:
            return
        for f in files:
            for it in _decls(f.items):
                self._decl(it)
            for top in f.items:
                if isinstance(top, n.IndicatorDecl):
                    self._refs(top)

    def _hit(self, name: str, span: n.Span, what: str) -> None:
        if name in self.removed:
            self.c.err("E333", f"{what} `{name}`, which this rule set removes", span,
                       f"removed at {self.removed[name]}: drop or change this reference too")

    def _refs(self, it: n.IndicatorDecl) -> None:
        for k in it.children:
            if isinstance(k, n.RefDecl):
                self._hit(k.target, k.span, f"`{it.id}` counts (ref)")
            elif isinstance(k, n.IndicatorDecl):
                self._refs(k)

    def _decl(self, it: n.Decl) -> None:
        if isinstance(it, (n.PointDecl, n.IndicatorDecl)) and it.under:
            self._hit(it.under, it.span, f"`{it.id}` is declared under")
        elif isinstance(it, n.TestDecl):
            for ex in it.expects:
                self._hit(ex.node, ex.span, f"test {_quoted(it.name)} expects a value of")
        elif isinstance(it, (n.GradingDecl, n.SummaryDecl, n.StatisticDecl)):
            for s in it.settings:
                for x in n.walk(s.value):
                    if isinstance(x, n.Name) and s.key in ("measures", "of", "node", "nodes", "where"):
                        self._hit(x.id, x.span, f"`{s.key}:` names")


def show_items(files: list[n.RuleFile]) -> list[dict[str, object]]:
    """``govindex show --format json``: each resolved top-level item, where it was defined, and its text."""
    from govindex.lang.fmt import format_file

    out: list[dict[str, object]] = []
    for f in files:
        for it in f.items:
            if isinstance(it, (n.ExtendsDecl, n.IncludeDecl, *_EDITS)):
                continue
            ns, name = key_of(it)
            kind = {n.PointDecl: "point", n.IndicatorDecl: "indicator"}.get(type(it), ns)
            text = format_file(n.RuleFile(f.path, (it,))).rstrip("\n")
            out.append({"kind": kind, "id": name, "path": it.span.path, "line": it.span.line, "text": text})
    return out
