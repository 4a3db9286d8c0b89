"""govindex: a declarative rules engine for evaluation indicators (composite indices).

The pipeline, one subpackage per stage, dependencies pointing down this list:

- ``lang``      grammar, parse, syntax nodes, fmt (imports nothing of ours but ``diagnostics``);
- ``check``     passes over the syntax that build the checked rule set (``ir``);
- ``eval``      compile to polars, evaluate, facts, executor, explain, inline tests;
- ``grade``     grading; ``results`` the results contract;
- ``versions``  diff and impact between two rule sets;
- ``analysis``  the report's statistics; ``report`` the HTML report (read only the results);
- ``collect``   crawl, fetch, guard, archive, extract, manual entry, adapters (only the fact contract);
- ``synth``     synthetic web and synthetic facts;
- ``cli``       the command line, the one place that wires the stages.
"""

__version__ = "0.1.0"
