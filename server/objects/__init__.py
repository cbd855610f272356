"""Any object by its stable key: resolution (aliases, tombstones) and one JSON shape per kind."""
