"""The hostile-input suite of issue 16: probes, each an attack class against a running collector.

Each probe takes a ``Collector`` (``url``, ``session``, ``keys``) and talks
HTTP only, so it runs against the in-process collector of a test (SQLite or
PostgreSQL) and against a real ``agentsight serve`` process alike
(``test_whole_suite.py`` runs them all against one).  A probe asserts the
answers it expects: every hostile input is a clear 4xx naming what was
wrong, every answer is strict JSON with ``nosniff``, and what was accepted
reads back on every read route in several time zones.
"""

from __future__ import annotations

import gzip
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tests.server.collector_helpers import Collector, action, batch, conversation, message, tokens

Probe = Callable[[Collector], Awaitable[None]]
#: Zones east and west of UTC, with half and quarter hours, and daylight saving.
TIME_ZONES = (
    "UTC",
    "Europe/Berlin",
    "Pacific/Kiritimati",  # UTC+14
    "Etc/GMT+12",  # UTC-12
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # +10:30 / +11, a half-hour DST
)
#: Event times just inside and outside what ingest takes (1970 to 2199).
ACCEPTED_TIMES = (
    "1970-01-01T00:00:00.000000Z",
    "2199-12-31T23:59:59.999999Z",
    "2199-12-31T10:00:00-12:00",
    "1970-01-01T14:00:00+14:00",
)
REFUSED_TIMES = (
    "9999-12-31T23:59:59.999999Z",
    "2200-01-01T00:00:00.000000Z",
    "2199-12-31T23:59:59-12:00",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00+00:01",
    "0001-01-01T00:00:00Z",
)
REFUSED_DURATIONS: tuple[Any, ...] = (1e308, 10**20, 10**12 + 1, 1.7976931348623157e308, 10**400)
ACCEPTED_DURATIONS: tuple[Any, ...] = (0, 5e-324, 10**12, 999_999_999_999.5)
REFUSED_TOKENS: tuple[Any, ...] = (10**9 + 1, 2**63, 10**30)
TEXT_FILTERS = ("customer_id", "source", "language", "country", "q")
#: Every character str.isdigit() takes that is not an ASCII digit.
ODD_DIGITS = tuple(
    chr(c) for c in range(sys.maxunicode + 1) if chr(c).isdigit() and not chr(c).isascii()
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def strict_json(text: str) -> Any:
    """RFC 8259 JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(text, parse_constant=refuse)


async def call(
    c: Collector,
    method: str,
    path: str,
    project: str | None = "A",
    **kwargs: Any,
) -> tuple[int, Any]:
    """An API call; the status and the answer, checked to be strict JSON with nosniff."""
    headers = {**(c.auth(project) if project else {}), **kwargs.pop("headers", {})}
    async with c.session.request(method, path, headers=headers, **kwargs) as response:
        text = await response.text()
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (path, response.headers)
        assert response.status != 500, (method, path, text)
        return response.status, strict_json(text)


async def post_batch(
    c: Collector, body: bytes, *, compress: bool = False, project: str = "A"
) -> tuple[int, Any]:
    """POST a raw batch body, gzip-encoded when *compress*."""
    headers = {"Content-Type": "application/json"}
    if compress:
        body, headers["Content-Encoding"] = gzip.compress(body, 1), "gzip"
    return await call(c, "POST", "/v1/batch", project, data=body, headers=headers)


async def send(c: Collector, *events: dict[str, Any]) -> dict[str, Any]:
    """POST a batch expecting 200; the answer."""
    status, answer = await post_batch(c, json.dumps(batch(*events)).encode())
    assert status == 200, answer
    return dict(answer)


def _tag() -> str:
    return f"h{uuid.uuid4().hex[:12]}"


async def read_everything(c: Collector, cid: str) -> None:
    """Every read route, in every zone of ``TIME_ZONES``, answers 200 with strict JSON."""
    status, detail = await call(c, "GET", f"/v1/conversations/{cid}")
    assert status == 200, detail
    for params in ({}, {"since": "1970-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}):
        status, page = await call(c, "GET", "/v1/conversations", params={**params, "limit": "500"})
        assert status == 200, page
    for zone in TIME_ZONES:
        for params in ({}, {"until": "9999-12-31T23:59:59Z"}, {"customer_id": cid}):
            status, figures = await call(c, "GET", "/v1/metrics", params={"tz": zone, **params})
            assert status == 200, (zone, figures)
            assert figures["tz"] == zone


def value_bomb(shape: bytes, count: int, where: str) -> bytes:
    """A batch body holding *count* copies of *shape* under *where*."""
    many = b"[" + b",".join([shape] * count) + b"]"
    head = b'{"schema":1,"sent_at":"2026-11-26T22:14:05.123456Z","events":'
    if where == "unknown key":
        return head + b'[],"x":' + many + b"}"
    if where == "events":
        return head + many + b"}"
    if where == "metadata":
        event = message("bomb", 0, 0.0)
        event["metadata"] = {"m": "PLACEHOLDER"}
        text = json.dumps(batch(event)).encode()
        return text.replace(b'"PLACEHOLDER"', many)
    if where == "schema":
        return b'{"schema":' + many + b',"events":[]}'
    assert where == "top level"
    return many


BOMB_SHAPES = (b"{}", b"[]", b"0", b'""', b'{"a":0}', b"[[]]", b'{"ab":[]}', b"true", b'","')
BOMB_PLACES = ("unknown key", "events", "metadata", "schema", "top level")


async def probe_value_bombs(c: Collector) -> None:
    """Small gzip bodies that would build past a million values are 413, before any parsing."""
    for shape in BOMB_SHAPES:
        for where in BOMB_PLACES:
            body = value_bomb(shape, 1_000_001, where)
            status, answer = await post_batch(c, body, compress=True)
            assert (status, answer["error"].split(":")[0]) == (413, "body"), (shape, where)
            assert "JSON values" in answer["error"]
    # The issue's own example: 49 MiB of {} under an unknown key, 50 KB of gzip.
    body = b'{"schema":1,"events":[],"x":[' + b"{}," * (16 * 1024 * 1024) + b"{}]}"
    status, answer = await post_batch(c, body, compress=True)
    assert status == 413, answer
    status, answer = await post_batch(c, b'{"schema":1,"events":[],"x":[{}]}')
    assert (status, answer["error"]) == (400, "x: unknown field; expected schema, sent_at, events")


async def probe_times(c: Collector) -> None:
    """Event times outside 1970-2199 are rejected by field; the ones inside read back everywhere."""
    cid = _tag()
    events = [conversation(cid, 0, 0.0, customer_id=cid)]
    for index, stamp in enumerate(ACCEPTED_TIMES + REFUSED_TIMES, 1):
        events.append({**message(cid, index, 0.0), "timestamp": stamp})
    for index, stamp in enumerate(REFUSED_TIMES, 100):
        events.append({**action(cid, index, 0.0), "started_at": stamp})
        events.append({**action(cid, index + 50, 0.0), "ended_at": stamp})
    answer = await send(c, *events)
    fields = [r["error"].split(":")[0] for r in answer["rejected"]]
    refused = len(REFUSED_TIMES)
    assert fields == ["timestamp"] * refused + ["started_at", "ended_at"] * refused, answer
    assert answer["accepted"] == 1 + len(ACCEPTED_TIMES)
    await read_everything(c, cid)
    _, detail = await call(c, "GET", f"/v1/conversations/{cid}")
    assert detail["conversation"]["ended_at"] == "2199-12-31T23:59:59.999999Z"


async def probe_numbers(c: Collector) -> None:
    """Durations and token counts past their bounds are rejected; the figures stay finite JSON."""
    cid = _tag()
    events = [conversation(cid, 0, 0.0, customer_id=cid)]
    for index, duration in enumerate(ACCEPTED_DURATIONS + REFUSED_DURATIONS, 1):
        events.append({**action(cid, index, 0.0, name="slow"), "duration_ms": duration})
    for index, count in enumerate(REFUSED_TOKENS, 100):
        events.append({**tokens(cid, index, 0.0), "total_tokens": count})
    events.append({**tokens(cid, 200, 0.0, prompt=10**9, completion=10**9), "total_tokens": 10**9})
    body = json.dumps(batch(*events)).encode()
    status, answer = await post_batch(c, body)
    assert status == 200, answer
    fields = [r["error"].split(":")[0] for r in answer["rejected"]]
    expected = ["duration_ms"] * len(REFUSED_DURATIONS) + ["total_tokens"] * len(REFUSED_TOKENS)
    assert fields == expected, answer
    await read_everything(c, cid)
    status, figures = await call(c, "GET", "/v1/metrics", params={"customer_id": cid})
    (slow,) = [t for t in figures["tools"] if t["action_name"] == "slow"]
    assert slow["timed"] == len(ACCEPTED_DURATIONS)
    assert figures["token_usage"]["totals"]["prompt_tokens"] == 10**9


def forged_cursors() -> list[str]:
    """Cursors the collector never wrote: out-of-range numbers, other JSON, nesting, junk."""
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    payloads = [
        b'{"b": 9223372036854775808}',
        b'{"b": 1000000000000000000000000000000}',
        b'{"b": -1}',
        b'{"b": 1.5}',
        b'{"b": "1"}',
        b'{"b": true}',
        b'{"b": 01}',
        b'{"b":1}',
        b"[" * 40 + b"]" * 40,
        b'{"b": {"b": {"b": {"b": 1}}}}',
        b"\xff\xfe",
        b"",
    ]
    return [
        *(b64(p) for p in payloads),
        "!!!",
        "eyJiIjogMX0=",  # padded
        "x" * 5000,
        "٣",
        "eyJiIjogMX0\x00",
    ]


async def probe_forged_cursors(c: Collector) -> None:
    """Every forged cursor is a 400 that names the parameter."""
    for cursor in forged_cursors():
        status, answer = await call(c, "GET", "/v1/conversations", params={"cursor": cursor})
        assert status == 400, (cursor[:40], answer)
        assert answer["error"].startswith("cursor: expected"), answer


async def probe_odd_digits(c: Collector) -> None:
    """Any limit but 1 to 500 in ASCII digits is a 400 naming limit: every Unicode digit too."""
    odd = [*ODD_DIGITS, *("1" + d for d in ODD_DIGITS[::7]), "¹⁰", "²"]
    plain = ["9" * 5000, "0", "501", "-1", "+5", " 5", "5 ", "0x10", "1e2", "5.0", "", "00005"]
    for limit in [*odd, *plain]:
        status, answer = await call(c, "GET", "/v1/conversations", params={"limit": limit})
        assert status == 400, (limit, answer)
        assert answer["error"].startswith("limit: expected an integer from 1 to 500"), answer


async def probe_control_characters(c: Collector) -> None:
    """NUL in any text filter is a 400 naming it; other control characters match literally."""
    tag = _tag()
    for name in (*TEXT_FILTERS, "since", "tz", "escalation_actions", "device", "environment"):
        path = "/v1/metrics" if name in ("tz", "escalation_actions") else "/v1/conversations"
        status, answer = await call(c, "GET", path, params={name: f"{tag}\x00x"})
        assert status == 400, (name, answer)
        assert answer["error"].startswith(f"{name}: expected"), answer
        if name in TEXT_FILTERS:  # /v1/metrics takes the same filters but q: 400 either way
            status, answer = await call(c, "GET", "/v1/metrics", params={name: "\x00"})
            assert status == 400, answer
    controls = [chr(n) for n in (*range(1, 32), 127)]
    events = []
    for n, ch in enumerate(controls):
        events += [
            conversation(f"{tag}-{n}", 0, 0.0, customer_id=f"{tag}{ch}", source=f"s{ch}{tag}"),
            message(f"{tag}-{n}", 1, 1.0, content=f"before {tag}{ch}after"),
        ]
    await send(c, *events)
    for n, ch in enumerate(controls):
        for name, value in (
            ("customer_id", f"{tag}{ch}"),
            ("source", f"s{ch}{tag}"),
            ("q", f"{tag}{ch}a"),
        ):
            status, page = await call(c, "GET", "/v1/conversations", params={name: value})
            assert status == 200, page
            found = [x["conversation_id"] for x in page["conversations"]]
            assert found == [f"{tag}-{n}"], (name, repr(ch), found)
        status, figures = await call(c, "GET", "/v1/metrics", params={"customer_id": f"{tag}{ch}"})
        assert (status, figures["totals"]["conversations"]) == (200, 1), figures


async def probe_geo(c: Collector) -> None:
    """Malformed addresses get no country; an IPv4-mapped one gets its IPv4 address's."""
    tag = _tag()
    addresses = {
        "1.2.3": None,
        "01.02.03.04": None,
        "1.2.3.4.5": None,
        "256.1.1.1": None,
        "0x8.8.8.8": None,
        "8.8.8.8/24": None,
        "08.8.8.8": None,
        "8.8.8.8": "US",
        "::ffff:8.8.8.8": "US",
        "::FFFF:8.8.8.8": "US",
        " 8.8.8.8 ": "US",
    }
    events = [
        conversation(f"{tag}-{n}", 0, 0.0, customer_ip_address=address)
        for n, address in enumerate(addresses)
    ]
    await send(c, *events)
    for n, (address, country) in enumerate(addresses.items()):
        _, detail = await call(c, "GET", f"/v1/conversations/{tag}-{n}")
        assert detail["conversation"]["country"] == country, address


async def probe_nosniff_everywhere(c: Collector) -> None:
    """Every answer, whatever its route and status, is strict JSON with nosniff (see ``call``)."""
    cid = _tag()
    await send(c, conversation(cid, 0, 0.0))
    probes: list[tuple[str, str, str | None, dict[str, Any]]] = [
        ("GET", "/v1/health", None, {}),
        ("GET", "/v1/openapi.json", None, {}),
        ("GET", "/v1/conversations", "A", {}),
        ("GET", "/v1/conversations", None, {}),
        ("GET", f"/v1/conversations/{cid}", "A", {}),
        ("GET", "/v1/conversations/nope", "A", {}),
        ("PATCH", f"/v1/conversations/{cid}", "A", {"json": {"name": "n"}}),
        ("POST", f"/v1/conversations/{cid}/feedback", "A", {"json": {"sentiment": "positive"}}),
        ("GET", "/v1/metrics", "A", {}),
        ("GET", "/v1/nowhere", "A", {}),
        ("PUT", "/v1/batch", "A", {}),
        ("POST", "/v1/batch", "A", {"data": b"not json"}),
    ]
    for method, path, project, kwargs in probes:
        status, _ = await call(c, method, path, project, **kwargs)
        assert status < 500


async def probe_management_bombs(c: Collector) -> None:
    """A PATCH or feedback body of more than 100,000 values is 413 and changes nothing."""
    cid = _tag()
    await send(c, conversation(cid, 0, 0.0))
    many = b'{"metadata": {"m": [' + b",".join([b"[]"] * 100_001) + b"]}}"
    for method, path in (("PATCH", ""), ("POST", "/feedback")):
        status, answer = await call(
            c, method, f"/v1/conversations/{cid}{path}", data=many,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert status == 413, answer
    status, detail = await call(c, "GET", f"/v1/conversations/{cid}")
    assert (detail["conversation"]["metadata"], detail["conversation"]["feedback"]) == (None, [])


#: The whole suite, in the order ``test_whole_suite`` runs it.
PROBES: tuple[Probe, ...] = (
    probe_nosniff_everywhere,
    probe_forged_cursors,
    probe_odd_digits,
    probe_control_characters,
    probe_times,
    probe_numbers,
    probe_geo,
    probe_management_bombs,
    probe_value_bombs,
)
