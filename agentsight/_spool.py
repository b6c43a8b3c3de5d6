"""The durable spool: events that could not be delivered in time, kept on disk.

Files live in ``spool_dir`` and are append-only.  Each process writes its own
file (``spool-<time>-<pid>-<n>.asp``), holding an exclusive ``flock`` on it
while it writes; a replayer takes a file only if it can lock it, so several
processes can share one directory without two of them sending one file.

A record is a frame: magic ``b"ASP1"``, the payload length and its CRC-32
(both 4-byte big-endian), then the payload: a JSON array of wire events, ids
included, so a replay after a lost answer is deduplicated by the collector.
A torn last record (a power cut mid-write) fails its length or CRC check and
is skipped with a warning; everything before it is replayed.

``fsync`` policy: ``"always"`` syncs after every append (survives power loss;
costs one fsync, about a millisecond on SSDs, per spooled batch or per
overflowing event), ``"interval"`` (default) syncs at most once a second
(a SIGKILL loses nothing, since written data is in the kernel; a power cut
may lose the last second), ``"never"`` leaves it to the OS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process locking
    fcntl = None  # type: ignore[assignment]

from .transports._base import Batch
from .transports._decode import batch_events

logger = logging.getLogger("agentsight")

__all__ = ["FSYNC_POLICIES", "Spool"]

FSYNC_POLICIES = ("always", "interval", "never")
_MAGIC = b"ASP1"
_HEADER = struct.Struct(">4sII")
_FILE_LIMIT = 8 * 1024 * 1024  # bytes per file before the writer starts a new one
_SUFFIX = ".asp"


def _lock(fd: int) -> bool:
    if fcntl is None:
        return True  # type: ignore[unreachable]
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes, name: str = "") -> Iterator[bytes]:
    """The intact records of a spool file's bytes; stops with a warning at a torn one."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            logger.warning("spool file %s ends in a torn record header; skipped", name)
            return
        magic, length, crc = _HEADER.unpack_from(data, offset)
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            logger.warning("spool file %s has a torn or corrupt record; the rest skipped", name)
            return
        yield payload
        offset += _HEADER.size + length


class Spool:
    """Append-only spool files in one directory, shared safely by several processes."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: str, max_bytes: int) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync policy must be one of {FSYNC_POLICIES}, got {fsync!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._count = 0
        self._last_sync = 0.0
        # The directory's size, as last measured plus what we appended since: listing
        # the directory on every append would cost more than the append itself.
        self._approx_total = 0
        self._measured = 0.0
        self.dropped = 0  # events lost to the size cap

    # -- writing ----------------------------------------------------------------------------

    def append(self, events: list[dict[str, Any]] | list[bytes]) -> int:
        """Append wire events (dicts, or comma-joined JSON objects as UTF-8) as one record.

        Returns the number of events written.  Blocking: call it from a worker
        thread, or accept one write (and an fsync under ``"always"``).
        """
        if not events:
            return 0
        if isinstance(events[0], bytes):
            payload = b"[" + b",".join(events) + b"]"  # type: ignore[arg-type,unused-ignore]
        else:
            payload = json.dumps(events, separators=(",", ":")).encode()
        record = frame(payload)
        with self._lock:
            now = time.monotonic()
            if self._approx_total + len(record) > self._max_bytes or now - self._measured > 1:
                self._make_room(len(record))
                self._measured = now
            fd = self._writable()
            view = memoryview(record)
            while view:  # os.write may write less than asked (a nearly full disk)
                view = view[os.write(fd, view) :]
            self._size += len(record)
            self._approx_total += len(record)
            now = time.monotonic()
            if self._fsync == "always" or (self._fsync == "interval" and now - self._last_sync > 1):
                os.fsync(fd)
                self._last_sync = now
        return len(events)

    def append_batch(self, batch: Batch) -> int:
        """Append an encoded batch's events (blocking: call it from a worker thread)."""
        return self.append(batch_events(batch))

    def _writable(self) -> int:
        if self._fd is not None and self._size < _FILE_LIMIT and self._path and self._path.exists():
            return self._fd
        self._close_current()
        self._count += 1
        name = f"spool-{time.time_ns():020d}-{os.getpid()}-{self._count}{_SUFFIX}"
        path = self.directory / name
        # Created under another name and locked before it is renamed into view, so a
        # replayer can never claim (and delete) it between its creation and its lock.
        hidden = self.directory / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if not _lock(fd):
            os.close(fd)
            raise OSError(f"cannot lock the new spool file {hidden}")
        os.rename(hidden, path)
        self._fd, self._path, self._size = fd, path, 0
        return fd

    def _close_current(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                if self._fsync != "never":
                    os.fsync(self._fd)
                os.close(self._fd)  # closing releases the flock: the file is replayable
            self._fd = self._path = None

    def rotate(self) -> None:
        """Close the file being written, so that it can be replayed."""
        with self._lock:
            self._close_current()

    def close(self) -> None:
        self.rotate()

    def forget(self) -> None:
        """In a forked child: close the inherited file without touching the parent's lock."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = self._path = None

    def _make_room(self, incoming: int) -> None:
        files = self.files()
        total = sum(size for _, size in files) + incoming
        self._approx_total = total - incoming
        for path, size in files:
            if total <= self._max_bytes:
                break
            if path == self._path:
                continue
            lost = self._drop_file(path)
            if lost is not None:
                total -= size
                self._approx_total -= size
                self.dropped += lost
                logger.error(
                    "spool over its size cap: dropped %s (%d events, the oldest)", path.name, lost
                )

    def _drop_file(self, path: Path) -> int | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return None
        try:
            if not _lock(fd):
                return None  # someone is writing or replaying it
            data = path.read_bytes()
            lost = sum(len(json.loads(r)) for r in read_records(data, path.name))
            path.unlink()
            return lost
        finally:
            os.close(fd)

    # -- reading ----------------------------------------------------------------------------

    def files(self) -> list[tuple[Path, int]]:
        """Spool files, oldest first, with their sizes."""
        found = []
        for path in sorted(self.directory.glob(f"spool-*{_SUFFIX}")):
            with contextlib.suppress(OSError):
                found.append((path, path.stat().st_size))
        return found

    def claim(self, path: Path) -> tuple[int, list[bytes]] | None:
        """Lock *path* and read its records; ``None`` if another process (or we) write it.

        Records stay bytes (a JSON array of events each): the replayer parses
        them one at a time, so a large file never becomes a large heap of dicts.

        The caller sends the events, deletes the file with ``done(path)`` once
        all were answered, and then calls ``release(fd)`` in every case.
        """
        if path == self._path:
            return None
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return None
        if not _lock(fd):
            os.close(fd)
            return None
        try:
            data = path.read_bytes()
        except OSError:
            os.close(fd)
            return None
        return fd, list(read_records(data, path.name))

    @staticmethod
    def release(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.close(fd)

    @staticmethod
    def done(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
