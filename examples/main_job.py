"""The main job: a collector on a fresh SQLite file, a month of a support bot, a summary.

    python3 dev.py demo            (creates .venv, then runs this)
    python examples/main_job.py [--db var/demo.db] [--days 30] [--history 15000] [--live 200]

1. creates ``var/demo.db`` afresh, keys for the project ``demo`` (an
   ``ingest`` key for the bot, an ``admin`` key for the import, which also
   posts feedback, a ``read`` key for the summary) and a dashboard user;
2. starts ``agentsight serve`` on a free loopback port;
3. runs ``examples/demo_history.py``: the past 30 days of an online shop's
   support bot (15,000 conversations in five languages, with their real
   times of day), imported through the documented batch API (``POST
   /v1/batch``, with the SDK's ``HttpTransport``), since the SDK stamps
   events with the time of the call and so cannot record last month;
4. runs ``examples/demo_bot.py``: 200 more conversations happening now, all
   at once, tracked live with the SDK's ``ConversationTracker``;
5. stops the collector with SIGTERM (it finishes the batches in flight);
6. starts it again, reads the analytics and a transcript back through the
   query API and prints a summary, then stops it and says how to open the
   dashboard.

Both parts are seeded (``--seed``): every run stores the same conversations,
messages, tools, escalations and feedback; only the days and hours move with
the day the demo runs.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
LISTENING = re.compile(r"listening on (http://\S+)")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def agentsight(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "agentsight"), *args], input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


def create_key(db: Path, scope: str) -> str:
    """A key of *scope* for the project demo (printed on the last line)."""
    created = agentsight("keys", "create", "--db", str(db), "--project", "demo", "--scope", scope)
    return created.strip().splitlines()[-1]


def start_collector(db: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [str(BIN / "agentsight"), "serve", "--db", str(db), "--port", "0"],
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


def counts(entries: list[dict[str, Any]], limit: int = 8) -> str:
    """A breakdown's first entries: ``value count, ...``."""
    shown = [f"{e['value'] or 'unknown'} {e['conversations']:,}" for e in entries[:limit]]
    return ", ".join(shown) + (f", {len(entries) - limit} more" if len(entries) > limit else "")


def rhythm(m: dict[str, Any]) -> list[str]:
    """Weekdays against weekends (full days only) and the busiest hours, in UTC."""
    full_days = m["daily"][1:-1]  # the first and the last day are partial
    by_kind: dict[bool, list[int]] = {True: [], False: []}
    for day in full_days:
        weekend = time.strptime(day["date"], "%Y-%m-%d").tm_wday >= 5
        by_kind[weekend].append(day["conversations"])
    busiest = max(m["daily"], key=lambda day: day["conversations"])
    hours = [sum(row[hour] for row in m["peak_hours"]["counts"]) for hour in range(24)]
    top = sorted(range(24), key=lambda hour: -hours[hour])[:3]
    average = {kind: sum(v) // max(1, len(v)) for kind, v in by_kind.items()}
    weekday = WEEKDAYS[time.strptime(busiest["date"], "%Y-%m-%d").tm_wday]
    return [
        f"  per day:       {average[False]:,} conversations on a weekday, {average[True]:,} on a "
        f"weekend day; busiest {weekday} {busiest['date']} ({busiest['conversations']:,})",
        "  busiest hours: "
        + ", ".join(f"{hour:02d}:00 ({hours[hour]:,} messages)" for hour in sorted(top))
        + " UTC",
    ]


def summary(url: str, key: str) -> None:
    m = get(url, key, "/v1/metrics")
    totals, engagement, feedback = m["totals"], m["engagement"], m["feedback"]
    sentiments = feedback["by_sentiment"]
    response, tokens = m["response_time_ms"], m["token_usage"]
    print("\nWhat the collector stored (read back through its query API, GET /v1/metrics):")
    print(
        f"  conversations: {totals['conversations']:,} from {m['daily'][0]['date']} to "
        f"{m['daily'][-1]['date']} ({engagement['used']:,} used, "
        f"{engagement['initialised_only']:,} only shown), {totals['unique_users']:,} customers"
    )
    print(
        f"  messages:      {totals['messages']:,} ({totals['end_user_messages']:,} from "
        f"customers); the agent answers in {response['p50'] / 1000:.1f} s "
        f"(p95 {response['p95'] / 1000:.1f} s)"
    )
    for line in rhythm(m):
        print(line)
    print(
        f"  escalated:     {m['escalation']['conversations']:,} conversations handed to a "
        f"human ({m['escalation']['rate']:.1%})"
    )
    print(
        f"  feedback:      {feedback['entries']:,} entries: {sentiments['positive']:,} positive, "
        f"{sentiments['neutral']:,} neutral, {sentiments['negative']:,} negative"
    )
    print(
        f"  tokens:        {tokens['totals']['total_tokens']:,} "
        f"({tokens['per_conversation']['total_tokens']:,.0f} per conversation)"
    )
    cost = m["cost"]
    models = ", ".join(f"{c['model']} ${c['usd'] or 0:,.2f}" for c in cost["by_model"][:3])
    print(
        f"  cost:          ${cost['usd'] or 0:,.2f} for {cost['priced_calls']:,} model calls"
        f" ({models}; priced with genai-prices), {cost['unpriced_calls']:,} unpriced"
    )
    tools = ", ".join(f"{t['action_name']} {t['count']:,}" for t in m["tools"][:4])
    failed = sum(t["errors"] for t in m["tools"]) / max(1, sum(t["count"] for t in m["tools"]))
    print(f"  tool calls:    {tools}, {len(m['tools']) - 4} more; {failed:.1%} failed")
    for field in ("source", "country", "device", "language"):
        print(f"  by {field + ':':11} {counts(m['breakdowns'][field])}")
    yesterday = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86_400))
    page = get(
        url, key, "/v1/conversations", language="es", source="whatsapp", until=yesterday, limit=1
    )
    sample = page["conversations"][0]
    cid = sample["conversation_id"]
    detail = get(url, key, f"/v1/conversations/{urllib.parse.quote(cid, safe='')}")
    print(
        f"\n  one conversation, {cid} ({sample['name']}; {sample['language']}, "
        f"{sample['source']}, {sample['country']}), times in UTC:"
    )
    for event in detail["events"]:
        when = f"{event['timestamp'][5:10]} {event['timestamp'][11:19]}"
        if event["type"] == "message":
            who = "customer" if event["sender"] == "end_user" else "agent"
            print(f"    {when} {who:8} {event['content'][:92]}")
        elif event["type"] == "action":
            print(f"    {when} {'tool':8} {event['action_name']}")
        elif event["type"] == "button":
            print(f"    {when} {'button':8} {event['label']}")


