"""The ``govindex`` command line: the one place that wires the engine's stages (and the
collection commands).

Each module of this package adds its commands to ``app`` (``govindex.cli.base``, which they all
import; nothing imports back). Heavy modules (polars) are imported inside commands so that
``govindex --help`` starts fast.
"""

from __future__ import annotations

# Register the commands: importing a module adds its commands to ``app``, in this order in --help.
from govindex.cli import analyze as _analyze  # noqa: F401
from govindex.cli import bench as _bench  # noqa: F401
from govindex.cli import commands as _commands  # noqa: F401
from govindex.cli import diff as _diff  # noqa: F401
from govindex.cli import override as _override  # noqa: F401
from govindex.cli import report as _report  # noqa: F401

# isort: split
# Collection commands come last in --help.
from govindex.cli import collect as _collect  # noqa: F401
from govindex.cli.base import app

__all__ = ["app", "main"]


def main() -> None:
    """The ``govindex`` console script."""
    app()
