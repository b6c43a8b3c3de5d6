"""The official SDKs' routes, request by request: resends are duplicates, statuses the
SDKs survive, the rate limit waited out by 0.0.44's routes, files kept and deleted with
their conversation, the {detail} errors (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import aiohttp
import anyio
import pytest
import yarl

from agentsight.server import ServerOptions
from agentsight.server._options import RateLimit
from tests.server.access_helpers import add_key
from tests.server.collector_helpers import Collector, run_collector
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio

STAMP = "2026-12-04T13:52:25.662790+00:00"
CONVERSATION = {
    "timestamp": STAMP,
    "conversation_id": "f-support-123",
    "customer_id": "user-456",
    "device": "tablet",  # not ours: absent
    "environment": "prod",  # a raw AGENTSIGHT_ENVIRONMENT
    "name": "x" * 5000,
    "is_used": True,
    "metadata": {},
}
MESSAGE = {
    "timestamp": "2026-12-04T13:52:25.662830+00:00",
    "content": "Hello",
    "sender": "end_user",
    "conversation_id": "f-support-123",
    "metadata": {"channel": "web"},
    "conversation": None,
}


def _headers(collector: Collector, project: str = "A") -> dict[str, str]:
    return {"Authorization": f"Api-Key {collector.keys[project]}"}


async def _post(
    collector: Collector, path: str, body: Any, project: str = "A"
) -> tuple[int, dict[str, Any]]:
    headers = {**_headers(collector, project), "Content-Type": "application/json"}
    # aiohttp warns about large bytes bodies; a BytesIO is sent the same way.
    data = io.BytesIO(json.dumps(body).encode())
    async with collector.session.post(path, data=data, headers=headers) as response:
        return response.status, await response.json()


async def test_resends_are_duplicates_and_answers_are_201_with_ids(collector: Collector) -> None:
    """0.0.44 resends an item byte for byte after a lost answer: stored once, same number."""
    first = await _post(collector, "/api/conversations/", CONVERSATION)
    again = await _post(collector, "/api/conversations/", CONVERSATION)
    assert first == again and first[0] == 201 and first[1]["id"] >= 1
    sent = [await _post(collector, "/api/track/", MESSAGE) for _ in range(3)]
    assert {status for status, _ in sent} == {201}
    assert len({answer["id"] for _, answer in sent}) == 1
    answer = await collector.conversation("f-support-123")
    assert [e["type"] for e in answer["events"]] == ["conversation", "message"]
    conv = answer["conversation"]
    assert (conv["device"], conv["environment"], conv["metadata"]) == (None, "production", None)
    assert len(conv["name"]) == 4096


async def test_files_of_a_message_follow_it_and_go_with_the_conversation(
    collector: Collector,
) -> None:
    """JSON and multipart files are kept, downloadable, tied to their message by its
    number, and deleted with the conversation."""
    _, conv = await _post(collector, "/api/conversations/", CONVERSATION)
    _, message = await _post(collector, "/api/track/", MESSAGE)
    png = b"\x89PNG\r\n\x1a\nfake"
    body = {
        "timestamp": STAMP,
        "attachments": [
            {"filename": "a.png", "mime_type": "image/png", "data": base64.b64encode(png).decode()}
        ],
        "message": message["id"],
        "conversation": "None",
        "conversation_id": "None",
        "sender": "agent",
    }
    status, answer = await _post(collector, "/api/attachments/", body)
    assert (status, answer["message"], answer["conversation"]) == (201, message["id"], conv["id"])
    form = aiohttp.FormData()
    for name, value in [
        ("timestamp", "2026-12-04T13:52:27.000000+00:00"),
        ("conversation", str(conv["id"])),
        ("sender", "agent"),
        ("mode", "form_data"),
        ("metadata", '{"m": 1}'),
    ]:
        form.add_field(name, value)
    form.add_field("attachment_0", b"plain", filename="r.txt", content_type="text/plain")
    async with collector.session.post(
        "/api/attachments/", data=form, headers=_headers(collector)
    ) as response:
        assert response.status == 201, await response.text()
    events = (await collector.conversation("f-support-123"))["events"]
    files = [e for e in events if e["type"] == "attachment"]
    assert [f["files"][0]["filename"] for f in files] == ["a.png", "r.txt"]
    assert files[0]["message_id"] == next(e["id"] for e in events if e["type"] == "message")
    assert files[1]["metadata"] == {"m": 1}
    url = f"/v1/conversations/f-support-123/attachments/{files[0]['id']}/0"
    async with collector.session.get(url, headers=collector.auth()) as response:
        assert (response.status, await response.read()) == (200, png)
        assert response.headers["Content-Disposition"] == 'attachment; filename="a.png"'
    async with collector.session.get(url, headers=collector.auth("B")) as response:
        assert response.status == 404  # another project's key
    status, _ = await collector.call("DELETE", "/v1/conversations/f-support-123")
    assert status == 200
    assert await collector.storage.get_file(1, "f-support-123", files[0]["id"], 0) is None


async def test_a_download_names_its_file_safely(collector: Collector) -> None:
    """A filename with CR/LF is answered without its control characters (not a dropped
    connection); a non-ASCII one as an ASCII fallback plus RFC 5987's UTF-8 form."""
    names = ["evil\r\nSet-Cookie: x=1.txt", 'résumé "final"\\€.txt']
    files = [{"filename": name, "mime_type": "text/plain", "data": "aGk="} for name in names]
    body = {"timestamp": STAMP, "attachments": files, "conversation_id": "f-names"}
    status, _ = await _post(collector, "/api/attachments/", body)
    assert status == 201
    events = (await collector.conversation("f-names"))["events"]
    (attachment,) = [e for e in events if e["type"] == "attachment"]
    headers = []
    for index in range(2):
        url = f"/v1/conversations/f-names/attachments/{attachment['id']}/{index}"
        async with collector.session.get(url, headers=collector.auth()) as response:
            assert (response.status, await response.read()) == (200, b"hi")
            headers.append(response.headers["Content-Disposition"])
            parsed = response.content_disposition
            assert parsed is not None and parsed.filename == names[index].replace("\r\n", "")
    assert headers == [
        'attachment; filename="evilSet-Cookie: x=1.txt"',
        'attachment; filename="resume _final__.txt";'
        " filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%5C%E2%82%AC.txt",
    ]


