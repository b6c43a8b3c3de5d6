"""Seconds per ``GET /v1/metrics`` over a million stored events, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/metrics.py [--events 1000000] [--rounds 5] [--postgres URL]

Fills a fresh database through the storage interface (``write_batch``, as the
collector does, in batches of 5,000 events) with realistic support
conversations spread over 90 days: a ``conversation`` event (a quarter also
``interaction``-only), 1 to 5 turns of user message, tool call (8 % failing,
some escalated), agent message and token usage, sometimes a button; then
feedback on one conversation in ten.  It then starts the collector on
127.0.0.1 and times ``GET /v1/metrics`` as a client sees it: unfiltered in
UTC, unfiltered in Europe/Berlin, with two filters, and over the last 30 days
(the dashboard's default period).  PostgreSQL runs when
``--postgres`` or ``AGENTSIGHT_TEST_POSTGRES_URL`` names a server (a fresh
database is created and dropped).  The schema is the current one (since
version 3 the payload fields the metrics read are columns, filled by
``write_batch``; SQLite's version 4 leaves messages out of ``events_by_type``).
It also reports the median seconds of ``write_batch`` per 1,000 events, from
the batches of the fill (200 batches of 5,000 at 1M).  Results go to
benchmarks/results/metrics.json (``--results`` names another file).

Since wire schema 2 the model calls name their model (most a priced one, one
in twenty a model without a known price) and one conversation in five has
scores (a number and a yes/no).  The same fill runs against an older
collector's code (``PYTHONPATH=<its tree>``), which stores the same events
without pricing them: ``--label`` says which code a results file is of.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from agentsight import __version__
from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import create_app, open_storage
from agentsight.server.storage import Feedback, NewEvent, Storage

RESULTS = Path(__file__).parent / "results" / "metrics.json"
DAY = 86_400_000_000
HOUR = 3_600_000_000
SOURCES = [
    ("web", "desktop"),
    ("whatsapp", "mobile"),
    ("telegram", "mobile"),
    ("ios_app", "mobile"),
]
COUNTRIES = ["US", "GB", "DE", "BR", "IN", "ZA", "AU", "NL"]
TOOLS = ["order_lookup", "reset_password", "update_address", "kb_search", "payment_status"]
MODELS = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest"]
try:  # the collector's pricing, where this code has it (wire schema 2 on)
    from agentsight.server._ingest._prices import Prices
    from agentsight.server._ingest._prices import price as _priced

    PRICES: Any = Prices()
except ImportError:
    PRICES = None
#: The dashboard opens on the last 30 days (a third of the fill's 90): a range, read
#: per selected conversation where the rollups do not answer.
LAST_30_DAYS = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30 * 86_400))
LAST_7_DAYS = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7 * 86_400))
LAST_60_DAYS = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * 86_400))
LAST_14_DAYS = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 14 * 86_400))
QUERIES = {
    "all, UTC": {},
    "all, Europe/Berlin": {"tz": "Europe/Berlin"},
    "source=web, device=desktop, UTC": {"source": "web", "device": "desktop"},
    "last 30 days, UTC": {"since": LAST_30_DAYS},
    "last 7 days, America/New_York": {"since": LAST_7_DAYS, "tz": "America/New_York"},
}
#: The dashboard's overview asks for its period and the one before it (the tiles' change):
#: timed as the pair, from the first request sent to the last answer read; the period
#: before in full (as the dashboard asked for it before the summary) and as a summary,
#: both asked at once (as it did before it showed the figures first), and the summary
#: asked once the figures are in (as it does now: ``first`` is when they are).
_PERIODS = {
    "30 days": ({"since": LAST_30_DAYS}, {"since": LAST_60_DAYS, "until": LAST_30_DAYS}),
    "7 days": ({"since": LAST_7_DAYS}, {"since": LAST_14_DAYS, "until": LAST_7_DAYS}),
}
_ASKED = (
    (", both in full", "/v1/metrics", False),
    (" as a summary", "/v1/metrics/summary", False),
    (" as a summary, asked after", "/v1/metrics/summary", True),
)
OVERVIEWS = {
    f"overview, last {name} and the {name} before{how}": (
        [("/v1/metrics", current), (path, previous)],
        after,
    )
    for name, (current, previous) in _PERIODS.items()
    for how, path, after in _ASKED
}


def _conversation(rng: random.Random, n: int, now: int, live: bool = False) -> list[NewEvent]:
    cid = f"bench-{n:07d}"
    start = now - rng.randrange(90) * DAY - rng.randrange(DAY)
    if live:  # as a running bot's batches: conversations of the last hour
        start = now - (start % HOUR)
    source, device = rng.choice(SOURCES)
    at = [start]
    events: list[NewEvent] = []

    def add(kind: str, step: int, payload: dict[str, Any], country: str | None = None) -> None:
        at[0] += step
        events.append(NewEvent(uuid.uuid4().hex, kind, cid, len(events), at[0], payload, country))

    attributes = {
        "customer_id": f"user-{rng.randrange(30_000)}",
        "customer_ip_address": None,
        "device": device,
        "source": source,
        "language": rng.choice(["en", "en", "de", "es", "pt-BR"]),
        "name": None,
        "environment": "production" if rng.random() < 0.9 else "development",
        "metadata": {"bench": True},
    }
    country = rng.choice(COUNTRIES)
    if rng.random() < 0.25:
        add("interaction", 0, {**attributes, "is_used": False}, country)
        if rng.random() < 0.4:
            return events
    add("conversation", 1_000_000, {**attributes, "is_used": True}, country)
    for _ in range(rng.randint(1, 5)):
        said = _text(cid, len(events), "end_user")
        add("message", rng.randrange(2, 60) * 1_000_000, _message("end_user", said))
        failed = rng.random() < 0.08
        add("action", 200_000, _action(rng.choice(TOOLS), rng.lognormvariate(5, 0.7), failed))
        if failed and rng.random() < 0.5:
            add("action", 50_000, _action("fallback_to_human", None, False))
        said = _text(cid, len(events), "agent")
        add("message", rng.randrange(500, 9000) * 1000, _message("agent", said))
        prompt, completion = rng.randint(200, 1500), rng.randint(20, 300)
        model = rng.choice(MODELS) if rng.random() < 0.95 else "house-model"
        add("token_usage", 0, _tokens(prompt, completion, model))
        if PRICES is not None:  # the collector's pricing at ingest (absent before schema 2)
            events[-1].cost_nanos = _priced(PRICES, events[-1])
        if rng.random() < 0.2:
            add("button", 5_000_000, {"button_event": "rate", "label": "Good", "value": "up"})
    if rng.random() < 0.2:
        add("score", 1_000_000, _score("helpfulness", round(rng.random(), 2)))
        add("score", 1_000, _score("resolved", rng.random() < 0.7))
    return events


def _score(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "comment": None, "message_id": None,
            "source": "sdk", "metadata": None}  # fmt: skip


#: Words of the messages: 2,048 made-up words of two to four syllables, so that text
#: search meets many distinct trigrams, as in real transcripts.
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pre", "gan", "tor", "lis",
              "ben", "dor", "fa", "gu"]  # fmt: skip
#: Topics of the user's messages and the share of messages that name each: a search
#: for one finds conversations at four densities, from about one in twelve to one in
#: five thousand (a message's words never mention them otherwise).
TOPICS = (("chargeback", 0.00005), ("warranty", 0.0005), ("invoice", 0.005), ("refund", 0.05))


def _word(n: int) -> str:
    return "".join(_SYLLABLES[n >> shift & 15] for shift in range(0, 4 * (2 + n % 3), 4))


_WORDS = [_word(n) for n in range(2048)]


def _text(cid: str, seq: int, sender: str) -> str:
    """The text of the message *seq* of *cid*: a function of the two alone (not of the
    fill's random numbers, so the fill's other events stay as they were), the same in
    every database.  Every user message asks about an order (a word of every
    conversation); some name a topic (``TOPICS``); one in eight an order number of its own
    (``#`` and eight hex digits, a text of one conversation)."""
    digest = hashlib.blake2b(f"{cid}/{seq}".encode(), digest_size=16).digest()
    h = int.from_bytes(digest, "big")
    words = " ".join(_WORDS[h >> (11 * i) & 2047] for i in range(4))
    if sender == "agent":
        return f"Here it is: {words}."
    chance = (h >> 64 & 0xFFFFFFFF) / 2**32
    topic = next((name for name, share in TOPICS if chance < share), None)
    said = f"Where is my order? {words}"
    if topic is not None:
        said += f", about a {topic}"
    if (h >> 96 & 15) < 2:
        said += f" #{h >> 100 & 0xFFFFFFFF:08x}"
    return said + "."


def _message(sender: str, content: str) -> dict[str, Any]:
    return {"sender": sender, "content": content, "metadata": None, "attachments": None}


def _action(name: str, duration: float | None, failed: bool) -> dict[str, Any]:
    return {
        "action_name": name,
        "started_at": None,
        "ended_at": None,
        "duration_ms": None if duration is None else round(duration, 1),
        "tools_used": None,
        "response": None if failed else "ok",
        "error_msg": "upstream timed out" if failed else None,
        "metadata": None,
    }


def _tokens(prompt: int, completion: int, model: str) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "embedding_tokens": 0,
        "model": model,
        "provider": "openai" if model.startswith("gpt") else None,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
        "started_at": None,
        "duration_ms": None,
        "step_id": None,
        "parent_id": None,
    }


