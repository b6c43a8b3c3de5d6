"""Where batches go: the collector over HTTP (default), memory, or a JSON-lines file.

``HttpTransport`` is imported on first use: aiohttp takes a good part of a
second to import, and ``import agentsight`` must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import Batch, Outcome, Rejection, SendResult, Transport
from ._jsonl import JsonLinesTransport
from ._memory import InMemoryTransport

if TYPE_CHECKING:
    from ._aiohttp import HttpTransport

__all__ = [
    "Batch",
    "HttpTransport",
    "InMemoryTransport",
    "JsonLinesTransport",
    "Outcome",
    "Rejection",
    "SendResult",
    "Transport",
]


def __getattr__(name: str) -> Any:
    if name == "HttpTransport":
        from ._aiohttp import HttpTransport

        return HttpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
