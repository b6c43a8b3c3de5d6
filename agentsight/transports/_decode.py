"""Reading a batch body back (for the in-memory and file transports and for tests)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from ._base import Batch


def batch_events(batch: Batch) -> list[dict[str, Any]]:
    """The events of *batch* as the receiver would see them."""
    body = zlib.decompress(batch.body, 47) if batch.gzipped else batch.body
    events: list[dict[str, Any]] = json.loads(body)["events"]
    return events
