"""``GET /v1/conversations/{id}/attachments/{event}/{index}``: an attachment's file.

The files of ``attachment`` events (sent by the official SDKs to
``/api/attachments/``) are kept beside the event; this answers one, as a
download that the browser never renders in the collector's origin.
"""

from __future__ import annotations

import unicodedata
import urllib.parse

from aiohttp import web

from .._http._access import Caller
from .._http._errors import ApiError
from .._state import STORAGE

__all__ = ["download"]


async def download(request: web.Request, caller: Caller) -> web.StreamResponse:
    """``GET /v1/conversations/{id}/attachments/{event}/{index}``: one file's bytes."""
    cid = request.match_info["conversation_id"]
    event = request.match_info["event_id"]
    raw = request.match_info["index"]
    index = int(raw) if raw.isdigit() and len(raw) < 6 else -1
    storage = request.app[STORAGE]
    data = None
    if index >= 0 and len(cid) <= 256 and len(event) == 32:
        data = await storage.get_file(caller.project, cid, event, index)
    if data is None:
        raise ApiError(404, "attachment: no such file in this project")
    name, mime = f"attachment_{index}", "application/octet-stream"
    for item in await storage.list_events(caller.project, cid):
        if item["id"] == event and index < len(item.get("files") or ()):
            described = item["files"][index]
            name = str(described.get("filename") or name)
            mime = str(described.get("mime_type") or mime)
    headers = {
        # Never rendered by the browser in our origin: downloaded, its type not sniffed.
        "Content-Disposition": _disposition(name, f"attachment_{index}"),
        "Content-Security-Policy": "sandbox",
    }
    return web.Response(body=data, content_type=_safe_type(mime), headers=headers)


def _safe_type(mime: str) -> str:
    """The stored type when it looks like one (``type/subtype``), else octet-stream."""
    kind, _, sub = mime.partition("/")
    plain = (
        kind.isascii()
        and sub.isascii()
        and kind.isalnum()
        and sub.replace("-", "").replace(".", "").replace("+", "").isalnum()
    )
    return mime if plain and len(mime) < 100 else "application/octet-stream"


def _disposition(name: str, default: str) -> str:
    """The ``Content-Disposition`` of a download named ``name`` (RFC 6266).

    The name is the sender's: control characters are dropped (a CR or LF in a
    header makes aiohttp refuse the whole answer). ``filename`` is an ASCII
    fallback, its quotes and backslashes replaced, for the clients that read no
    more; a name that is not plain ASCII is also given whole as ``filename*``,
    percent-encoded UTF-8 (RFC 5987).
    """
    name = "".join(c for c in name if unicodedata.category(c) != "Cc") or default
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = folded.replace("\\", "_").replace('"', "_") or default
    if fallback == name:
        return f'attachment; filename="{fallback}"'
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
