"""Every new example in examples/, run as its README says, against a real collector."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.collector import CollectorProcess

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One ``agentsight serve`` for all the examples; their conversation ids differ."""
    process = CollectorProcess(tmp_path_factory.mktemp("examples") / "collector.db")
    try:
        yield process
    finally:
        assert process.stop() == 0, "".join(process.log)


def run(collector: CollectorProcess, script: str, *args: str) -> str:
    """Run an example with an ingest key and the endpoint, as the README says; its output."""
    env = {
        **os.environ,
        "AGENTSIGHT_API_KEY": collector.ingest_key("A"),
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


def delivered(stdout: str) -> tuple[int, int, int]:
    """The (sent, accepted, dropped) of the example's last line."""
    match = re.search(r"delivered: sent=(\d+) accepted=(\d+) dropped=(\d+)", stdout)
    assert match, stdout
    sent, accepted, dropped = (int(group) for group in match.groups())
    return sent, accepted, dropped


def transcript(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """A stored conversation's messages, actions and buttons, in stored order."""
    out = []
    for event in detail["events"]:
        if event["type"] == "message":
            out.append((event["sender"], event["content"]))
        elif event["type"] == "action":
            out.append(("action", event["action_name"]))
        elif event["type"] == "button":
            out.append(("button", f"{event['label']}={event['value']}"))
    return out


def test_web_chat(collector: CollectorProcess) -> None:
    """Two visitors' sessions, with tool calls and a rating, stored in order."""
    out = run(collector, "web_chat.py")
    assert delivered(out) == (27, 27, 0)
    detail = collector.conversation("web-session-102")
    assert detail["conversation"]["source"] == "web"
    assert detail["conversation"]["device"] == "desktop"
    assert transcript(detail) == [
        ("end_user", "Where is my order?"),
        ("action", "kb_search"),
        ("agent", "Order 1042 left our warehouse yesterday."),
        ("end_user", "Thanks!"),
        ("action", "kb_search"),
        ("agent", "You're welcome!"),
        ("button", "Helpful=up"),
    ]


def test_whatsapp_bot(collector: CollectorProcess) -> None:
    """Pool threads handling several senders: each phone's conversation has only its messages."""
    out = run(collector, "whatsapp_bot.py")
    assert delivered(out) == (18, 18, 0)
    expected = {
        "+14155550101": ("en", ["Hi, is my table for 4 booked?", "Yes, confirm=confirm"]),
        "+442071838750": ("es", ["Hola, ¿abren el domingo?", "¿Y a qué hora?"]),
        "+5511987654321": ("pt-BR", ["Quero cancelar minha reserva", "Cancel booking=cancel"]),
    }
    for phone, (language, incoming) in expected.items():
        detail = collector.conversation(phone)
        assert (detail["conversation"]["source"], detail["conversation"]["language"]) == (
            "whatsapp",
            language,
        )
        got = [text for who, text in transcript(detail) if who in ("end_user", "button")]
        assert got == incoming


def test_mobile_app(collector: CollectorProcess) -> None:
    """Initialised sessions: two used, one never written to; token usage added up."""
    out = run(collector, "mobile_app.py")
    assert delivered(out) == (15, 15, 0)
    assert "app-u-1-s-1: 2 messages, tokens 187" in out
    used = {
        c["conversation_id"]: c["is_used"] for c in collector.all_conversations(source="ios_app")
    }
    assert used == {"app-u-1-s-1": True, "app-u-2-s-7": True, "app-u-3-s-2": False}
    detail = collector.conversation("app-u-1-s-1")
    assert detail["conversation"]["metadata"]["app_version"] == "2.1.0"
    usage = [e["total_tokens"] for e in detail["events"] if e["type"] == "token_usage"]
    assert sum(usage) == 187


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_voice_agent(collector: CollectorProcess, backend: str) -> None:
    """Each call gets a generated id; the hand-over is tracked in the right call."""
    out = run(collector, "voice_agent.py", "--backend", backend)
    assert delivered(out) == (11, 11, 0)
    calls = dict(re.findall(r"call from (\S+): conversation (conv_\w+)", out))
    assert len(set(calls.values())) == 2
    escalated = transcript(collector.conversation(calls["+1987654321"]))
    assert escalated == [
        ("end_user", "My internet is down"),
        ("agent", "Sure, done. Anything else?"),
        ("end_user", "Let me talk to a person"),
        ("action", "fallback_to_human"),
        ("agent", "Transferring you to a colleague now."),
    ]
    other = collector.conversation(calls["+1234567890"])
    assert other["conversation"]["source"] == "voice_call"
    assert ("action", "fallback_to_human") not in transcript(other)


def test_fastapi_app(collector: CollectorProcess) -> None:
    """Five visitors through uvicorn: cookie-kept conversations, background actions included."""
    out = run(collector, "fastapi_app.py", "--demo")
    assert delivered(out) == (75, 75, 0)
    visitors = dict(re.findall(r"(visitor-\d): conversation (conv_\w+)", out))
    assert len(set(visitors.values())) == 5
    for name, cid in visitors.items():
        detail = collector.conversation(cid)
        assert detail["conversation"]["customer_id"] == name
        said = [text for who, text in transcript(detail) if who == "end_user"]
        assert said == [f"{name.replace('-', ' ')}, message {turn}" for turn in range(3)]
        assert transcript(detail).count(("action", "summarise")) == 3


def test_flask_app(collector: CollectorProcess) -> None:
    """16 client threads at once: every conversation holds only its own messages."""
    out = run(collector, "flask_app.py", "--demo")
    assert delivered(out) == (16 * 12, 16 * 12, 0)
    for n in range(16):
        cid = f"flask-{n:02d}"
        detail = collector.conversation(cid)
        assert detail["conversation"]["customer_id"] == f"user-{n}"
        assert transcript(detail) == [
            (who, f"{prefix}message {turn} of {cid}")
            for turn in range(3)
            for who, prefix in (("end_user", ""), ("agent", "Answer to: "))
        ]
        usage = [e for e in detail["events"] if e["type"] == "token_usage"]
        assert len(usage) == 3


def test_aiogram_bot(collector: CollectorProcess) -> None:
    """Three Telegram chats: message, lookup, reply, button press and thanks in each."""
    out = run(collector, "aiogram_bot.py", "--demo")
    assert delivered(out) == (21, 21, 0)
    detail = collector.conversation("telegram-1002")
    assert (detail["conversation"]["source"], detail["conversation"]["language"]) == (
        "telegram",
        "es",
    )
    assert transcript(detail) == [
        ("end_user", "¿Dónde está mi pedido?"),
        ("action", "faq_lookup"),
        ("agent", "Here is what I found about “¿Dónde está mi pedido?”."),
        ("button", "👍 Helpful=rate:up"),
        ("agent", "Thanks for the rating!"),
    ]


def test_otlp_sdk(collector: CollectorProcess) -> None:
    """The OpenTelemetry SDK's spans become two conversations with their steps and cost."""
    out = run(collector, "otlp_sdk.py")
    assert "exported: spans=6 failed=0" in out, out
    detail = collector.conversation("otlp-chat-1")
    conv = detail["conversation"]
    assert (conv["source"], conv["customer_id"], conv["environment"]) == (
        "opentelemetry",
        "cust-501",
        "development",
    )
    assert transcript(detail) == [
        ("end_user", "Where is my order 1234?"),
        ("action", "shop-assistant"),
        ("action", "order_lookup"),
        ("agent", "It left our warehouse today."),
    ]
    (usage,) = (e for e in detail["events"] if e["type"] == "token_usage")
    assert (usage["model"], usage["prompt_tokens"]) == ("gpt-4o-mini-2024-07-18", 420)
    assert conv["cost"]["priced_calls"] == 1 and conv["cost"]["usd"] > 0


def test_otlp_openai(collector: CollectorProcess) -> None:
    """The instrumented openai client, against the stand-in: one conversation per question."""
    out = run(collector, "otlp_openai.py", "--demo")
    assert "exported to" in out, out
    detail = collector.conversation("otlp-openai-2")
    assert transcript(detail) == [
        ("end_user", "Do you ship to Norway?"),
        ("action", "faq-bot"),
        ("agent", "About 'Do you ship to Norway?': yes."),
    ]
    (usage,) = (e for e in detail["events"] if e["type"] == "token_usage")
    assert (usage["model"], usage["provider"], usage["total_tokens"]) == (
        "gpt-4o-mini-2024-07-18",
        "openai",
        40,
    )


def test_readme_lists_every_example_with_its_command() -> None:
    """examples/README.md gives one command for each example script."""
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for script in sorted(EXAMPLES.glob("*.py")):
        assert f"`python examples/{script.name}" in readme, script.name
