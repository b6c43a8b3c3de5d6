"""OTLP intake: collector CPU per span of ``POST /v1/traces``, and end to end on SQLite.

1. Stages, in one process: the body of the OpenTelemetry exporter (protobuf,
   512 spans of agent turns: an ``invoke_agent`` span, two ``chat`` spans with
   messages and usage, an ``execute_tool`` span, a plain HTTP span) decoded,
   mapped onto events, validated and priced (``_views._otlp._check``), against
   ``/v1/batch``'s own check (``_views._ingest._check``) of the same events as
   an SDK batch (JSON).  Interleaved rounds; medians.
2. End to end: ``agentsight serve`` on a fresh SQLite file, the bodies posted
   by a few concurrent clients on loopback; spans per second stored.

    .venv/bin/python benchmarks/otlp.py [--rounds 7] [--requests 40]

Writes ``results/otlp.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentsight.server import ServerOptions
from agentsight.server._ingest._geo import GeoResolver
from agentsight.server._ingest._prices import Prices
from agentsight.server._ingest._validate import Validator
from agentsight.server._views import _ingest, _otlp

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "otlp.json"
SPANS_PER_BODY = 500  # 100 turns of 5 spans (the exporter's batches hold up to 512)
_LISTENING = re.compile(r"listening on (http://\S+)")


def _messages(*items: tuple[str, str]) -> str:
    return json.dumps([{"role": r, "parts": [{"type": "text", "content": t}]} for r, t in items])


def _body(turns: int, seed: int) -> bytes:
    """The exporter's protobuf body for *turns* agent turns."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    question = "Where is my order? " * 10
    for turn in range(turns):
        cid = f"bench-{seed}-{turn % 20}"
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": cid}
        with tracer.start_as_current_span("invoke_agent shop", attributes=agent):
            for step in range(2):
                chat = {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.conversation.id": cid,
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 400 + step,
                    "gen_ai.usage.output_tokens": 40,
                    "gen_ai.input.messages": _messages(("system", "Be brief."), ("user", question)),
                    "gen_ai.output.messages": _messages(("assistant", "It shipped " * 20)),
                }
                with tracer.start_as_current_span("chat gpt-4o-mini", attributes=chat):
                    pass
            with (
                tracer.start_as_current_span("GET /orders", attributes={"http.method": "GET"}),
                tracer.start_as_current_span(
                    "execute_tool lookup",
                    attributes={
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.conversation.id": cid,
                        "gen_ai.tool.name": "lookup",
                        "gen_ai.tool.call.result": "shipped",
                    },
                ),
            ):
                pass
    return bytes(encode_spans(memory.get_finished_spans()).SerializeToString())


def _as_batch(body: bytes, options: ServerOptions) -> bytes:
    """The events the OTLP body becomes, as an SDK batch (JSON)."""
    checked = _otlp._check(
        body, "application/x-protobuf", Validator(options), options, None, Prices()
    )
    events = []
    for event in checked.events:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event.timestamp // 10**6))
        events.append(
            {
                "id": event.id,
                "type": event.type,
                "conversation_id": event.conversation_id,
                "seq": event.seq,
                "timestamp": f"{stamp}.{event.timestamp % 10**6:06d}Z",
                **event.payload,
            }
        )
    return json.dumps({"schema": 2, "sent_at": None, "events": events}).encode()


def _stages(rounds: int) -> dict[str, Any]:
    options = ServerOptions()
    validator, prices, geo = Validator(options), Prices(), GeoResolver()
    body = _body(SPANS_PER_BODY // 5, 0)
    batch = _as_batch(body, options)
    events = len(json.loads(batch)["events"])
    otlp, sdk = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        _otlp._check(body, "application/x-protobuf", validator, options, None, prices)
        otlp.append(time.perf_counter() - start)
        start = time.perf_counter()
        _ingest._check(batch, validator, geo, options, None, prices)
        sdk.append(time.perf_counter() - start)
    otlp_s, sdk_s = statistics.median(otlp), statistics.median(sdk)
    return {
        "spans": SPANS_PER_BODY,
        "events": events,
        "body_bytes": len(body),
        "batch_bytes": len(batch),
        "otlp_ms": round(otlp_s * 1e3, 2),
        "otlp_us_per_span": round(otlp_s / SPANS_PER_BODY * 1e6, 1),
        "otlp_us_per_event": round(otlp_s / events * 1e6, 1),
        "batch_ms": round(sdk_s * 1e3, 2),
        "batch_us_per_event": round(sdk_s / events * 1e6, 1),
        "ratio_per_event": round(otlp_s / sdk_s, 2),
    }


def _serve(db: Path) -> tuple[subprocess.Popen[str], str, str]:
    cli = [sys.executable, "-m", "agentsight._cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "--db", str(db), "--project", "bench", "--scope", "ingest"],
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1].strip()
    process = subprocess.Popen(
        [*cli, "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = _LISTENING.search(line)
        if found:
            return process, found.group(1), key
    raise RuntimeError("the collector did not start")


async def _post_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    queue = list(bodies)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with session.post(f"{url}/v1/traces", data=body, headers=headers) as r:
                    assert r.status == 200, await r.text()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


def _end_to_end(requests: int) -> dict[str, Any]:
    bodies = [_body(SPANS_PER_BODY // 5, seed) for seed in range(requests)]
    with tempfile.TemporaryDirectory() as tmp:
        process, url, key = _serve(Path(tmp) / "otlp.db")
        try:
            seconds = asyncio.run(_post_all(url, key, bodies, concurrency=4))
        finally:
            process.terminate()
            process.wait(30)
    spans = requests * SPANS_PER_BODY
    per_second = round(spans / seconds)
    return {
        "requests": requests,
        "spans": spans,
        "seconds": round(seconds, 2),
        "spans_per_second": per_second,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    stages = _stages(args.rounds)
    print(
        f"stages: {stages['spans']} spans -> {stages['events']} events;"
        f" /v1/traces {stages['otlp_ms']} ms ({stages['otlp_us_per_span']} us/span,"
        f" {stages['otlp_us_per_event']} us/event); /v1/batch of the same events"
        f" {stages['batch_ms']} ms ({stages['batch_us_per_event']} us/event);"
        f" ratio per event x{stages['ratio_per_event']}"
    )
    e2e = _end_to_end(args.requests)
    print(
        f"end to end (SQLite, 4 clients): {e2e['spans']} spans in {e2e['seconds']} s,"
        f" {e2e['spans_per_second']} spans/s"
    )
    machine = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine,
                "stages": stages,
                "end_to_end_sqlite": e2e,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
