"""The main job: a collector on a fresh SQLite file, the demo bot, and a summary read back.

    python3 dev.py demo            (creates .venv, then runs this)

1. creates ``var/demo.db`` afresh, an ``ingest`` key for the bot (it may only
   send batches), a ``read`` key for the summary, and a dashboard user;
2. starts ``agentsight serve`` on a free loopback port;
3. runs ``examples/demo_bot.py`` (1,200 concurrent conversations) against it;
4. stops the collector with SIGTERM (it finishes the batches in flight);
5. starts it again, reads the stored conversations back through the query
   API and prints a summary, then stops it and says how to browse the data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DB = ROOT / "var" / "demo.db"
BIN = Path(sys.executable).parent
LISTENING = re.compile(r"listening on (http://\S+)")


def agentsight(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "agentsight"), *args], input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


def create_key(scope: str) -> str:
    """A key of *scope* for the project demo (printed on the last line)."""
    created = agentsight("keys", "create", "--db", str(DB), "--project", "demo", "--scope", scope)
    return created.strip().splitlines()[-1]


def start_collector() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [str(BIN / "agentsight"), "serve", "--db", str(DB), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    for line in process.stderr:
        sys.stderr.write("  collector: " + line)
        match = LISTENING.search(line)
        if match:
            return process, match.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit("the collector did not start")


def stop_collector(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.stderr is not None
    rest = process.stderr.read()
    code = process.wait(30)
    for line in rest.splitlines():
        sys.stderr.write("  collector: " + line + "\n")
    if code != 0:
        raise SystemExit(f"the collector exited with {code}")


def get(url: str, key: str, path: str, **params: Any) -> Any:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    request = urllib.request.Request(
        f"{url}{path}?{query}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def summary(url: str, key: str) -> None:
    conversations: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(url, key, "/v1/conversations", limit=500, cursor=cursor)
        conversations += page["conversations"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    used = [c for c in conversations if c["is_used"]]
    messages = sum(c.get("message_count", 0) for c in conversations)
    users = {c["customer_id"] for c in conversations if c["customer_id"]}
    print("\nWhat the collector stored (read back through its query API):")
    print(
        f"  conversations: {len(conversations)} ({len(used)} used, "
        f"{len(conversations) - len(used)} only initialised)"
    )
    print(f"  messages:      {messages}")
    print(f"  unique users:  {len(users)}")
    for field in ("source", "country", "device", "language"):
        counts = Counter(c[field] or "unknown" for c in conversations)
        row = ", ".join(f"{name} {count}" for name, count in counts.most_common())
        print(f"  by {field + ':':9} {row}")
    sample = used[0]["conversation_id"]
    detail = get(url, key, f"/v1/conversations/{urllib.parse.quote(sample, safe='')}")
    print(f"\n  one transcript, {sample} ({len(detail['events'])} events, in order):")
    for event in detail["events"][:8]:
        text = event.get("content") or event.get("action_name") or event.get("button_event") or ""
        print(f"    {event['timestamp'][11:23]} {event['type']:12} {text[:60]}")


def main() -> None:
    DB.parent.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    bot_key, read_key = create_key("ingest"), create_key("read")
    password = secrets.token_urlsafe(12)
    agentsight(
        "users", "create", "--db", str(DB), "--email", "demo@example.com", "--role", "viewer",
        "--project", "demo", stdin=password + "\n",
    )  # fmt: skip
    print(
        f"created {DB.relative_to(ROOT)}, an ingest key for the bot, a read key for the"
        " summary and a dashboard user, for project 'demo'"
    )
    process, url = start_collector()
    try:
        env = {**os.environ, "AGENTSIGHT_API_KEY": bot_key, "AGENTSIGHT_API_ENDPOINT": url}
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "demo_bot.py"), *sys.argv[1:]],
            env=env,
            check=True,
        )
    finally:
        stop_collector(process)
    print("collector stopped cleanly; starting it again to read the data back")
    process, url = start_collector()
    try:
        summary(url, read_key)
    finally:
        stop_collector(process)
    print(
        "\nBrowse the data again:\n"
        f"  .venv/bin/agentsight serve --db {DB.relative_to(ROOT)}\n"
        "  then open http://127.0.0.1:8787/ (the dashboard) and sign in as demo@example.com"
        f" with the password {password}\n"
        f"  or: curl -H 'Authorization: Bearer {read_key}' http://127.0.0.1:8787/v1/metrics"
    )


if __name__ == "__main__":
    main()
