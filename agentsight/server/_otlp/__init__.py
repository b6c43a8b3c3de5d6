"""OpenTelemetry in: OTLP/HTTP trace requests mapped onto AgentSight's events.

``_codec`` reads requests and writes answers (protobuf or JSON),
``_tree`` says what each span is and finds its ancestors, ``_map`` turns
GenAI and OpenInference spans into wire-schema events, ``_messages`` finds
a model call's messages, ``_values`` reads attributes.
The view (``_views/_otlp.py``) validates, prices and stores the events as
``/v1/batch`` does.
"""

from __future__ import annotations

from ._codec import JSON, PROTOBUF, decode_request, encode_response, encode_status, media_type
from ._map import Group, Limits, Mapped, map_request

__all__ = [
    "JSON",
    "PROTOBUF",
    "Group",
    "Limits",
    "Mapped",
    "decode_request",
    "encode_response",
    "encode_status",
    "map_request",
    "media_type",
]
