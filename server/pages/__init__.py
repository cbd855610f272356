"""Server-rendered pages; every page has a JSON twin under /api."""
