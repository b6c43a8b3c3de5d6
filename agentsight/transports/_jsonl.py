"""A transport that appends each event as one JSON line to a file (or stdout)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

import anyio

from ._base import Batch, Outcome, SendResult
from ._decode import batch_events

__all__ = ["JsonLinesTransport"]


class JsonLinesTransport:
    """Writes events as JSON lines: to *path*, or to standard output when it is ``"-"``.

    Handy for a bot that has no collector yet, or to see exactly what would be
    sent.  The file is written from a worker thread, never from the event loop.
    """

    needs_asyncio = False

    def __init__(self, path: str | Path = "-") -> None:
        self._path = path

    def _write(self, lines: str) -> None:
        if self._path == "-":
            sys.stdout.write(lines)
            sys.stdout.flush()
            return
        handle: IO[str]
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(lines)

    async def send(self, batch: Batch) -> SendResult:
        lines = "".join(json.dumps(event) + "\n" for event in batch_events(batch))
        try:
            await anyio.to_thread.run_sync(self._write, lines)
        except OSError as exc:
            return SendResult(Outcome.RETRY, error=f"cannot write {self._path}: {exc}")
        return SendResult(Outcome.DELIVERED, accepted=batch.count)

    async def aclose(self) -> None:
        pass
