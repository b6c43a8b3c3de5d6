"""A small data set whose every figure is worked out by hand (see test_metrics.py).

Four conversations of project A in November 2026 (UTC; Europe/Berlin is
UTC+1 then), and one of project B that A must never see:

====  ================  ========  ===========================================
c1    Mon 11-02 09:00   used      u1, web, desktop, en, 8.8.8.8 (US)
c2    Mon 11-02 23:30   used      u2, whatsapp, mobile, es, 5.9.0.1 (DE)
c3    Tue 11-03 12:00   shown     u1, web, desktop, development, no IP
c4    Wed 11-04 15:00   used      no user, telegram, mobile, en, no IP
====  ================  ========  ===========================================
"""

from __future__ import annotations

import uuid
from typing import Any


def at(moment: str) -> str:
    """``2026-11-02T09:00:10`` and so on, as the wire's UTC timestamp."""
    return f"2026-11-{moment}.000000Z" if "." not in moment else f"2026-11-{moment}Z"


class Builder:
    """Events of one conversation with increasing seq."""

    def __init__(self, cid: str) -> None:
        self.cid = cid
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def _add(self, kind: str, moment: str, **fields: Any) -> Builder:
        self.events.append(
            {
                "id": uuid.uuid4().hex,
                "type": kind,
                "conversation_id": self.cid,
                "seq": self.seq,
                "timestamp": at(moment),
                **fields,
            }
        )
        self.seq += 1
        return self

    def start(self, moment: str, *, used: bool = True, **attributes: Any) -> Builder:
        fields = dict.fromkeys(
            ("customer_id", "customer_ip_address", "device", "source", "language", "name")
        )
        fields.update(metadata=None, environment="production", is_used=used)
        fields.update(attributes)
        return self._add("conversation" if used else "interaction", moment, **fields)

    def user(self, moment: str, text: str = "hi") -> Builder:
        return self._add(
            "message",
            moment,
            sender="end_user",
            content=text,
            metadata=None,
            attachments=None,
            truncated=False,
        )

    def agent(self, moment: str, text: str = "hello") -> Builder:
        return self._add(
            "message",
            moment,
            sender="agent",
            content=text,
            metadata=None,
            attachments=None,
            truncated=False,
        )

    def action(
        self, moment: str, name: str, duration: float | None, error: str | None = None
    ) -> Builder:
        return self._add(
            "action",
            moment,
            action_name=name,
            started_at=None,
            ended_at=None,
            duration_ms=duration,
            tools_used=None,
            response=None if error else "ok",
            error_msg=error,
            metadata=None,
        )

    def tokens(self, moment: str, prompt: int, completion: int, embedding: int = 0) -> Builder:
        return self._add(
            "token_usage",
            moment,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            embedding_tokens=embedding,
        )

    def button(self, moment: str) -> Builder:
        return self._add(
            "button", moment, button_event="rate", label="Good", value="up", metadata=None
        )


def project_a() -> list[dict[str, Any]]:
    """The events of c1 to c4, in no particular order of conversations."""
    c1 = (
        Builder("c1")
        .start(
            "02T09:00:00",
            customer_id="u1",
            source="web",
            device="desktop",
            language="en",
            customer_ip_address="8.8.8.8",
        )
        .user("02T09:00:10")
        .action("02T09:00:11", "kb_search", 100)
        .agent("02T09:00:12")
        .tokens("02T09:00:12", 100, 20)
        .user("02T09:01:00")
        .user("02T09:01:30")
        .agent("02T09:01:40")
        .action("02T09:01:45", "fallback_to_human", 50, "no answer")
    )
    c2 = (
        Builder("c2")
        .start(
            "02T23:30:00",
            customer_id="u2",
            source="whatsapp",
            device="mobile",
            language="es",
            customer_ip_address="5.9.0.1",
        )
        .user("02T23:30:05")
        .action("02T23:30:05.500000", "kb_search", 300, "timeout")
        .action("02T23:30:05.700000", "kb_search", 200)
        .agent("02T23:30:06")
        .tokens("02T23:30:06", 50, 10, 5)
        .user("02T23:31:00")
    )
    c3 = Builder("c3").start(
        "03T12:00:00",
        used=False,
        customer_id="u1",
        source="web",
        device="desktop",
        environment="development",
    )
    c4 = (
        Builder("c4")
        .start("04T15:00:00", source="telegram", device="mobile", language="en")
        .agent("04T15:00:01")
        .user("04T15:00:05")
        .agent("04T15:00:09")
        .agent("04T15:00:10")
        .tokens("04T15:00:10", 200, 40)
        .button("04T15:00:11")
        .action("04T15:00:12", "open_ticket", 10)
        .action("04T15:00:13", "open_ticket", None)
    )
    return [*c2.events, *c4.events, *c1.events, *c3.events]


def project_b() -> list[dict[str, Any]]:
    """One busy conversation of project B."""
    b = Builder("b1").start("02T09:00:00", customer_id="intruder", source="web")
    for second in range(10, 40, 2):
        b.user(f"02T09:00:{second:02d}").agent(f"02T09:00:{second + 1:02d}")
    return b.action("02T09:00:45", "open_ticket", 999, "x").tokens("02T09:00:46", 9999, 1).events
