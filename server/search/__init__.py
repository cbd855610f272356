"""Full-text search over concepts, claims and sources (SQLite FTS5, PostgreSQL tsvector)."""
