"""Concept pages: the list, the whole page as JSON, the graph of typed links."""
