"""The shape of an expression with its lets followed: how many nodes, how deep.

A ``let`` is lowered once and shared (the IR is a DAG), so its size does not multiply; but a
chain of hundreds of lets makes an expression too deep for the recursive passes (check,
compile, polars). The shape is measured before anything is lowered, each let once and without
recursion, so measuring is linear in the rule text whatever the lets do.
"""

from __future__ import annotations

from collections.abc import Iterator

from govindex.lang import nodes as n

# An expression with its lets followed may be nested at most this many levels deep: it keeps
# every recursive pass well within Python's recursion limit (a level costs check two frames);
# the parser alone stops near 500 levels of written nesting.
MAX_DEPTH = 300

Shapes = dict[str, tuple[int, int]]  # let → (nodes, depth) with its own lets inlined


def expanded_shape(e: n.Expr, lets: dict[str, n.Expr], shapes: Shapes) -> tuple[int, int]:
    """(nodes, depth) of ``e`` with every let inlined — an upper bound: a column that shares a
    let's name counts as the let. ``shapes`` memoises the lets measured so far."""
    _measure_lets(list(_refs(e, lets)), lets, shapes)
    return _measure(e, lets, shapes)


def lets_reached(e: n.Expr, lets: dict[str, n.Expr]) -> set[str]:
    """Every let ``e`` uses, directly or through other lets."""
    seen: set[str] = set()
    todo = list(_refs(e, lets))
    while todo:
        cur = todo.pop()
        if cur not in seen:
            seen.add(cur)
            todo += list(_refs(lets[cur], lets))
    return seen


def _refs(e: n.Expr, lets: dict[str, n.Expr]) -> Iterator[str]:
    """The lets (and functions: a call ``f(…)`` of a ``let f(…)``) that ``e`` names."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, n.Name) and x.id in lets:
            yield x.id
        elif isinstance(x, n.Call) and x.fn in lets:
            yield x.fn
        stack.extend(n.children(x))


def _measure_lets(todo: list[str], lets: dict[str, n.Expr], shapes: Shapes) -> None:
    # Iterative post-order over the lets a let uses: a chain of 250,000 lets must not recurse.
    visiting: set[str] = set()
    stack = list(todo)
    while stack:
        cur = stack[-1]
        if cur in shapes:
            stack.pop()
        elif cur not in visiting:
            visiting.add(cur)
            stack += [x for x in _refs(lets[cur], lets) if x not in shapes and x not in visiting]
        else:
            shapes[cur] = _measure(lets[cur], lets, shapes)  # a let in a cycle (E205) counts as one node
            stack.pop()


def _measure(e: n.Expr, lets: dict[str, n.Expr], shapes: Shapes) -> tuple[int, int]:
    size = depth = 0
    stack = [(e, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, n.Name) and x.id in lets:
            s, dd = shapes.get(x.id, (1, 1))
            size, depth = size + s, max(depth, d + dd)  # the name is a level too: its expansion is nested
            continue
        if isinstance(x, n.Call) and x.fn in lets:  # a function: its body, the arguments somewhere inside
            s, dd = shapes.get(x.fn, (1, 1))
            size, depth = size + s, max(depth, d + dd + 1)  # the call is a level of its own
            stack += [(c, d + dd) for c in n.children(x)]
            continue
        size, depth = size + 1, max(depth, d)
        stack += [(c, d + 1) for c in n.children(x)]
    return size, depth
