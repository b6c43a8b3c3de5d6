"""What code written for the official SDK 0.0.44 needs of ours, kept apart from our calls.

- ``LegacyMapping``: results that also answer ``result["..."]`` as the dicts
  0.0.44 returned (``send_tracked_data()["summary"]``,
  ``fetch_conversation(...)["messages"]``), built on first use.
- ``files``: attachments as 0.0.44 took them (``base64`` strings, or
  ``form_data`` bytes and file-like objects), as JSON-able descriptors with
  base64 ``data``; the collector keeps the bytes apart (downloadable).
- ``mode_and_metadata``: 0.0.44's ``(message, attachments, attachment_mode,
  metadata)`` order, which differs from ours in the third positional.
"""

from __future__ import annotations

import base64
import binascii
import enum
import mimetypes
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .exceptions import ValidationError

__all__ = ["MODES", "LegacyMapping", "files", "is_mode", "mode_and_metadata"]

MODES = {"base64": "base64", "form_data": "form_data", "form-data": "form_data"}


class LegacyMapping:
    """Read-only ``[...]``, ``get``, ``keys``, ``in`` and iteration over ``legacy_dict()``.

    .. versionadded:: 0.3
    """

    __slots__ = ()

    def legacy_dict(self) -> dict[str, Any]:
        """The dict the official SDK 0.0.44 returned for this result."""
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.legacy_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.legacy_dict().get(key, default)

    def keys(self) -> Any:
        return self.legacy_dict().keys()

    def items(self) -> Any:
        return self.legacy_dict().items()

    def __contains__(self, key: object) -> bool:
        return key in self.legacy_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.legacy_dict())


def _mode(value: object) -> str:
    raw = getattr(value, "value", value)
    mode = MODES.get(raw.lower()) if isinstance(raw, str) else None
    if mode is None:
        raise ValidationError(
            f"attachment_mode: expected 'base64' or 'form_data', got {value!r:.80}"
        )
    return mode


def is_mode(value: object) -> bool:
    """Whether *value* names an attachment mode (0.0.44's third positional argument)."""
    raw = getattr(value, "value", value) if isinstance(value, enum.Enum) else value
    return isinstance(raw, str) and raw.lower() in MODES


def mode_and_metadata(metadata: object, attachment_mode: object) -> tuple[str, Any]:
    """The mode and the metadata of a message call, in either argument order."""
    if is_mode(metadata):  # 0.0.44's third positional: the mode
        metadata, attachment_mode = attachment_mode, metadata
    return _mode("base64" if attachment_mode is None else attachment_mode), metadata


def _bytes(index: int, data: object) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    read = getattr(data, "read", None)
    if callable(read):  # a file-like object: read now, as 0.0.44 did when sending
        content = read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        if isinstance(content, bytes):
            return content
    raise ValidationError(
        f"attachments[{index}].data: expected bytes or a file opened in binary mode"
        f" (form_data), got {type(data).__name__}"
    )


def files(attachments: object, mode: object) -> list[dict[str, Any]]:
    """*attachments* as ``{"filename", "mime_type", "data"}`` with base64 ``data``.

    Raises:
        ValidationError: not a list of dicts, base64 ``data`` that is not
            base64, form_data ``data`` that is not bytes or file-like.
    """
    chosen = _mode(mode)
    if isinstance(attachments, (str, bytes)) or not isinstance(attachments, Sequence):
        raise ValidationError(f"attachments: expected a list of dicts, got {attachments!r:.80}")
    described = []
    for index, item in enumerate(attachments):
        if not isinstance(item, Mapping) or "data" not in item:
            raise ValidationError(f"attachments[{index}]: expected a dict with 'data'")
        data = item["data"]
        if chosen == "base64" and isinstance(data, str):
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(f"attachments[{index}].data: expected base64") from None
        else:
            raw = _bytes(index, data)
        mime = item.get("mime_type") or item.get("content_type")
        name = item.get("filename")
        if not name:
            name = f"attachment_{index}{mimetypes.guess_extension(mime or '') or ''}"
        described.append(
            {
                "filename": str(name),
                "mime_type": str(
                    mime or mimetypes.guess_type(str(name))[0] or "application/octet-stream"
                ),
                "data": base64.b64encode(raw).decode("ascii"),
            }
        )
    return described
