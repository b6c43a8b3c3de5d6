"""The files of ``attachment`` events: their bytes kept apart from the event.

An ``attachment`` event (our SDK's ``track_attachments``) may carry each
file's bytes as base64 ``data``.  The collector keeps the bytes beside the
event (``Storage.put_files``, downloadable) and the event keeps the
descriptors: ``filename``, ``mime_type``, ``size`` and ``sha256``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from ..storage import NewEvent

__all__ = ["split_files"]


def split_files(event: NewEvent) -> list[bytes] | None:
    """Take the ``data`` out of *event*'s files; their bytes, or ``None`` when it had none."""
    files = event.payload.get("files")
    if (
        event.type != "attachment"
        or not files
        or not any(isinstance(f, dict) and isinstance(f.get("data"), str) for f in files)
    ):
        return None
    contents, described = [], []
    for item in files:
        item = dict(item) if isinstance(item, dict) else {"value": item}
        data = item.pop("data", None)
        raw = b""
        if isinstance(data, str):
            text = data.removeprefix("base64:")
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raw = data.encode("utf-8", "surrogatepass")
        item.update(size=len(raw), sha256=hashlib.sha256(raw).hexdigest())
        contents.append(raw)
        described.append(item)
    event.payload["files"] = described
    return contents
