"""Reading a request body within limits: size as sent, gzip, size decoded, JSON.

The body is read in chunks and, when gzip-encoded, inflated as it arrives
with ``zlib.decompressobj`` and a ``max_length``, so a gzip bomb is refused
after at most the decoded limit (plus one chunk) has been produced, never
inflated whole into memory.  Each step inflates at most ``_STEP`` bytes and
the event loop runs between steps: 64 KiB of gzip can hold 50 MiB, which
inflated in one call would hold every other request up for tens of
milliseconds.

That needs aiohttp's own decoding off (``AppRunner(app, auto_decompress=False)``,
as ``agentsight serve`` does).  Where an embedding application leaves it on,
aiohttp hands over decoded bytes, recognised because gzip data starts with
``1f 8b`` and JSON never does; the decoded limit then still applies.

The whole body must arrive within ``body_timeout`` seconds, however it is
dribbled (a slow-loris client sending a byte now and then): past it the
answer is 408 and the connection is closed at once, without the lingering
read aiohttp would otherwise give the rest of the body.

Bytes alone do not bound what a body builds: ``[{},{},...]`` makes a dict
of 64 bytes and more out of every 3 bytes.  ``count_values`` counts, on the
raw bytes and before any parsing, the values and keys a body holds, and
``check_values`` refuses a body past ``max_json_values`` with 413.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from .._options import ServerOptions
from ._errors import ApiError, json_error

__all__ = [
    "BodyTimeout",
    "body_timeout_middleware",
    "check_values",
    "count_values",
    "parse_json",
    "read_body",
    "read_json",
]

log = logging.getLogger("agentsight.server")

_CHUNK = 64 * 1024
_STEP = 1024 * 1024
_ENCODINGS = {"", "identity", "gzip", "x-gzip"}


class _Inflater:
    """Collects the decoded body, gzip or not, refusing it past *limit* bytes."""

    def __init__(self, gzip: bool, limit: int) -> None:
        self._gzip = gzip
        self._zlib: Any = None
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._pending = b""
        self._more = False

    def feed(self, data: bytes) -> None:
        """Take the next chunk as sent; ``step`` until it returns ``False`` before the next."""
        if self._gzip and not self._size and self._zlib is None and data[:1] == b"\x1f":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._zlib is None:
            return self._keep(data)
        self._pending, self._more = data, True
        return None

    def steps(self) -> Iterator[None]:
        """Inflate what was fed, at most ``_STEP`` bytes a step; yields between steps."""
        while self._step():
            yield

    def _step(self) -> bool:
        if not self._more:
            return False
        wanted = min(_STEP, self._limit - self._size + 1)
        try:
            out = self._zlib.decompress(self._pending, wanted)
        except zlib.error as exc:
            raise ApiError(400, "body: not valid gzip") from exc
        self._keep(out)
        self._pending = self._zlib.unconsumed_tail
        # A full output buffer may leave output inside zlib with no input left.
        self._more = bool(self._pending) or len(out) == wanted
        return self._more

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
        for _ in inflater.steps():
            await asyncio.sleep(0)  # the loop runs between steps


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


# Every JSON value but the first follows one of these outside strings (a key
# follows "{" or ",", its value ":"); an empty array or object adds one more.
_MARKS = b",:[{"
_NOT_MARKS = bytes(b for b in range(256) if b not in _MARKS)
_NOT_MARKS_OR_QUOTE = bytes(b for b in range(256) if b not in _MARKS + b'"')
_SLICE = 1 << 20  # bytes per step: the GIL changes hands in between
_SPLIT_SLICE = 1 << 16  # marks per split: bounds the list of pieces


def count_values(raw: bytes, limit: int) -> int:
    """How many JSON values (keys included) *raw* holds, as far as *limit* needs.

    A result up to *limit* is an upper bound of the values; a result past
    it means more than *limit* values.  First the marks anywhere, strings
    included, which is an upper bound and enough for almost every body;
    when that passes *limit*, the marks outside strings only, which is exact
    for valid JSON (plus one per empty array or object), and for a body that
    is not valid JSON bounds what a parser builds before it stops at the
    first error.  Both are byte operations, a slice at a time; no value is
    built.
    """
    marks = sum(
        len(raw[at : at + _SLICE].translate(None, _NOT_MARKS)) for at in range(0, len(raw), _SLICE)
    )
    if marks < limit:
        return marks + 1
    if b"\\" in raw:  # escaped quotes and backslashes delimit nothing
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    found = b"".join(
        raw[at : at + _SLICE].translate(None, _NOT_MARKS_OR_QUOTE)
        for at in range(0, len(raw), _SLICE)
    )
    strings = found.count(b'"') // 2
    if strings > limit:  # each string is a value or a key
        return strings
    # Valid JSON never has a string right after another: '""' is one string
    # with no mark inside, which can go without changing what is outside.
    found = found.replace(b'""', b"")
    outside, inside = 0, False
    for at in range(0, len(found), _SPLIT_SLICE):
        pieces = found[at : at + _SPLIT_SLICE].split(b'"')
        outside += sum(map(len, pieces[1 if inside else 0 :: 2]))
        inside ^= len(pieces) % 2 == 0
    return outside + 1


def check_values(raw: bytes, limit: int) -> int:
    """``count_values`` of *raw*, or a 413 when it holds more than *limit* values."""
    values = count_values(raw, limit)
    if values > limit:
        raise ApiError(413, f"body: more than {limit} JSON values (keys included)")
    return values


def _parse_bounded(raw: bytes, limit: int) -> tuple[Any, bool]:
    check_values(raw, limit)
    return parse_json(raw)


# Bodies above this are counted and parsed on a worker thread, so that the
# event loop goes on answering meanwhile.
OFFLOAD_BYTES = 256 * 1024
#: Values a management body (PATCH, feedback) may hold: parsed in one go, so
#: bounded to what takes a few milliseconds (see docs/deploying.md).
MAX_OBJECT_VALUES = 100_000


async def read_json(request: web.Request, options: ServerOptions) -> tuple[Any, bool]:
    """Read, decode and parse the JSON body of *request*; see ``parse_json``.

    At most ``MAX_OBJECT_VALUES`` values (or ``max_json_values``, if lower).
    """
    raw = await read_body(request, options)
    limit = min(MAX_OBJECT_VALUES, options.max_json_values)
    if len(raw) > OFFLOAD_BYTES:
        return await asyncio.to_thread(_parse_bounded, raw, limit)
    return _parse_bounded(raw, limit)
