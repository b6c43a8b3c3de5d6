"""Batching: events from the buffer into encoded batches, no I/O.

The batcher task takes events from the buffer as they arrive and encodes
them in chunks (so the cost is spread out and never holds the loop for
long), and closes a batch at ``max_batch_events``, ``max_batch_bytes``,
``flush_interval`` or a flush request, whichever comes first.  Each batch
is numbered, handed to delivery's books, and its number sent to the senders.
"""

from __future__ import annotations

import sys

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ._buffer import Buffer
from ._config import TrackerConfig
from ._delivery import Delivery, FlushRequest
from ._encode import batch_pieces, encode_chunk, gzip_pieces, new_ids
from ._events import CONTENT_INDEX, OWN_IDS, Event, take_own_ids
from .transports._base import Batch

__all__ = ["Batcher"]

_GZIP_IN_THREAD = 256 * 1024  # zlib releases the GIL: big bodies are compressed off the loop
_POLL = 0.005  # seconds the batcher sleeps while a batch is open and nothing came
_CHUNK = 128  # events encoded in one go, between two yields to the loop
_CHUNK_CHARS = 256 * 1024  # ... or this much message text, whichever comes first
_GIL_PAUSE = 0.0005  # seconds thread mode's batcher sleeps after a chunk (see Batcher)


class Batcher:
    """Cuts the buffer's events into batches for *delivery*.

    *own_loop*: the loop is the tracker's own thread (thread mode), not the
    application's.
    """

    def __init__(
        self, config: TrackerConfig, buffer: Buffer, delivery: Delivery, *, own_loop: bool
    ) -> None:
        self._config = config
        self._buffer = buffer
        self._delivery = delivery
        # On the application's loop a big body is compressed on a worker thread; on the
        # tracker's own loop right there: zlib releases the GIL all the same, and a third
        # thread competing for it and the cores would only add to the application's waits.
        self._gzip_off_loop = _GZIP_IN_THREAD if not own_loop else sys.maxsize
        # Between two chunks: on the application's loop, a checkpoint.  On our own thread,
        # a short sleep, so the GIL goes to the application's thread: a checkpoint releases
        # it only for a select() that returns at once, this thread takes it straight back,
        # and the waiting thread waits out the interpreter's switch interval every time.
        self._pause = _GIL_PAUSE if own_loop else 0.0
        self._ids: list[str] = []  # made a chunk at a time, taken in order from _next_id
        self._next_id = 0
        self._next_batch = 0
        # The batch being built: encoded parts and their ids, plus a chunk not yet encoded.
        self._parts: list[bytes] = []
        self._part_ids: list[str] = []
        self._chunk: list[Event] = []
        self._chunk_chars = 0  # message text in the chunk, to bound its encoding time

    @property
    def encoding(self) -> int:
        """Events taken from the buffer and not yet in a shipped batch."""
        return len(self._part_ids) + len(self._chunk)

    async def run(self, out: MemoryObjectSendStream[int]) -> None:
        """Batch until the buffer is closed and empty; then close *out*.

        On cancellation the buffer and the open batch keep what they hold:
        ``salvage()`` reads them.
        """
        buffer = self._buffer
        async with out:
            open_ = True
            while open_ and await buffer.readable():
                markers: list[FlushRequest] = []
                open_ = await self._fill(markers)
                if self._chunk:
                    self._encode_chunk()
                if self._parts:
                    await self._ship(out)
                for marker in markers:
                    self._delivery.register(marker, self._next_batch - 1)
                buffer.check_room()

    async def _fill(self, markers: list[FlushRequest]) -> bool:
        """Add events to the open batch until it is full, old or flushed; False at the end.

        While a batch is open and the buffer is empty, the batcher sleeps
        ``_POLL`` and then takes what accumulated, rather than waiting on the
        buffer: a waiting batcher is woken by every single event, which under
        a steady trickle costs a task switch per event.
        """
        config = self._config
        buffer = self._buffer
        take = buffer.take
        size = 0
        deadline = anyio.current_time() + config.flush_interval
        while True:
            item = take()
            while item is None:
                if buffer.closed and not buffer.level():
                    return False
                left = deadline - anyio.current_time()
                if left <= 0:
                    return True
                await anyio.sleep(min(_POLL, left))
                item = take()
            if isinstance(item, FlushRequest):
                markers.append(item)
                return True
            self._chunk.append(item)
            if item[0] == "message":  # big messages make a chunk big: encode sooner
                self._chunk_chars += len(item[CONTENT_INDEX])
            if len(self._chunk) >= _CHUNK or self._chunk_chars >= _CHUNK_CHARS:
                size += self._encode_chunk()
                if size >= config.max_batch_bytes:
                    return True
                await anyio.sleep(self._pause)
            if self.encoding >= config.max_batch_events:
                return True

    def _take_ids(self, count: int) -> list[str]:
        start = self._next_id
        if start + count > len(self._ids):  # the rest is dropped: ids need not be dense
            self._ids, start = new_ids(max(_CHUNK, count)), 0
        self._next_id = start + count
        return self._ids[start : start + count]

    def _encode_chunk(self) -> int:
        chunk, self._chunk = self._chunk, []
        self._chunk_chars = 0
        chunk_ids = self._take_ids(len(chunk))
        if OWN_IDS:  # a message that files link to has its id already
            take_own_ids(chunk, chunk_ids)
        encoded = encode_chunk(chunk, chunk_ids)
        self._parts.append(encoded)
        self._part_ids.extend(chunk_ids)
        self._buffer.check_room()
        return len(encoded) + 1

    async def _ship(self, out: MemoryObjectSendStream[int]) -> None:
        pieces = batch_pieces(self._parts)
        size = sum(map(len, pieces))
        gzipped = size > self._config.gzip_threshold
        if not gzipped:
            body = b"".join(pieces)
        elif size > self._gzip_off_loop:
            body = await anyio.to_thread.run_sync(gzip_pieces, pieces)
        else:
            body = gzip_pieces(pieces)
        # From here delivery's books, not the open parts, hold the events (no await between).
        number = self._next_batch
        self._next_batch += 1
        self._delivery.unfinished[number] = Batch(
            body=body, gzipped=gzipped, ids=tuple(self._part_ids)
        )
        self._parts, self._part_ids = [], []
        await out.send(number)

    def salvage(self) -> tuple[list[bytes], int]:
        """After a cancelled shutdown: every event not in a shipped batch, encoded
        (comma-joined JSON objects), and how many events those parts hold.

        The caller spools them (or counts them as dropped).
        """
        for item in self._buffer.leftovers():
            if not isinstance(item, FlushRequest):
                self._chunk.append(item)
        if self._chunk:
            self._encode_chunk()
        parts, count = self._parts, len(self._part_ids)
        self._parts, self._part_ids = [], []
        return parts, count
