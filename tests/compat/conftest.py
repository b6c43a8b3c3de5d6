"""Fixtures of the official SDKs' routes: the collector tests' database and collector."""

from __future__ import annotations

from tests.server.conftest import (  # noqa: F401  (fixtures, by name)
    anyio_backend,
    backend,
    collector,
    database,
)
