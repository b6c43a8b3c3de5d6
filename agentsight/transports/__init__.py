"""Where batches go: the collector over HTTP (default), memory, or a JSON-lines file.

The transports are imported on first use: aiohttp and anyio take longer to
import than the rest of the package, and ``import agentsight`` must stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._base import Batch, Outcome, Rejection, SendResult, Transport

if TYPE_CHECKING:
    from ._aiohttp import HttpTransport
    from ._jsonl import JsonLinesTransport
    from ._memory import InMemoryTransport

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

_LAZY = {
    "HttpTransport": "._aiohttp",
    "InMemoryTransport": "._memory",
    "JsonLinesTransport": "._jsonl",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
