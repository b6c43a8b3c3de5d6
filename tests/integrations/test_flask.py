"""A Flask app on a WSGI server with a fixed pool of 16 worker threads, a real collector."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.serving import BaseWSGIServer

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess
from tests.integrations.conftest import collector_tracker

WORKERS = 16


class PooledServer(BaseWSGIServer):
    """werkzeug's server handing each connection to one of a fixed pool of threads.

    Like gunicorn's threaded workers: threads are reused, so a conversation
    left current by one request would be seen by a later one on that thread.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__("127.0.0.1", 0, app)
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="wsgi")

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._handle, request, client_address)

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


def chat_app(tracker: ConversationTracker, threads: Counter[str]) -> Flask:
    """Each request: check nothing leaked in, then track three events in its conversation."""
    app = Flask(__name__)

    lock = threading.Lock()

    @app.post("/chat/<cid>")
    def chat(cid: str) -> dict[str, Any]:
        with lock:
            threads[threading.current_thread().name] += 1
        leaked = tracker.current_conversation_id
        text = str(request.get_json()["text"])
        with tracker.conversation(cid, customer_id=request.headers["X-User"], source="web"):
            tracker.track_human_message(text)
            tracker.track_action("lookup", duration_ms=1.0, response=text)
            tracker.track_agent_message(f"answer to {text}")
            current = tracker.current_conversation_id
        return {"leaked": leaked, "current": current}

    return app


Served = tuple[PooledServer, ConversationTracker, Counter[str]]


@pytest.fixture
def server(collector: CollectorProcess) -> Iterator[Served]:
    """The app on a pooled server; the threads that handled requests are counted."""
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # no access log per request
    tracker = collector_tracker(collector)  # no `async with`: thread mode, as in a WSGI app
    threads: Counter[str] = Counter()
    pooled = PooledServer(chat_app(tracker, threads))
    serving = threading.Thread(target=pooled.serve_forever, daemon=True)
    serving.start()
    try:
        yield pooled, tracker, threads
    finally:
        pooled.shutdown()
        serving.join(10)
        pooled.pool.shutdown()
        pooled.server_close()
        tracker.close()
        werkzeug_log.setLevel(level)


def post(url: str, text: str, user: str) -> dict[str, Any]:
    body = json.dumps({"text": text}).encode()
    headers = {"Content-Type": "application/json", "X-User": user}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as answer:
        result: dict[str, Any] = json.load(answer)
        return result


def test_16_worker_threads_never_mix_conversations(
    collector: CollectorProcess, server: Served
) -> None:
    """320 requests over 64 conversations on 16 reused threads: each sees only its own."""
    pooled, tracker, threads = server
    base = f"http://127.0.0.1:{pooled.server_port}/chat"

    def conversation(n: int) -> list[dict[str, Any]]:
        cid = f"flask-pool-{n:02d}"
        return [post(f"{base}/{cid}", f"{cid} turn {turn}", f"user-{n}") for turn in range(5)]

    with ThreadPoolExecutor(WORKERS) as clients:
        answers = [a for batch in clients.map(conversation, range(64)) for a in batch]
    assert all(answer["leaked"] is None for answer in answers)
    assert len(answers) == 320
    assert 1 < len(threads) <= WORKERS and sum(threads.values()) == 320

    tracker.send_tracked_data()
    stats = tracker.stats()
    assert (stats.queued, stats.dropped, stats.rejected, stats.accepted) == (0, 0, 0, 320 * 4)
    for n in range(64):
        cid = f"flask-pool-{n:02d}"
        detail = collector.conversation(cid)
        assert detail["conversation"]["customer_id"] == f"user-{n}"
        contents = [
            e.get("content") or e.get("response")
            for e in detail["events"]
            if e["type"] in ("message", "action")
        ]
        assert contents == [
            text
            for turn in range(5)
            for text in (f"{cid} turn {turn}", f"{cid} turn {turn}", f"answer to {cid} turn {turn}")
        ]
