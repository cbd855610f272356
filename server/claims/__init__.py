"""Claims and their reviews: the append-only review history, the queue, claims by source."""