async def test_a_file_url_quotes_the_conversation_id(collector: Collector) -> None:
    """The official listing's file url carries an id with /, # and ? percent-encoded,
    and downloads the file as given."""
    body = {
        "timestamp": STAMP,
        "attachments": [{"filename": "c.txt", "mime_type": "text/plain", "data": "aGk="}],
        "conversation_id": "chat #1/a?b",
    }
    status, answer = await _post(collector, "/api/attachments/", body)
    assert status == 201
    path = f"/api/conversations/{answer['conversation']}/attachments/"
    async with collector.session.get(path, headers=_headers(collector)) as response:
        (entry,) = (await response.json())["results"]
    event_id = entry["id"].split("/")[0]
    assert entry["url"] == f"/v1/conversations/chat%20%231%2Fa%3Fb/attachments/{event_id}/0"
    url = yarl.URL(entry["url"], encoded=True)
    async with collector.session.get(url, headers=collector.auth()) as response:
        assert (response.status, await response.read()) == (200, b"hi")


async def test_erasure_and_retention_delete_the_files_too(collector: Collector) -> None:
    """Erasing a customer deletes their conversations' files (the trigger on events)."""
    await _post(collector, "/api/conversations/", CONVERSATION)
    body = {
        "timestamp": STAMP,
        "attachments": [{"filename": "b.txt", "mime_type": "text/plain", "data": "aGVsbG8="}],
        "conversation_id": "f-support-123",
    }
    status, _ = await _post(collector, "/api/attachments/", body)
    assert status == 201
    events = (await collector.conversation("f-support-123"))["events"]
    (attachment,) = [e for e in events if e["type"] == "attachment"]
    projects = {p.name: p.id for p in await collector.storage.list_projects()}
    stored = await collector.storage.get_file(projects["A"], "f-support-123", attachment["id"], 0)
    assert stored == b"hello"
    status, answer = await collector.call("POST", "/v1/erasure", json={"customer_id": "user-456"})
    assert status == 200 and answer["conversations"] == 1, answer
    assert (
        await collector.storage.get_file(projects["A"], "f-support-123", attachment["id"], 0)
        is None
    )


