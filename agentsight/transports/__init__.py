"""Where batches go: the collector over HTTP (default), memory, or a JSON-lines file."""

from ._aiohttp import HttpTransport
from ._base import Batch, Outcome, Rejection, SendResult, Transport
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
