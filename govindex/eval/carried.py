"""The per-node columns of the units frame that results carry when a rule set produces them.

Beyond ``s:<node>`` (score), ``st:<point>`` (status) and ``r:<point>`` (rate), the units frame of
:class:`govindex.eval.evaluate.Scores` may hold, per node, a column named ``<prefix><node>``:

=========  ============  =====================================================================
prefix     field         meaning
=========  ============  =====================================================================
``k:``     ``rank``      rank across units (:mod:`govindex.eval.ranks`)
``kl:``    ``rank_label`` the rank as published, ``=3`` when tied
``g:``     ``grade``     the node's grade (class id)
``imp:``   ``imputed``   true when the point's value was imputed
``tv:``    ``treated``   the point's value after outlier treatment
``why:``   ``why``       why the node is null or excluded
=========  ============  =====================================================================

Every output shows the fields a rule set produces, under these names (``rank:<node>`` in the
wide tables, a ``rank`` column in ``scores_long``, ``ranks`` in ``scores.json``, a line in
``explain``), and nothing for those it does not.
"""

from __future__ import annotations

from collections.abc import Iterable

CARRIED: tuple[tuple[str, str], ...] = (("k:", "rank"), ("kl:", "rank_label"), ("g:", "grade"),
                                        ("imp:", "imputed"), ("tv:", "treated"), ("why:", "why"))
JSON_KEYS = {"rank": "ranks", "rank_label": "rank_labels", "grade": "grades", "imputed": "imputed",
             "treated": "treated", "why": "why"}


def carried(columns: Iterable[str], nodes: Iterable[str]) -> list[tuple[str, str, list[str]]]:
    """``(prefix, field, nodes having the column)`` for each field some node of ``nodes`` has, in
    :data:`CARRIED` order, nodes in the given order."""
    have = set(columns)
    ids = list(nodes)
    out = []
    for prefix, name in CARRIED:
        with_col = [x for x in ids if prefix + x in have]
        if with_col:
            out.append((prefix, name, with_col))
    return out
