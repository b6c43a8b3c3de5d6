"""Reading a request body within limits: size as sent, gzip, size decoded, JSON.

The body is read in chunks and, when gzip-encoded, inflated as it arrives
with ``zlib.decompressobj`` and a ``max_length``, so a gzip bomb is refused
after at most the decoded limit (plus one chunk) has been produced, never
inflated whole into memory.

That needs aiohttp's own decoding off (``AppRunner(app, auto_decompress=False)``,
as ``agentsight serve`` does).  Where an embedding application leaves it on,
aiohttp hands over decoded bytes, recognised because gzip data starts with
``1f 8b`` and JSON never does; the decoded limit then still applies.

The whole body must arrive within ``body_timeout`` seconds, however it is
dribbled (a slow-loris client sending a byte now and then): past it the
answer is 408 and the connection is closed at once, without the lingering
read aiohttp would otherwise give the rest of the body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from ._errors import ApiError, json_error
from ._options import ServerOptions

__all__ = ["BodyTimeout", "body_timeout_middleware", "parse_json", "read_body", "read_json"]

log = logging.getLogger("agentsight.server")

_CHUNK = 64 * 1024
_ENCODINGS = {"", "identity", "gzip", "x-gzip"}


class _Inflater:
    """Collects the decoded body, gzip or not, refusing it past *limit* bytes."""

    def __init__(self, gzip: bool, limit: int) -> None:
        self._gzip = gzip
        self._zlib: Any = None
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        if self._gzip and not self._size and self._zlib is None and data[:1] == b"\x1f":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._zlib is None:
            return self._keep(data)
        try:
            while data:
                self._keep(self._zlib.decompress(data, self._limit - self._size + 1))
                data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise ApiError(400, "body: not valid gzip") from exc
        return None

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise ApiError(413, f"body: larger than {self._limit} bytes once decompressed")
        self._parts.append(data)

    def result(self) -> bytes:
        if self._zlib is not None and (not self._zlib.eof or self._zlib.unused_data):
            raise ApiError(400, "body: not valid gzip (truncated, or data after the end)")
        return b"".join(self._parts)


class BodyTimeout(ApiError):
    """The body did not arrive in time: 408, and the connection is to be closed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"body: not received in full within {seconds:g} s")


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a ``BodyTimeout`` with 408, then close the connection at once."""
    try:
        return await handler(request)
    except BodyTimeout as exc:
        log.debug("%s %s from %s: %s", request.method, request.path, request.remote, exc)
        response = json_error(exc.status, exc.message, {"Connection": "close"})
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        # The answer is in the transport's buffer, which closing flushes first; a
        # plain keep-alive close would linger, reading the slow body for 10 s more.
        request.protocol.force_close()
        return response


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf, which JSON cannot carry back
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


async def read_body(request: web.Request, options: ServerOptions) -> bytes:
    """The decoded body bytes, within the size limits of *options*."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _ENCODINGS:
        raise ApiError(415, f"Content-Encoding: expected gzip or none, got {encoding[:40]!r}")
    limit = options.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"body: larger than {limit} bytes")
    inflater = _Inflater(encoding in ("gzip", "x-gzip"), options.max_decompressed_bytes)
    try:
        if options.body_timeout is None:
            await _receive(request, limit, inflater)
        else:
            await asyncio.wait_for(_receive(request, limit, inflater), options.body_timeout)
    except asyncio.TimeoutError as exc:
        raise BodyTimeout(options.body_timeout or 0.0) from exc
    except (ConnectionError, HttpProcessingError) as exc:  # a broken upload, not our fault
        raise ApiError(400, "body: could not be read to its end") from exc
    return inflater.result()


async def _receive(request: web.Request, limit: int, inflater: _Inflater) -> None:
    received = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        received += len(chunk)
        if received > limit:
            raise ApiError(413, f"body: larger than {limit} bytes")
        inflater.feed(chunk)


_fast_loads: Callable[[bytes], Any] | None
try:  # the server extra installs it: about 2.5x faster than the stdlib's decoder
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - without it, the stdlib's decoder alone
    _fast_loads = None

# Where orjson and the stdlib could differ on a body both accept:
# - an integer beyond 64 bits, which orjson turns into a float.  It has at
#   least 19 digits, and a number follows ``:``, ``,`` or ``[`` (whitespace
#   apart): the table maps the digits to ``0`` and those three to ``:``, and a
#   body with ":" or ":-" then 19 zeros goes the stdlib's way;
# - a number written with more than 768 digits: orjson reads 768 and rounds an
#   exact tie between two floats up where the stdlib rounds it to even.  Such
#   a number has a run of at least 385 digits (before or after its point): a
#   body with a run of 256 goes the stdlib's way.
# A run of digits in a string matches too: that body is slower, never wrong.
_NUMBER_MARKS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x3A if b in b":,[" else b for b in range(256))
_19_DIGITS = b"0" * 19
_LONG_NUMBERS = (b":" + _19_DIGITS, b":-" + _19_DIGITS, b"0" * 256)


def _has_long_number(raw: bytes) -> bool:
    marked = raw.translate(_NUMBER_MARKS, b" \t\n\r")
    alone = marked[:20].lstrip(b"-").startswith(_19_DIGITS)  # a body that is a number
    return alone or any(needle in marked for needle in _LONG_NUMBERS)


def parse_json(raw: bytes) -> tuple[Any, bool]:
    """The decoded JSON, and whether it may hold a lone surrogate escape.

    orjson decodes the body when it is installed and accepts it, and the body
    has no number where the two could differ (see ``_LONG_NUMBERS``); then the
    value is what the stdlib gives, and it holds no lone surrogate (orjson
    refuses them).  Anything orjson refuses goes through the stdlib's decoder,
    which decides and words the error.  One difference remains: nesting
    between ~990 and 1,024 levels, which the stdlib refuses with the whole
    body (at Python's recursion limit, so the depth depends on the caller's
    stack) and orjson decodes.  The validator then rejects an event whose
    fields nest deeper than 64 levels, and ignores a value under a key it does
    not read, as it ignores any unknown field: nothing that deep is stored.
    """
    if _fast_loads is not None and not _has_long_number(raw):
        try:
            return _fast_loads(raw), False
        except ValueError:  # orjson.JSONDecodeError
            pass
    return _parse_stdlib(raw)


def _parse_stdlib(raw: bytes) -> tuple[Any, bool]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "body: not valid UTF-8") from exc
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"body: not valid JSON ({str(exc)[:200]})") from exc
    # A lone surrogate needs an escape: most bodies have no backslash at all,
    # and looking for one character is far cheaper than for "\\ud" twice.
    return value, "\\" in text and ("\\ud" in text or "\\uD" in text)


async def read_json(request: web.Request, options: ServerOptions) -> tuple[Any, bool]:
    """Read, decode and parse the JSON body of *request*; see ``parse_json``."""
    return parse_json(await read_body(request, options))
