"""The original SDK's helpers under their 0.0.44 names, for code written against it."""

from __future__ import annotations

import datetime as dt
import io
import json

from agentsight.enums import Sender
from agentsight.helpers import (
    AgentSightJSONEncoder,
    get_iso_timestamp,
    get_mime_type,
    prepare_form_data_payload_from_data,
)


def test_iso_timestamp_is_utc_now() -> None:
    """get_iso_timestamp is now, in UTC, ISO 8601."""
    stamp = dt.datetime.fromisoformat(get_iso_timestamp())
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds()) < 5


def test_mime_types_from_names_and_content() -> None:
    """By extension for names, by the first bytes for content, octet-stream when unsure."""
    assert get_mime_type("report.pdf") == "application/pdf"
    assert get_mime_type("photo.JPG") == "image/jpeg"
    assert get_mime_type("no-extension") == "application/octet-stream"
    assert get_mime_type(b"\x89PNG\r\n\x1a\n\0\0") == "image/png"
    assert get_mime_type(b"%PDF-1.7 ...") == "application/pdf"
    assert get_mime_type(b'{"a": 1}') == "application/json"
    assert get_mime_type(b"{not json") == "text/plain"
    assert get_mime_type("héllo".encode()) == "text/plain"
    assert get_mime_type(b"\xff\xfe\x00\x81") == "application/octet-stream"
    assert get_mime_type(b"") == "application/octet-stream"


def test_form_data_payload_as_0044_built_it() -> None:
    """Form fields as (None, value), files as (name, stream, mime), names made when missing."""
    named = {"data": io.BytesIO(b"x"), "filename": "a.txt", "mime_type": "text/plain"}
    files = prepare_form_data_payload_from_data(
        [{"data": b"%PDF-1.4"}, named],
        "conv-1",
        Sender.AGENT,
        {"k": Sender.USER},
        "2026-12-05T10:00:00Z",
    )  # fmt: skip
    assert files["conversation"] == (None, "conv-1")
    assert files["sender"] == (None, "agent")
    assert files["mode"] == (None, "form_data")
    assert json.loads(files["metadata"][1]) == {"k": "end_user"}
    name, stream, mime = files["attachment_0"]
    assert (name, mime, stream.read()) == ("attachment_0.pdf", "application/pdf", b"%PDF-1.4")
    assert files["attachment_1"][0] == "a.txt" and files["attachment_1"][1].read() == b"x"


def test_encoder_writes_enums_and_times() -> None:
    """AgentSightJSONEncoder: enums as values, datetimes as ISO 8601; other types still fail."""
    when = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)
    text = json.dumps({"s": Sender.USER, "t": when}, cls=AgentSightJSONEncoder)
    assert json.loads(text) == {"s": "end_user", "t": "2026-12-05T00:00:00+00:00"}
    try:
        json.dumps({"x": object()}, cls=AgentSightJSONEncoder)
    except TypeError:
        pass
    else:
        raise AssertionError("an object is not JSON")


def test_client_and_types_modules_of_0044() -> None:
    """``from agentsight.client import ...`` gives the top-level objects; types exist."""
    import agentsight
    from agentsight.client import agentsight_api, conversation_manager, conversation_tracker
    from agentsight.types import AttachmentInput, FileData

    assert conversation_tracker is agentsight.conversation_tracker
    assert agentsight_api is agentsight.agentsight_api
    assert conversation_manager is agentsight.conversation_manager
    assert AttachmentInput is not None and FileData is not None
