"""The original SDK's (0.0.44) ``agentsight.types``: the attachment input types.

.. versionadded:: 0.2
"""

from __future__ import annotations

from typing import BinaryIO

__all__ = ["AttachmentInput", "FileData"]

#: The ``data`` of an attachment given as bytes or a file object.
FileData = bytes | BinaryIO
#: An attachment: ``{"filename", "mime_type", "data"}`` (base64 text, or FileData).
AttachmentInput = dict[str, str | FileData]
