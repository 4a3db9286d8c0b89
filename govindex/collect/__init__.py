"""Collection: crawling, archiving, extraction, manual entry and adapters. Uses only the fact
contract (``ir``, ``eval.facts``, ``diagnostics``) of the rest of govindex."""
