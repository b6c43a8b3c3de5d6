"""The original AgentSight SDK, ``agentsight==0.1.4`` (OpenTelemetry-based), as its README shows.

``agentsight.init(api_key, endpoint=...)`` with its defaults (5 s export
interval, a 2,048-span queue that drops when full, a key check at start),
then ``agentsight.user_message(text, metadata)`` inside
``agentsight.conversation(cid)``: outside a turn each message becomes a
one-off turn span, exported as JSON to ``/api/ingest/``.  Runs only in
benchmarks/peers/.venv (the package name is the same as ours).
"""

from __future__ import annotations

import contextlib
from typing import Any

from workload import MESSAGE, METADATA, SyncAdapter

import agentsight

assert not hasattr(agentsight, "ConversationTracker"), "this is ours, not agentsight 0.1.4"


class Original(SyncAdapter):
    def __init__(self, endpoint: str, key: str) -> None:
        if not agentsight.init(api_key=key, endpoint=endpoint):
            raise RuntimeError("agentsight.init() refused to start")
        self.user_message = agentsight.user_message

    def conversation(self, cid: str) -> contextlib.AbstractContextManager[Any]:
        return agentsight.conversation(cid)  # type: ignore[no-any-return]

    def track(self, cid: str) -> object:
        return self.user_message(MESSAGE, metadata=METADATA)

    def flush(self) -> None:
        agentsight.flush()

    def stop(self) -> None:
        agentsight.shutdown()


def make(endpoint: str, key: str) -> Original:
    return Original(endpoint, key)
