"""Collection: crawling, archiving, extraction and adapters (see issue 3). Imports only the
fact contract from ``engine``."""
