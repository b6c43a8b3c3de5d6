"""``GET /v1/conversations/{id}/attachments/{event}/{index}``: an attachment's file.

The files of ``attachment`` events (sent by the official SDKs to
``/api/attachments/``) are kept beside the event; this answers one, as a
download that the browser never renders in the collector's origin.
"""

from __future__ import annotations

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
    quoted = name.replace("\\", "_").replace('"', "_")
    headers = {
        # Never rendered by the browser in our origin: downloaded, its type not sniffed.
        "Content-Disposition": f'attachment; filename="{quoted}"',
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
