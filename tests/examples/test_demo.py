"""The demo (``python3 dev.py demo``): coherent conversations, a month of rhythm, real parts.

The scripts of ``examples/demo_conversations.py`` are checked in memory
(texts complete in every language, answers that match the question, a rhythm
in the customer's time zone, the same conversations whatever the clock);
``demo_history.py`` and ``demo_bot.py`` run as their commands say against a
real collector; ``main_job.py`` runs whole on a temporary database, and the
key it prints opens what it stored.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import os
import re
import subprocess
import sys
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.collector import CollectorProcess

EXAMPLES = Path(__file__).parents[2] / "examples"
LANGUAGES = ("en", "de", "es", "fr", "pt")
HISTORY, LIVE, DAYS = 400, 40, 30
SMALL_DEMO = ("--history", "300", "--live", "30", "--seed", "5")


def _load_demo() -> Any:
    """``examples/demo_conversations.py`` as a module (examples are not a package)."""
    spec = importlib.util.spec_from_file_location(
        "demo_conversations", EXAMPLES / "demo_conversations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


demo = _load_demo()
TEXTS: dict[str, Any] = demo.TEXTS


def _flatten(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _pattern(template: str) -> str:
    """A regular expression matching *template* with any values in its {names}."""
    return re.sub(r"\\\{\w+\\\}", ".+?", re.escape(template))


def _language_texts(language: str) -> re.Pattern[str]:
    """Every text of *language* (a base tag: en, pt...), as one pattern."""
    base = language.split("-")[0]
    templates = [
        template
        for topic, entries in TEXTS.items()
        if topic not in ("_about", "weekdays")
        for entry in entries.values()
        for template in _flatten(entry[base])
    ]
    addresses = [
        a for c in demo.COUNTRIES.values() if c.language.startswith(base) for a in c.addresses
    ]
    return re.compile("|".join([*map(_pattern, templates), *map(re.escape, addresses)]))


def _asks(topic: str, language: str) -> re.Pattern[str]:
    """What a customer may open a conversation about *topic* with."""
    base = language.split("-")[0]
    entries = TEXTS[topic]
    names = [name for name in entries if name.startswith("ask") or name.endswith("_ask")]
    if topic == "return":
        names.append("damaged")
    templates = [t for name in names for t in _flatten(entries[name][base])]
    return re.compile("|".join(map(_pattern, templates)))


def test_every_text_in_every_language() -> None:
    """Each text exists in the five languages, with the same {names} and number of variants."""
    for topic, entries in TEXTS.items():
        if topic == "_about":
            continue
        if topic == "weekdays":
            assert all(len(entries[lang]) == 7 for lang in LANGUAGES)
            continue
        for name, entry in entries.items():
            assert sorted(entry) == sorted(LANGUAGES), (topic, name)
            shapes = {
                lang: [sorted(re.findall(r"\{(\w+)\}", t)) for t in _flatten(entry[lang])]
                for lang in LANGUAGES
            }
            assert all(shape == shapes["en"] for shape in shapes.values()), (topic, name, shapes)


def test_scripts_are_coherent() -> None:
    """Questions, tools, answers and hand-overs agree with the topic and the language."""
    now = time.time()
    scripts = demo.history(5, 1500, DAYS, now) + demo.live(5, 100, now)
    escalated = 0
    for script in scripts:
        customer = script.customer
        country = demo.COUNTRIES[customer.country]
        assert customer.language == country.language
        assert customer.zone in country.zones
        address = ipaddress.ip_address(customer.ip)
        assert any(address in ipaddress.ip_network(n) for n in country.networks)
        kinds = [step.kind for step in script.steps]
        if script.topic is None:  # only shown
            assert kinds == ["interaction"]
            continue
        assert "conversation" in kinds[:2]
        words = _language_texts(customer.language)
        said = [s.fields for s in script.steps if s.kind == "message"]
        assert _asks(script.topic, customer.language).fullmatch(said[0]["content"]), said[0]
        assert said[0]["sender"] == "end_user"
        for message in said:
            assert words.fullmatch(message["content"]), (customer.language, message["content"])
        tools = [s.fields["action_name"] for s in script.steps if s.kind == "action"]
        allowed = set(demo.TOPICS[script.topic][1]) | set(demo.ESCALATIONS)
        assert tools and set(tools) <= allowed, (script.topic, tools)
        assert script.escalated == bool(set(tools) & set(demo.ESCALATIONS))
        escalated += script.escalated
        usage = [s.fields for s in script.steps if s.kind == "token_usage"]
        assert len(usage) == sum(m["sender"] == "agent" for m in said)
        assert all(u["prompt_tokens"] > demo.SYSTEM_PROMPT_TOKENS for u in usage)
        if script.source == "voice_call":
            assert "button" not in kinds
    assert 0.03 < escalated / len(scripts) < 0.1
    assert 0.08 < sum(s.feedback is not None for s in scripts) / len(scripts) < 0.2


def test_the_same_conversations_whatever_the_clock() -> None:
    """Only the times depend on when the demo runs: the summary stays the same."""
    now = time.time()
    first = demo.history(3, 300, DAYS, now)
    later = demo.history(3, 300, DAYS, now + 5.5 * 86_400 + 7 * 3600)

    def shape(scripts: list[Any]) -> list[Any]:
        return [
            (s.conversation_id, s.customer, s.source, s.device, s.topic, s.feedback, s.escalated)
            for s in scripts
        ] + [[(step.kind, step.after) for step in s.steps] for s in scripts]

    assert shape(first) == shape(later)
    assert [s.start for s in first] != [s.start for s in later]


def test_the_rhythm_follows_the_customers_clock() -> None:
    """Weekdays busier than weekends, days busier than nights, the phone line's hours."""
    now = time.time()
    scripts = demo.history(9, 4000, DAYS, now)
    assert all(now - DAYS * 86_400 <= s.start and s.start + s.duration < now for s in scripts)
    per_kind: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    for script in scripts:
        local = dt.datetime.fromtimestamp(script.start, zoneinfo.ZoneInfo(script.customer.zone))
        per_kind["weekend" if local.weekday() >= 5 else "weekday"] += 1
        hours[local.hour] += 1
        if script.source == "voice_call":
            assert local.weekday() < 6 and 8 <= local.hour < 20, local
            assert local.weekday() < 5 or 9 <= local.hour < 14, local
    assert per_kind["weekend"] / 2 < 0.75 * per_kind["weekday"] / 5
    night = sum(hours[h] for h in range(1, 6))
    assert night < 0.05 * len(scripts)
    assert min(hours[h] for h in (10, 11, 14, 15, 19, 20)) > 3 * max(hours[h] for h in range(2, 5))


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path_factory.mktemp("demo") / "collector.db")
    try:
        yield process
    finally:
        assert process.stop() == 0, "".join(process.log)


