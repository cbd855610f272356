"""Content ingestion: validate the whole ``content/`` tree, then write it in one transaction."""