async def test_files_of_megabytes_are_kept_whole(collector: Collector) -> None:
    """A 2 MiB file, as base64 JSON and as multipart (parsed off the loop), downloads intact;
    a body over the collector's limit is a 413."""
    data = bytes(range(256)) * (8 * 1024)  # 2 MiB
    body = {
        "timestamp": STAMP,
        "attachments": [
            {
                "filename": "big.bin",
                "mime_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
            }
        ],
        "conversation_id": "big",
    }
    status, answer = await _post(collector, "/api/attachments/", body)
    assert status == 201 and answer["attachments"][0]["size"] == len(data), answer
    form = aiohttp.FormData()
    form.add_field("conversation", str(answer["conversation"]))
    form.add_field("timestamp", "2026-12-04T13:52:27.000000+00:00")
    form.add_field(
        "attachment_0",
        io.BytesIO(data),
        filename="big2.bin",
        content_type="application/octet-stream",
    )
    async with collector.session.post(
        "/api/attachments/", data=form, headers=_headers(collector)
    ) as response:
        assert response.status == 201, await response.text()
    events = (await collector.conversation("big"))["events"]
    for event in (e for e in events if e["type"] == "attachment"):
        url = f"/v1/conversations/big/attachments/{event['id']}/0"
        async with collector.session.get(url, headers=collector.auth()) as response:
            assert await response.read() == data
    huge = {
        **body,
        "attachments": [{"filename": "x", "mime_type": "a/b", "data": "A" * (11 * 1024 * 1024)}],
    }
    status, answer = await _post(collector, "/api/attachments/", huge)
    assert status == 413 and "detail" in answer


async def test_bad_items_answer_400_with_detail_and_unknown_routes_404(
    collector: Collector,
) -> None:
    """What cannot be stored is a 400 naming the field, as {"detail"}; never a 204."""
    status, answer = await _post(collector, "/api/track/", {**MESSAGE, "sender": "robot"})
    assert status == 400 and answer["detail"].startswith("sender:")
    status, answer = await _post(
        collector, "/api/attachments/", {"attachments": [{"data": "%%"}], "conversation_id": "f"}
    )
    assert status == 400 and "base64" in answer["detail"]
    async with collector.session.get("/api/tickets/", headers=_headers(collector)) as response:
        assert response.status == 404 and "detail" in await response.json()
    async with collector.session.get(
        "/api/conversations/lookup/?conversation_id=nope", headers=_headers(collector)
    ) as response:
        assert response.status == 404


async def test_0044_rising_token_totals_store_only_the_increase(collector: Collector) -> None:
    """0.0.44 resends its process's running totals: the conversation's sums follow the
    highest totals reported, not the sum of every report."""
    for index, (prompt, completion, total) in enumerate([(10, 5, 15), (10, 5, 15), (30, 10, 40)]):
        body = {
            "timestamp": f"2026-12-04T13:52:2{index}.000000+00:00",
            "conversation_id": "f-tokens",
            "action_name": "token_usage",
            "metadata": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": total,
            },
        }
        status, _ = await _post(collector, "/api/action_logs/", body)
        assert status == 201
    usage = (await collector.conversation("f-tokens"))["conversation"]["token_usage"]
    sums = [usage[name] for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
    assert sums == [30, 10, 40], usage


async def test_a_doubled_slash_is_served_without_a_redirect(collector: Collector) -> None:
    """An endpoint ending in / gives //api/...: answered in place (a redirect loses the POST)."""
    url = yarl.URL(collector.url).with_path("//api/track/", encoded=True)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, json=MESSAGE, headers=_headers(collector), allow_redirects=False
        ) as response,
    ):
        assert response.status == 201, await response.text()


