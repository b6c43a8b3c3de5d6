"""A Flask chat app on a threaded server, with a thread pool for the model calls.

    AGENTSIGHT_API_KEY=ags_... python examples/flask_app.py --demo   # serve, chat, stop
    AGENTSIGHT_API_KEY=ags_... python examples/flask_app.py          # serve on :5000

Sync code with the module-level ``conversation_tracker`` (thread mode: its
own daemon thread, drained at exit).  Each request runs inside
``conversation_tracker.conversation(...)``: a server thread that handles
another conversation next starts clean.  The model call runs on a shared
thread pool, whose threads do not have the request's context: it passes
``conversation_id=`` explicitly.  ``--demo`` serves on a free loopback port,
sends 16 conversations' messages from 16 client threads at once, stops and
prints what was delivered.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, request
from werkzeug.serving import make_server

from agentsight import conversation_tracker

app = Flask(__name__)
model_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="model")


def call_model(question: str, conversation_id: str) -> str:
    """On a pool thread: no current conversation here, so it is named."""
    conversation_tracker.track_token_usage(
        prompt_tokens=30 + len(question), completion_tokens=10, conversation_id=conversation_id
    )
    return f"Answer to: {question}"


@app.post("/chat/<conversation_id>")
def chat(conversation_id: str) -> dict[str, Any]:
    question = str(request.get_json()["text"])
    with conversation_tracker.conversation(
        conversation_id, customer_id=request.headers.get("X-User"), source="web", device="desktop"
    ):
        conversation_tracker.track_human_message(question)
        answer = model_pool.submit(call_model, question, conversation_id).result()
        conversation_tracker.track_agent_message(answer)
    return {"conversation_id": conversation_id, "answer": answer}


def post(url: str, text: str, user: str) -> dict[str, Any]:
    body = json.dumps({"text": text}).encode()
    headers = {"Content-Type": "application/json", "X-User": user}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as answer:
        result: dict[str, Any] = json.load(answer)
        return result


def demo(conversations: int = 16, turns: int = 3) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/chat"

    def client(n: int) -> str:
        for turn in range(turns):
            post(f"{base}/flask-{n:02d}", f"message {turn} of flask-{n:02d}", f"user-{n}")
        return f"flask-{n:02d}: {turns} turns"

    with ThreadPoolExecutor(max_workers=conversations) as clients:
        for line in clients.map(client, range(conversations)):
            print(line)
    server.shutdown()
    conversation_tracker.send_tracked_data()  # flush now and wait for the collector
    stats = conversation_tracker.stats()
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="chat with itself, then stop")
    parser.add_argument("--port", type=int, default=5000)
    arguments = parser.parse_args()
    if arguments.demo:
        demo()
    else:
        app.run(host="127.0.0.1", port=arguments.port, threaded=True)
