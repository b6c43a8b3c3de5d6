"""Small helpers users call directly, with the original SDK's (0.0.44) under their names.

.. versionchanged:: 0.2
   ``get_iso_timestamp``, ``get_mime_type``, ``prepare_form_data_payload_from_data``
   and ``AgentSightJSONEncoder``, for code written against 0.0.44.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import json
import mimetypes
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AgentSightJSONEncoder",
    "generate_conversation_id",
    "get_iso_timestamp",
    "get_mime_type",
    "prepare_form_data_payload_from_data",
]


def generate_conversation_id() -> str:
    """Return a new random conversation id, ``conv_`` followed by 24 hex digits.

    Use it where nothing in your own system identifies a conversation, for
    example one id per phone call of a voice agent.  The original SDK's ids
    had 12 hex digits; 24 (96 random bits) make collisions impossible in
    practice even across many bots sharing one collector.
    """
    return f"conv_{os.urandom(12).hex()}"


def get_iso_timestamp() -> str:
    """The current UTC time in ISO 8601, as ``2026-12-05T10:00:00.123456+00:00``."""
    return dt.datetime.now(dt.timezone.utc).isoformat()


# The leading bytes of common files: enough to name what a bot is usually sent.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)


def get_mime_type(source: str | bytes) -> str:
    """The MIME type of a file name (by its extension) or of file content (by its first
    bytes: images, PDF, ZIP, gzip, audio, else JSON or plain text when it decodes as UTF-8).

    ``application/octet-stream`` when nothing says.
    """
    if isinstance(source, str):
        return mimetypes.guess_type(source)[0] or "application/octet-stream"
    if not isinstance(source, (bytes, bytearray)) or not source:
        return "application/octet-stream"
    head = bytes(source[:16])
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if head[8:12] == b"WEBP" else "audio/wav"
    try:
        text = bytes(source[:65536]).decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    if text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(bytes(source))
        except ValueError:
            pass
        else:
            return "application/json"
    return "text/plain"


def prepare_form_data_payload_from_data(
    attachments: Sequence[Mapping[str, Any]],
    conversation_id: str,
    sender: str | enum.Enum | None = "end_user",
    metadata: Mapping[str, Any] | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The ``files`` of a multipart request to the original API's ``/api/attachments/``, as
    0.0.44 built it for ``requests``: form fields as ``(None, value)``, each attachment as
    ``(filename, file object, mime type)`` under ``attachment_{i}``.

    Args:
        attachments: dicts with ``data`` (bytes or a file object) and, optionally,
            ``filename`` and ``mime_type`` (found from the data when missing).
        conversation_id: the conversation the files belong to.
        sender: ``end_user`` or ``agent`` (an ``enums.Sender`` is taken too).
        metadata: sent as JSON.
        timestamp: ISO 8601; now by default.
    """
    if isinstance(sender, enum.Enum):
        sender = str(sender.value)
    files: dict[str, Any] = {
        "timestamp": (None, timestamp or get_iso_timestamp()),
        "conversation": (None, conversation_id),
        "sender": (None, sender),
        "mode": (None, "form_data"),
        "metadata": (None, json.dumps(metadata, cls=AgentSightJSONEncoder)),
    }
    for index, attachment in enumerate(attachments):
        data = attachment["data"]
        raw = bytes(data) if isinstance(data, (bytes, bytearray)) else None
        mime = attachment.get("mime_type") or get_mime_type(raw if raw is not None else b"")
        name = attachment.get("filename") or (
            f"attachment_{index}{mimetypes.guess_extension(mime) or '.bin'}"
        )
        stream = io.BytesIO(raw) if raw is not None else data
        if hasattr(stream, "seek"):
            stream.seek(0)
        files[f"attachment_{index}"] = (name, stream, mime)
    return files


class AgentSightJSONEncoder(json.JSONEncoder):
    """``json.JSONEncoder`` that writes enums as their values (and datetimes in ISO 8601)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, enum.Enum):
            return o.value
        if isinstance(o, (dt.datetime, dt.date)):
            return o.isoformat()
        return super().default(o)
