"""The collector's settings: limits and storage options, in one value object."""

from __future__ import annotations

import attrs

__all__ = ["ServerOptions"]

MiB = 1024 * 1024


@attrs.frozen
class ServerOptions:
    """How the collector treats requests.

    Args:
        store_raw_ip: keep ``customer_ip_address`` as sent; by default only
            the country resolved from it is stored.
        max_body_bytes: largest request body, as sent (compressed or not).
        max_decompressed_bytes: largest body after gzip decoding.
        max_events: most events in one batch.
        max_content_chars: longest message ``content``, action ``response``
            or ``error_msg``.
        max_json_chars: largest ``metadata``, ``attachments`` or
            ``tools_used`` value, measured roughly in characters.
        max_depth: deepest nesting of those values.
        retry_after: seconds suggested in ``Retry-After`` when storage is unavailable.
    """

    store_raw_ip: bool = False
    max_body_bytes: int = 10 * MiB
    max_decompressed_bytes: int = 50 * MiB
    max_events: int = 10_000
    max_content_chars: int = 1 * MiB
    max_json_chars: int = 1 * MiB
    max_depth: int = 64
    retry_after: int = 2