async def fill(
    storage: Storage,
    project_id: int,
    events: int,
    seed: int = 5,
    first: int = 0,
    *,
    live: bool = False,
) -> dict[str, Any]:
    """Store about *events* events, numbering conversations from *first*; the counts stored.

    *live*: every conversation started within the last hour (as the batches of a running
    bot are), instead of over 90 days (as a filled database's history is).
    """
    rng = random.Random(seed + first)
    now = int(time.time() * 1_000_000)
    pending: list[NewEvent] = []
    stored, conversations = 0, first
    batch_seconds: list[float] = []
    while stored + len(pending) < events:
        pending += _conversation(rng, conversations, now, live)
        conversations += 1
        if len(pending) >= 5000:
            begin = time.perf_counter()
            stored += (await storage.write_batch(project_id, pending)).accepted
            batch_seconds.append((time.perf_counter() - begin) / len(pending) * 1000)
            pending = []
    if pending:
        stored += (await storage.write_batch(project_id, pending)).accepted
    for n in range(first - first % -10, conversations, 10):
        sentiment = rng.choice(["positive", "positive", "neutral", "negative"])
        await storage.add_feedback(project_id, f"bench-{n:07d}", Feedback(sentiment))
    per_1000 = statistics.median(batch_seconds) if batch_seconds else 0.0
    return {
        "events": stored,
        "conversations": conversations - first,
        "write_batch_ms_per_1000": per_1000,
    }


