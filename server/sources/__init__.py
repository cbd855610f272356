"""Sources: BibTeX import into content/sources.yaml."""