def _run(collector: CollectorProcess, script: str, *args: str) -> str:
    env = {
        **os.environ,
        "AGENTSIGHT_API_KEY": collector.keys["A"],
        "AGENTSIGHT_API_ENDPOINT": collector.url,
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def _delivered(stdout: str) -> tuple[int, int, int]:
    match = re.search(r"delivered: sent=(\d+) accepted=(\d+) dropped=(\d+)", stdout)
    assert match, stdout
    sent, accepted, dropped = (int(group) for group in match.groups())
    return sent, accepted, dropped


def test_history_and_live_bot_against_a_collector(collector: CollectorProcess) -> None:
    """A month imported through /v1/batch, conversations tracked live: every chart has data."""
    started = time.time()
    args = ("--days", str(DAYS), "--conversations", str(HISTORY), "--seed", "11")
    sent, accepted, dropped = _delivered(_run(collector, "demo_history.py", *args))
    assert sent == accepted and dropped == 0
    sent, accepted, dropped = _delivered(
        _run(collector, "demo_bot.py", "--conversations", str(LIVE), "--seed", "11")
    )
    assert sent == accepted and dropped == 0

    expected = demo.history(11, HISTORY, DAYS, started) + demo.live(11, LIVE, started)
    status, m = collector.request("GET", "/v1/metrics")
    assert status == 200, m
    assert m["totals"]["conversations"] == HISTORY + LIVE
    assert m["totals"]["unique_users"] == len({s.customer.customer_id for s in expected})
    assert m["engagement"]["initialised_only"] == sum(s.topic is None for s in expected)
    active_days = [day for day in m["daily"] if day["conversations"]]
    assert len(active_days) >= DAYS - 2
    assert sum(map(sum, m["peak_hours"]["counts"])) == m["totals"]["messages"]
    assert m["escalation"]["conversations"] == sum(s.escalated for s in expected)
    assert m["feedback"]["entries"] == sum(s.feedback is not None for s in expected)
    assert all(m["feedback"]["by_sentiment"].values())
    assert {t["action_name"] for t in m["tools"]} >= {"order_lookup", "kb_search"}
    assert any(t["errors"] for t in m["tools"])
    assert len([d for d in m["token_usage"]["daily"] if d["total_tokens"]]) >= DAYS - 2
    calls = sum(s.kind == "token_usage" for script in expected for s in script.steps)
    [model] = m["cost"]["by_model"]  # every call of the demo is priced, none for free
    assert (model["model"], model["calls"], model["unpriced_calls"]) == ("gpt-4o-mini", calls, 0)
    assert m["cost"]["usd"] > 0 and m["cost"]["unpriced_calls"] == 0
    assert 1 < m["response_time_ms"]["p50"] / 1000 < 5
    for field in ("country", "device", "source", "language"):
        assert None not in [entry["value"] for entry in m["breakdowns"][field]], field

    stored = collector.all_conversations()
    languages = {code: c.language for code, c in demo.COUNTRIES.items()}
    assert all(languages[c["country"]] == c["language"] for c in stored)
    for conversation in stored:
        if not conversation["is_used"]:
            continue
        cid, topic = conversation["conversation_id"], conversation["metadata"]["topic"]
        events = collector.conversation(cid)["events"]
        said = [e for e in events if e["type"] == "message"]
        language = conversation["language"]
        assert _asks(topic, language).fullmatch(said[0]["content"]), (cid, said[0])
        words = _language_texts(language)
        assert all(words.fullmatch(e["content"]) for e in said), cid
        tools = {e["action_name"] for e in events if e["type"] == "action"}
        assert tools <= set(demo.TOPICS[topic][1]) | set(demo.ESCALATIONS), (cid, tools)
        first = dt.datetime.fromisoformat(events[0]["timestamp"].replace("Z", "+00:00"))
        if cid.startswith("live-"):
            assert first.timestamp() >= started - 60
        else:
            assert started - DAYS * 86_400 - 60 <= first.timestamp() < started

    # Event ids come from the seed: importing the same month again stores nothing twice.
    out = _run(collector, "demo_history.py", *args)
    sent, accepted, _ = _delivered(out)
    assert accepted == 0 and f"duplicates={sent}" in out


def test_main_job(tmp_path: Path) -> None:
    """The whole demo on a temporary database; the read key it prints opens what it stored,
    and the dashboard user it names exists."""
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "main_job.py"), "--db", str(db), *SMALL_DEMO],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "conversations: 330 from " in out
    assert re.search(r"  cost: +\$\d+\.\d\d for [\d,]+ model calls \(gpt-4o-mini \$", out), out
    for line in ("per day:", "busiest hours:", "escalated:", "feedback:", "by country:"):
        assert f"  {line}" in out, line
    assert re.search(r"one conversation, history-\d+ \(.+; es, whatsapp, (ES|MX|AR)\)", out), out
    tail = out.rstrip().splitlines()[-5:]
    assert tail[0].endswith("Open the dashboard:"), tail
    assert tail[1] == f"  .venv/bin/agentsight serve --db {db}"
    signin = re.fullmatch(
        r"  then browse to http://127\.0\.0\.1:8787/ and sign in as (\S+) with the password (\S+)",
        tail[2],
    )
    assert signin is not None, tail
    found = re.search(r"Bearer (ags_\w+)'", tail[4])
    assert found is not None, tail
    key = found.group(1)
    users = subprocess.run(
        [str(Path(sys.executable).parent / "agentsight"), "users", "list", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert signin.group(1) in users

    served = CollectorProcess(db)
    try:
        served.keys["demo"] = key
        status, metrics = served.request("GET", "/v1/metrics", "demo")
        assert status == 200, metrics
        assert metrics["totals"]["conversations"] == 330
    finally:
        assert served.stop() == 0, "".join(served.log)
