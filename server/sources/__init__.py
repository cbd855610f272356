"""Sources as citations: BibTeX export (the .bib API, ``readingroom sources export``) and
BibTeX import into content/sources.yaml."""
