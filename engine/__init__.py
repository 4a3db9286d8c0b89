"""govindex engine: rule files → checked rule set → polars plan → scored tree.

Stages, each a module named after its function: ``parse`` → ``check`` → ``compile`` →
``evaluate``; ``explain``, ``fmt`` and ``inline_tests`` beside them. The engine never
imports ``probes``.
"""

__version__ = "0.1.0"