def run(script: str, env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "demo.db")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--history", type=int, default=15000, help="conversations imported")
    parser.add_argument("--live", type=int, default=200, help="conversations tracked live")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # in order with stderr
    db: Path = args.db.resolve()
    shown_db = db.relative_to(ROOT) if db.is_relative_to(ROOT) else db
    started = time.perf_counter()
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    bot_key, import_key, read_key = (create_key(db, s) for s in ("ingest", "admin", "read"))
    password = secrets.token_urlsafe(12)
    agentsight(
        "users", "create", "--db", str(db), "--email", "demo@example.com", "--role", "viewer",
        "--project", "demo", stdin=password + "\n",
    )  # fmt: skip
    print(
        f"created {shown_db}, keys for project 'demo' (ingest for the bot, admin for the"
        " import, read for the summary) and a dashboard user"
    )
    process, url = start_collector(db)
    try:
        env = {**os.environ, "AGENTSIGHT_API_ENDPOINT": url}
        seed = ("--seed", str(args.seed))
        run(
            "demo_history.py",
            {**env, "AGENTSIGHT_API_KEY": import_key},
            "--days",
            str(args.days),
            "--conversations",
            str(args.history),
            *seed,
        )
        bot_env = {**env, "AGENTSIGHT_API_KEY": bot_key, "DEMO_FEEDBACK_KEY": import_key}
        run("demo_bot.py", bot_env, "--conversations", str(args.live), *seed)
    finally:
        stop_collector(process)
    print("collector stopped cleanly; starting it again to read the data back")
    process, url = start_collector(db)
    try:
        summary(url, read_key)
    finally:
        stop_collector(process)
    print(
        f"\ndone in {time.perf_counter() - started:.0f}s. Open the dashboard:\n"
        f"  .venv/bin/agentsight serve --db {shown_db}\n"
        "  then browse to http://127.0.0.1:8787/ and sign in as demo@example.com"
        f" with the password {password}\n"
        "  (days and hours are shown in your browser's time zone; the same figures as JSON:\n"
        f"  curl -H 'Authorization: Bearer {read_key}' http://127.0.0.1:8787/v1/metrics)"
    )


if __name__ == "__main__":
    main()
