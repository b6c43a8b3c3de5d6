"""API keys never reach the logs: a real ``agentsight serve`` at DEBUG, and ``keys list``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest

from agentsight._keys import generate_key, redact
from tests.server.collector_helpers import batch, conversation, message

pytestmark = pytest.mark.anyio
CLI = [sys.executable, "-m", "agentsight._cli"]
LISTENING = re.compile(rb"agentsight collector listening on (http://127\.0\.0\.1:\d+)")


async def _cli(*args: str) -> str:
    with anyio.fail_after(60):
        result = await anyio.run_process([*CLI, *args], stderr=subprocess.STDOUT)
    return result.stdout.decode()


async def _create_key(db: Path, project: str) -> str:
    created = await _cli("keys", "create", "--db", str(db), "--project", project, "--scope=admin")
    return created.splitlines()[-1]


def _secrets(key: str) -> list[str]:
    """The full key and its 32 hex digits of randomness: neither may appear anywhere."""
    return [key, key.split("_")[1]]


def _assert_absent(text: str, keys: list[str]) -> None:
    for key in keys:
        for secret in _secrets(key):
            assert secret not in text, f"{redact(key)} appears in the output"


async def _requests(url: str, keys: dict[str, str]) -> list[int]:
    """Successful, refused and rate-limited calls; the statuses in order."""
    body = batch(conversation("c1", 0, 0.0), message("c1", 1, 1.0))
    calls = [
        ("POST", "/v1/batch", f"Bearer {keys['good']}", body),
        ("GET", "/v1/conversations/c1", f"Api-Key {keys['good']}", None),
        ("GET", "/v1/conversations", f"Bearer {keys['good']}", None),
        ("GET", "/v1/conversations", f"Bearer {keys['good']}", None),  # past the burst: 429
        ("POST", "/v1/batch", f"Bearer {keys['revoked']}", body),
        ("GET", "/v1/conversations", f"Bearer {keys['unknown']}", None),
        ("GET", "/v1/conversations", f"Bearer {keys['good'][:-1]}x", None),  # malformed
        ("GET", f"/v1/conversations?api_key={keys['good']}", None, None),  # limited: 429
        ("GET", "/v1/conversations", f"Bearer {keys['revoked']}", None),  # still limited
    ]
    statuses = []
    async with aiohttp.ClientSession(url) as session:
        for method, path, authorization, json_body in calls:
            headers = {} if authorization is None else {"Authorization": authorization}
            async with session.request(method, path, json=json_body, headers=headers) as response:
                statuses.append(response.status)
    return statuses


async def test_keys_are_never_logged_by_the_collector(tmp_path: Path) -> None:
    """At DEBUG, good, revoked, unknown and malformed keys leave only redacted traces."""
    db = tmp_path / "logs.db"
    keys = {"good": await _create_key(db, "A"), "revoked": await _create_key(db, "A")}
    keys["unknown"] = generate_key()
    revoked = await _cli("keys", "revoke", "--db", str(db), keys["revoked"])
    assert redact(keys["revoked"]) in revoked
    command = [*CLI, "serve", "--db", str(db), "--port", "0", "--log-level", "DEBUG"]
    process = await anyio.open_process([*command, "--rate-limit", "1:3"])
    log = b""
    try:
        assert process.stderr is not None
        with anyio.fail_after(20):
            while (match := LISTENING.search(log)) is None:
                log += await process.stderr.receive()
        statuses = await _requests(match.group(1).decode(), keys)
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            async for chunk in process.stderr:
                log += chunk
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()
    assert statuses == [200, 200, 200, 429, 401, 401, 401, 429, 429]
    text = log.decode(errors="replace")
    assert " DEBUG " in text
    assert f"refused key {redact(keys['revoked'])}" in text  # the refusal was logged, redacted
    _assert_absent(text, list(keys.values()))
    _assert_absent(revoked, list(keys.values()))


async def test_keys_list_shows_only_redacted_keys(tmp_path: Path) -> None:
    """``agentsight keys list`` prints each key's redacted form, never the key or its secret."""
    db = tmp_path / "keys.db"
    keys = [await _create_key(db, project) for project in ("A", "A", "B")]
    await _cli("keys", "revoke", "--db", str(db), keys[1])
    listing = await _cli("keys", "list", "--db", str(db))
    _assert_absent(listing, keys)
    for key in keys:
        assert redact(key) in listing
    assert listing.count("revoked") == 1
