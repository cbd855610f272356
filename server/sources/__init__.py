"""Sources as citations: BibTeX entries, the .bib API and ``readingroom sources export``."""
