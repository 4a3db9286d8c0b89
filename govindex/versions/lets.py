"""`let` and function changes, each shown once at its definition, with the nodes it affects.

A let (``let p10 = 2336``) or a function (``let r2(v) = round(v, 2)``, a let with parameters)
that is added, removed or changed is one edit of scope "let" or "function". Its ``affects`` are
the nodes whose written expressions use it, directly or through other lets. The nodes' own
probe/formula edits that the let change explains entirely (their expressions as written are
the same in both versions) are then not listed: :func:`explained` tells the node diff so.
"""

from __future__ import annotations

from govindex.ir import RuleSet
from govindex.lang import nodes as n
from govindex.versions.exprdiff import parts as expr_parts


def _params(rs: RuleSet, name: str) -> tuple[str, ...]:
    decl = _decl(rs, name)
    return tuple(getattr(decl, "params", ())) if decl is not None else ()


def _decl(rs: RuleSet, name: str) -> n.LetDecl | None:
    return next((it for f in rs.files for it in f.items if isinstance(it, n.LetDecl) and it.name == name), None)


def uses(e: n.Expr | None) -> set[str]:
    """The names an expression reads: variables and called functions (a let may be either)."""
    out: set[str] = set()
    for x in n.walk(e):
        if isinstance(x, n.Name):
            out.add(x.id)
        elif isinstance(x, n.Call):
            out.add(x.fn)
    return out


def changed_lets(old: RuleSet, new: RuleSet) -> list[str]:
    """The lets added, removed or changed (body or parameters), old order first."""
    names = [*old.lets, *(k for k in new.lets if k not in old.lets)]
    return [k for k in names if old.lets.get(k) != new.lets.get(k) or _params(old, k) != _params(new, k)]


def closure(rs: RuleSet, changed: set[str]) -> set[str]:
    """``changed`` and every let of ``rs`` that uses one of them, transitively."""
    out = set(changed)
    grew = True
    while grew:
        grew = False
        for k, body in rs.lets.items():
            if k not in out and uses(body) & out:
                out.add(k)
                grew = True
    return out


def affected(rs: RuleSet, lets: set[str]) -> list[str]:
    """The node ids of ``rs`` (tree order) whose written settings use one of ``lets`` (closed)."""
    reach = closure(rs, lets)
    return [x.id for x in rs.nodes.values() if any(uses(e) & reach for e in _written(x))]


def _written(x) -> list[n.Expr]:
    return [e for e in (x.probe_src, x.score_src, *x.settings.values()) if e is not None]


def explained(expr_old: n.Expr | None, expr_new: n.Expr | None, reach: set[str]) -> bool:
    """Whether a difference in meaning between two expressions written alike is due to a changed let."""
    return expr_old is not None and expr_old == expr_new and bool(uses(expr_new) & reach)


def let_edits(old: RuleSet, new: RuleSet, m: dict[str, str], make) -> list:
    """One edit per changed let/function (``make`` builds an Edit from keyword arguments), its
    ``affects`` the nodes that use it in the new version (in the old one for a removed let, their
    ids mapped to the new ones), its ``parts`` the smallest changed subexpressions of its body."""
    out = []
    for k in changed_lets(old, new):
        a, b = old.lets.get(k), new.lets.get(k)
        kind = "added" if a is None else "removed" if b is None else "changed"
        hits = affected(new, {k}) if b is not None else []
        hits += [j for i in affected(old, {k}) if (j := m.get(i, i)) not in hits]
        text_o, text_n = _text(old, k, a), _text(new, k, b)
        found = expr_parts(a, b) if a is not None and b is not None and a != b else []
        pieces = [(p.path, p.old, p.new) for p in found]
        if kind == "changed" and not pieces:  # only the parameters changed
            pieces = [("", text_o or "", text_n or "")]
        do, dn = _decl(old, k), _decl(new, k)
        out.append(make(kind=kind, node=k, field="value" if kind == "changed" else None, old=text_o, new=text_n,
                        old_span=do.span if do else None, new_span=dn.span if dn else None,
                        scope="function" if _params(old, k) or _params(new, k) else "let", label="",
                        affects=tuple(hits), parts=tuple((o, w) for _, o, w in pieces),
                        paths=tuple(p for p, _, _ in pieces)))
    return out


def _text(rs: RuleSet, name: str, body: n.Expr | None) -> str | None:
    """``name(a, b) = body`` or ``name = body`` as written (format_expr), None when absent."""
    if body is None:
        return None
    from govindex.lang.fmt import format_expr

    ps = _params(rs, name)
    head = f"{name}({', '.join(ps)})" if ps else name
    return f"{head} = {format_expr(body)}"
