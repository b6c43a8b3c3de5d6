"""A second small data set, its figures worked out by hand in the tests that use it.

UTC, November 2026 (Monday 2, 9, 16 and 23 start the weeks), in project A:

====  =====================  ========  =================================================
a1    Mon 02 10:00           ann       web, en, {"plan": "pro"}; "Where is my ORDER?"
                                       (intent order), agent, open_ticket
a2    Wed 11 10:00           ann       web, en; "where is my order", agent; negative
a3    Mon 23 10:00           ann       web, en; "hi", agent; rate Good up, menu Track order
b1    Sun 08 23:00           bob       web, en, {"plan": "free"}; "  Where is  my order!! "
                                       (intent order), fallback_to_human
b2    Tue 10 10:00           bob       whatsapp, en; "cancel", agent; rate Good up; positive
y1    Mon 09 09:00           cy        whatsapp, es, {"plan": "pro", "n": 1}; "Refund please"
                                       (intent refund), agent; rate Bad down; negative
y2    Mon 09 18:00           cy        whatsapp, es; "refund please", contact_human,
                                       "hello?"
n1    Tue 10 12:00           (none)    telegram, en, {"other": true}; "Where is my order",
                                       agent, ticket
====  =====================  ========  =================================================
"""

from __future__ import annotations

from typing import Any

from tests.metrics.dataset import Builder
from tests.server.collector_helpers import Collector


def said(b: Builder, moment: str, text: str, intent: str | None = None) -> Builder:
    metadata = None if intent is None else {"intent": intent}
    return b._add(
        "message",
        moment,
        sender="end_user",
        content=text,
        metadata=metadata,
        attachments=None,
        truncated=False,
    )


def pressed(b: Builder, moment: str, event: str, label: str, value: str) -> Builder:
    return b._add("button", moment, button_event=event, label=label, value=value, metadata=None)


def events() -> list[dict[str, Any]]:
    a1 = Builder("a1").start(
        "02T10:00:00", customer_id="ann", source="web", language="en", metadata={"plan": "pro"}
    )
    said(a1, "02T10:00:01", "Where is my ORDER?", "order").agent("02T10:00:02")
    a1.action("02T10:00:03", "open_ticket", 5)
    a2 = Builder("a2").start("11T10:00:00", customer_id="ann", source="web", language="en")
    a2.user("11T10:00:01", "where is my order").agent("11T10:00:02")
    a3 = Builder("a3").start("23T10:00:00", customer_id="ann", source="web", language="en")
    a3.user("23T10:00:01", "hi").agent("23T10:00:02")
    pressed(a3, "23T10:00:03", "rate", "Good", "up")
    pressed(a3, "23T10:00:04", "menu", "Track order", "track")
    b1 = Builder("b1").start(
        "08T23:00:00", customer_id="bob", source="web", language="en", metadata={"plan": "free"}
    )
    said(b1, "08T23:00:01", "  Where is  my order!! ", "order")
    b1.action("08T23:00:02", "fallback_to_human", 5)
    b2 = Builder("b2").start("10T10:00:00", customer_id="bob", source="whatsapp", language="en")
    b2.user("10T10:00:01", "cancel").agent("10T10:00:02")
    pressed(b2, "10T10:00:03", "rate", "Good", "up")
    y1 = Builder("y1").start(
        "09T09:00:00",
        customer_id="cy",
        source="whatsapp",
        language="es",
        metadata={"plan": "pro", "n": 1},
    )
    said(y1, "09T09:00:01", "Refund please", "refund").agent("09T09:00:02")
    pressed(y1, "09T09:00:03", "rate", "Bad", "down")
    y2 = Builder("y2").start("09T18:00:00", customer_id="cy", source="whatsapp", language="es")
    y2.user("09T18:00:01", "refund please").action("09T18:00:02", "contact_human", 5)
    y2.user("09T18:00:03", "hello?")
    n1 = Builder("n1").start(
        "10T12:00:00", source="telegram", language="en", metadata={"other": True}
    )
    n1.user("10T12:00:01", "Where is my order").agent("10T12:00:02")
    n1.action("10T12:00:03", "ticket", 5)
    return [e for b in (a1, a2, a3, b1, b2, y1, y2, n1) for e in b.events]


async def loaded(collector: Collector) -> Collector:
    await collector.send(*events())
    for cid, sentiment in (("a2", "negative"), ("b2", "positive"), ("y1", "negative")):
        status, answer = await collector.call(
            "POST", f"/v1/conversations/{cid}/feedback", json={"sentiment": sentiment}
        )
        assert status == 201, answer
    # Project B must never show: a customer, a button and an escalation of its own.
    other = Builder("z1").start("02T10:00:00", customer_id="ann", source="web")
    said(other, "02T10:00:01", "Where is my order")
    pressed(other, "02T10:00:02", "rate", "Good", "up")
    other.action("02T10:00:03", "open_ticket", 5)
    await collector.send(*other.events, project="B")
    return collector
