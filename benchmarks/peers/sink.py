"""A loopback null sink: answers 200 at once to any POST and counts requests, bytes and events.

    benchmarks/peers/.venv/bin/python benchmarks/peers/sink.py [--port 0]

Prints ``listening on http://127.0.0.1:PORT`` on stdout once ready.  A raw
asyncio HTTP/1.1 server (keep-alive, Content-Length or chunked bodies), so
the sink itself costs as little CPU as possible on a shared 2-core machine.
Events are counted by parsing each body as its sender's format:

- PostHog and Segment: a JSON object with a ``batch`` list;
- AgentSight (ours, wire schema 1): a JSON object with an ``events`` list,
  answered ``{"accepted": n, "duplicates": 0, "rejected": []}``;
- AgentSight 0.1.4: a JSON object with ``conversations``, each with ``spans``;
- OTLP/HTTP: an ``ExportTraceServiceRequest`` protobuf, one event per span.

``GET /_stats`` answers the counters as JSON (with the monotonic time of the
last event, comparable across processes on Linux), ``POST /_reset`` zeroes
them.  Any other GET answers the identity the original AgentSight SDK asks
for at start (``/api/me/``), with ``gzip-ingest`` advertised as its real
backend does.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import signal
import time
import zlib
from typing import Any

IDENTITY = json.dumps(
    {
        "role": "write",
        "agent_name": "bench",
        "capabilities": ["gzip-ingest"],
        "environments": [{"slug": "production"}, {"slug": "development"}],
    }
).encode()


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.events = 0
        self.unparsed = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.formats: dict[str, int] = {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "bytes": self.bytes,
            "events": self.events,
            "unparsed": self.unparsed,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "formats": self.formats,
        }


def _decompress(body: bytes, encoding: bytes) -> bytes:
    if encoding == b"gzip":
        return gzip.decompress(body)
    if encoding == b"deflate":
        return zlib.decompress(body)
    return body


def _count_protobuf(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(body)
    return sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )


def count_events(body: bytes, content_type: bytes) -> tuple[str, int]:
    """The sender's format and how many events the body holds."""
    if b"protobuf" in content_type:
        return "otlp", _count_protobuf(body)
    payload = json.loads(body)
    if "events" in payload:
        return "agentsight", len(payload["events"])
    if "conversations" in payload:
        return "agentsight-0.1.4", sum(len(c.get("spans", ())) for c in payload["conversations"])
    if "batch" in payload:
        return "batch", len(payload["batch"])
    return "unknown", 0


class Sink:
    def __init__(self) -> None:
        self.counters = Counters()

    def answer(
        self, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[bytes, bytes]:
        """Content type and body of the answer (always 200)."""
        counters = self.counters
        if path == b"/_stats":
            return b"application/json", json.dumps(counters.as_dict()).encode()
        if path == b"/_reset":
            counters.reset()
            return b"application/json", b"{}"
        if method != b"POST":
            return b"application/json", IDENTITY
        now = time.monotonic()
        counters.requests += 1
        counters.bytes += len(body)
        content_type = headers.get(b"content-type", b"")
        try:
            raw = _decompress(body, headers.get(b"content-encoding", b""))
            kind, events = count_events(raw, content_type)
        except Exception:
            counters.unparsed += 1
            return b"application/json", b"{}"
        counters.first_at = counters.first_at or now
        counters.last_at = now
        counters.events += events
        counters.formats[kind] = counters.formats.get(kind, 0) + events
        if kind == "otlp":
            return b"application/x-protobuf", b""
        if kind == "agentsight":
            answer = {"accepted": events, "duplicates": 0, "rejected": []}
            return b"application/json", json.dumps(answer).encode()
        return b"application/json", b'{"status": 1}'

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head[:-4].split(b"\r\n")
                method, path = lines[0].split(b" ", 2)[:2]
                headers: dict[bytes, bytes] = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                if headers.get(b"expect", b"").lower() == b"100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await _read_body(reader, headers)
                content_type, answer = self.answer(method, path.split(b"?")[0], headers, body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                    % (content_type, len(answer), answer)
                )
                if headers.get(b"connection", b"").lower() == b"close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def _read_body(reader: asyncio.StreamReader, headers: dict[bytes, bytes]) -> bytes:
    if b"content-length" in headers:
        return await reader.readexactly(int(headers[b"content-length"]))
    if headers.get(b"transfer-encoding", b"").lower() != b"chunked":
        return b""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def serve(port: int) -> None:
    sink = Sink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", port, limit=2**20)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    _count_protobuf(b"")  # import the protobuf module now, not at the first request
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
