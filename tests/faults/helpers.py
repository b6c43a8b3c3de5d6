"""Reading back what the collector stored, and running the workload process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.collector import CollectorProcess

ROOT = Path(__file__).parents[2]


def stored_messages(collector: CollectorProcess, prefix: str) -> dict[str, int]:
    """message_count per conversation whose id starts with *prefix*."""
    return {
        c["conversation_id"]: c["message_count"]
        for c in collector.all_conversations()
        if c["conversation_id"].startswith(prefix)
    }


def stored_contents(collector: CollectorProcess, conversation_id: str) -> list[str]:
    events = collector.conversation(conversation_id)["events"]
    return [e["content"] for e in events if e["type"] == "message"]


def workload(collector_url: str, key: str, *args: str, timeout: float = 180) -> dict[str, Any]:
    """Run tests/faults/workload.py to the end; its JSON report."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.workload", "--endpoint", collector_url,
         "--key", key, *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def start_workload(collector_url: str, key: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.workload", "--endpoint", collector_url,
         "--key", key, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def figures_line(name: str, **values: Any) -> str:
    return f"{name}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())


Record = Callable[[str], None]
