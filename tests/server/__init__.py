"""Collector tests: ingest, queries, CLI, storage on SQLite and PostgreSQL."""
