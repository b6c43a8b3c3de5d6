"""SQLite storage: one file in WAL mode, one writer thread, the schema and its migrations."""