async def measure(
    db: str | Path, events: int, rounds: int, *, reuse: bool = False
) -> dict[str, Any]:
    """Fill *db* (unless *reuse*: filled by an earlier run), start a collector over it
    and time the metrics queries."""
    storage = await open_storage(db)
    key = generate_key()
    await storage.create_key("bench", hash_key(key), redact(key), scope="admin")
    found = await storage.find_key(hash_key(key))
    project_id = None if found is None else found.project_id
    assert project_id is not None
    started = time.perf_counter()
    if reuse:
        counts: dict[str, Any] = {"reused": True}
    else:
        counts = await fill(storage, project_id, events)
        counts["write_batch_ms_per_1000"] = round(counts["write_batch_ms_per_1000"] * 1000, 1)
        print(f"  filled {counts['events']:,} events", flush=True)
    fill_seconds = time.perf_counter() - started
    await storage.aclose()
    if not isinstance(db, Path):
        await _pg_execute(db, "ANALYZE")  # fresh statistics, as autovacuum would give
    timings = await _time_queries(db, key, rounds)
    return {**counts, "fill_s": round(fill_seconds, 1), "queries": timings}


async def _pg_execute(url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _time_queries(db: str | Path, key: str, rounds: int) -> dict[str, Any]:
    """Median, min and max seconds of each query through a collector on 127.0.0.1."""
    runner = web.AppRunner(create_app(await open_storage(db)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    timings: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {key}"}) as s:
            for name, params in QUERIES.items():
                seconds = []
                for _ in range(rounds):
                    begin = time.perf_counter()
                    async with s.get("/v1/metrics", params=params) as answer:
                        body = await answer.json()
                        assert answer.status == 200, body
                    seconds.append(time.perf_counter() - begin)
                timings[name] = {
                    "median_s": round(statistics.median(seconds), 3),
                    "min_s": round(min(seconds), 3),
                    "max_s": round(max(seconds), 3),
                    "conversations": body["totals"]["conversations"],
                    "messages": body["totals"]["messages"],
                }
                print(f"  {name}: median {timings[name]['median_s']:.3f} s", flush=True)

            async def one(path: str, params: dict[str, str]) -> None:
                async with s.get(path, params=params) as answer:
                    body = await answer.json()
                    assert answer.status == 200, body

            for name, (pair, after) in OVERVIEWS.items():
                seconds, firsts = [], []
                for _ in range(rounds):
                    begin = time.perf_counter()
                    if after:
                        await one(*pair[0])
                        firsts.append(time.perf_counter() - begin)
                        await one(*pair[1])
                    else:
                        await asyncio.gather(*(one(path, params) for path, params in pair))
                    seconds.append(time.perf_counter() - begin)
                timings[name] = {
                    "median_s": round(statistics.median(seconds), 3),
                    "min_s": round(min(seconds), 3),
                    "max_s": round(max(seconds), 3),
                }
                if firsts:
                    timings[name]["first_median_s"] = round(statistics.median(firsts), 3)
                print(f"  {name}: median {timings[name]['median_s']:.3f} s", flush=True)
    finally:
        await runner.cleanup()  # closes the storage too
    return timings


def _postgres(server: str) -> tuple[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
    import pg_helpers

    url = pg_helpers.create_database(server)
    return url, lambda: pg_helpers.drop_database(server, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL"))
    parser.add_argument("--no-write", action="store_true", help="print only, keep the results file")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file")
    parser.add_argument("--label", default="", help="which code this is (a commit)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="keep the SQLite database here; when the file exists, time it without filling",
    )
    parser.add_argument(
        "--keep-postgres", action="store_true", help="keep the filled PostgreSQL database"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--postgres-filled",
        help="the URL of a database kept by --keep-postgres: time it without filling",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_sqlite:
            print("SQLite:", flush=True)
            path = args.sqlite_file or Path(folder) / "bench.db"
            results["sqlite"] = asyncio.run(
                measure(path, args.events, args.rounds, reuse=path.exists())
            )
    if args.postgres_filled:
        print("PostgreSQL (filled before):", flush=True)
        results["postgres"] = asyncio.run(
            measure(args.postgres_filled, args.events, args.rounds, reuse=True)
        )
    elif args.postgres and not args.no_postgres:
        print("PostgreSQL:", flush=True)
        url, drop = _postgres(args.postgres)
        try:
            results["postgres"] = asyncio.run(measure(url, args.events, args.rounds))
        finally:
            if args.keep_postgres:
                print(f"  kept the database: {url}", flush=True)
            else:
                drop()
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "agentsight": __version__,
        "label": args.label,
        "what": "seconds per GET /v1/metrics as a client on 127.0.0.1 sees it",
        "rounds": args.rounds,
        "results": results,
    }
    if not args.no_write:
        args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