async def test_014_ingest_resent_is_all_duplicates(collector: Collector) -> None:
    """A batch 0.1.4 resends after a lost answer stores nothing twice; /api/me/ says write."""
    span = {
        "span_id": "a" * 16,
        "trace_id": "b" * 32,
        "parent_span_id": None,
        "kind": "turn",
        "name": "support",
        "started_at": "2026-12-04T13:52:26.862020+00:00",
        "ended_at": "2026-12-04T13:52:27.862020+00:00",
        "status": "ok",
        "attributes": {"agentsight.turn.complete": False},
        "events": [
            {
                "name": "agentsight.message",
                "timestamp": "2026-12-04T13:52:26.862411+00:00",
                "attributes": {
                    "agentsight.message.sender": "end_user",
                    "agentsight.message.content": "Hi",
                    "agentsight.message.metadata": '{"channel": "web"}',
                },
            }
        ],
    }
    body = {
        "sdk": {"name": "agentsight-python", "version": "0.1.4"},
        "conversations": [
            {"conversation_id": "c-014", "device": "watch", "metadata": {"a": 1}, "spans": [span]},
            {"conversation_id": "", "spans": [span]},
        ],
    }
    status, first = await _post(collector, "/api/ingest/", body)
    assert status == 200 and (first["accepted"], first["duplicates"]) == (2, 0), first
    assert [c["index"] for c in first["conversations"]] == [1]  # the empty id: rejected, final
    status, again = await _post(collector, "/api/ingest/", body)
    assert (status, again["accepted"], again["duplicates"]) == (200, 0, 2)
    events = (await collector.conversation("c-014"))["events"]
    assert events[1]["metadata"] == {"channel": "web", "_turn_incomplete": True}
    async with collector.session.get("/api/me/", headers=_headers(collector)) as response:
        assert (await response.json())["role"] == "admin"


async def test_an_ingest_key_replaces_metadata_through_014_ingest(collector: Collector) -> None:
    """0.1.4 sends update_metadata() with its one key: an ingest key's metadata_updated
    span replaces the conversation's metadata (the last write wins; docs/security.md)."""
    key = await add_key(collector.storage, "A", "ingest")
    headers = {"Authorization": f"Api-Key {key}"}
    for metadata, name in [({"a": 1}, "turn"), ({"b": 2}, "metadata_updated")]:
        span: dict[str, Any] = {
            "span_id": f"{name[0]}" * 16,
            "trace_id": "b" * 32,
            "kind": "conversation" if name == "metadata_updated" else "turn",
            "name": name,
            "started_at": STAMP,
            "ended_at": STAMP,
            "status": "ok",
            "attributes": {},
            "events": [],
        }
        block = {"conversation_id": "c-meta", "metadata": metadata, "spans": [span]}
        body = {"conversations": [block]}
        async with collector.session.post("/api/ingest/", json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
    conversation = (await collector.conversation("c-meta"))["conversation"]
    assert conversation["metadata"] == {"b": 2}


async def test_0044_routes_wait_out_the_rate_limit(database: Database) -> None:
    """Past --rate-limit, 0.0.44's routes answer late but 201 (it never retries a 429);
    0.1.4's ingest, which retries, gets the 429."""
    options = ServerOptions(rate_limit=RateLimit(5.0, burst=1))
    async with run_collector(database("limited"), options) as collector:
        with anyio.fail_after(30):
            statuses = []
            for index in range(4):
                body = {**MESSAGE, "timestamp": f"2026-12-04T13:52:2{index}.000000+00:00"}
                statuses.append((await _post(collector, "/api/track/", body))[0])
            assert statuses == [201] * 4
            answers = [
                await _post(collector, "/api/ingest/", {"conversations": []}) for _ in range(3)
            ]
            assert 429 in [status for status, _ in answers]
        # Read from storage: the key's bucket is empty now.
        projects = {p.name: p.id for p in await collector.storage.list_projects()}
        events = await collector.storage.list_events(projects["A"], "f-support-123")
        assert [e["content"] for e in events] == ["Hello"] * 4
