"""PostgreSQL storage (asyncpg): several collectors over one database, and the import
from SQLite."""
