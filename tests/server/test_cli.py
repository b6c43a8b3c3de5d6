"""The real ``agentsight`` command in a subprocess: keys, serve, SIGTERM, data kept."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import anyio
import pytest
from anyio.abc import Process

from agentsight._keys import is_well_formed
from tests.server.collector_helpers import batch, conversation, message

pytestmark = pytest.mark.anyio
CLI = [sys.executable, "-m", "agentsight._cli"]
LISTENING = re.compile(
    rb"agentsight collector listening on (http://127\.0\.0\.1:(\d+)) \(db: (.+)\)"
)


async def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return await anyio.run_process([*CLI, *args], check=check)


async def _create_key(db: Path, project: str, scope: str = "admin") -> str:
    result = await _cli("keys", "create", "--db", str(db), "--project", project, "--scope", scope)
    key = result.stdout.decode().splitlines()[-1]
    assert is_well_formed(key)
    return key


@asynccontextmanager
async def _serving(db: Path) -> AsyncIterator[tuple[Process, str]]:
    """Start ``agentsight serve --port 0`` and yield it with the URL from its log line."""
    process = await anyio.open_process([*CLI, "serve", "--db", str(db), "--port", "0"])
    try:
        assert process.stderr is not None
        output = b""
        with anyio.fail_after(20):
            while (match := LISTENING.search(output)) is None:
                output += await process.stderr.receive()
        assert match.group(3).decode() == str(db)
        yield process, match.group(1).decode()
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def _accepts_connections(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        stream = await anyio.connect_tcp(host, int(port))
    except OSError:
        return False
    await stream.aclose()
    return True


async def test_keys_create_list_revoke(tmp_path: Path) -> None:
    """keys create prints the key alone on its last line; list shows it redacted; revoke works."""
    db = tmp_path / "keys.db"
    key = await _create_key(db, "shop")
    listing = (await _cli("keys", "list", "--db", str(db))).stdout.decode()
    assert "shop" in listing
    assert key not in listing
    assert key[-6:] in listing
    assert "revoked" not in listing
    await _cli("keys", "revoke", "--db", str(db), key)
    assert "revoked" in (await _cli("keys", "list", "--db", str(db))).stdout.decode()
    again = await _cli("keys", "revoke", "--db", str(db), key, check=False)
    assert again.returncode != 0


async def test_serve_stores_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    """serve on port 0 logs its address; SIGTERM exits 0; the data is there at the next start."""
    db = tmp_path / "served.db"
    key = await _create_key(db, "shop")
    headers = {"Authorization": f"Bearer {key}"}
    body = json.dumps(batch(conversation("c1", 0, 0.0, customer_id="u1"), message("c1", 1, 1.0)))
    async with _serving(db) as (process, url), aiohttp.ClientSession(url) as session:
        async with session.post("/v1/batch", data=body, headers=headers) as response:
            assert response.status == 200
            assert (await response.json())["accepted"] == 2
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    async with _serving(db) as (process, url), aiohttp.ClientSession(url) as session:
        async with session.get("/v1/conversations/c1", headers=headers) as response:
            assert response.status == 200
            assert len((await response.json())["events"]) == 2
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(20):
            assert await process.wait() == 0


async def test_sigterm_finishes_the_batch_in_flight(tmp_path: Path) -> None:
    """A batch still being uploaded when SIGTERM arrives is stored and answered before exit."""
    db = tmp_path / "inflight.db"
    key = await _create_key(db, "shop")
    body = json.dumps(batch(*(message("c1", i, float(i)) for i in range(200)))).encode()
    uploading, signalled = anyio.Event(), anyio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:100]
        uploading.set()
        await signalled.wait()
        yield body[100:]

    async with _serving(db) as (process, url), aiohttp.ClientSession(url) as session:

        async def terminate_mid_upload() -> None:
            await uploading.wait()
            # A round trip on another connection: the server has read the POST's head by now.
            async with aiohttp.ClientSession(url) as other, other.get("/v1/health") as health:
                assert health.status == 200
            process.terminate()
            # Send the rest only once the collector is shutting down (refusing connections).
            while await _accepts_connections(url):  # noqa: ASYNC110
                await anyio.sleep(0.01)  # polling another process: there is no event to wait on
            signalled.set()

        headers = {"Authorization": f"Bearer {key}"}
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(terminate_mid_upload)
                async with session.post("/v1/batch", data=slow_body(), headers=headers) as response:
                    assert response.status == 200
                    assert (await response.json())["accepted"] == 200
            assert await process.wait() == 0


async def test_revoked_key_is_refused_by_running_collector(tmp_path: Path) -> None:
    """A key revoked with the CLI while the collector runs is refused at once."""
    db = tmp_path / "revoke.db"
    key = await _create_key(db, "shop")
    headers = {"Authorization": f"Api-Key {key}"}
    async with _serving(db) as (process, url), aiohttp.ClientSession(url) as session:
        async with session.get("/v1/conversations", headers=headers) as response:
            assert response.status == 200
        await _cli("keys", "revoke", "--db", str(db), key)
        async with session.get("/v1/conversations", headers=headers) as response:
            assert response.status == 401
        process.terminate()
        with anyio.fail_after(20):
            assert await process.wait() == 0


async def test_search_index_enabled_while_the_collector_runs(tmp_path: Path) -> None:
    """search-index enable builds the index of the messages stored while a collector
    runs; its searches then find those and the ones stored after, as after disable."""
    db = tmp_path / "search.db"
    key = await _create_key(db, "shop")
    headers = {"Authorization": f"Bearer {key}"}
    first = batch(
        conversation("c1", 0, 0.0),
        message("c1", 1, 1.0, "Where is my REFUND?"),
        conversation("c2", 0, 2.0),
        message("c2", 1, 3.0, "hello"),
    )
    later = batch(conversation("c3", 0, 4.0), message("c3", 1, 5.0, "refund, please", "agent"))
    status = ("search-index", "status", "--db", str(db))

    async def found(session: aiohttp.ClientSession) -> tuple[list[str], int]:
        params = {"q": "refund", "total": "true"}
        async with session.get("/v1/conversations", params=params, headers=headers) as response:
            assert response.status == 200
            page = await response.json()
        return [c["conversation_id"] for c in page["conversations"]], page["total"]

    async with _serving(db) as (process, url), aiohttp.ClientSession(url) as session:
        async with session.post("/v1/batch", data=json.dumps(first), headers=headers) as response:
            assert response.status == 200
        assert (await _cli(*status)).stdout.decode() == "search index: disabled\n"
        assert await found(session) == (["c1"], 1)
        enabled = await _cli("search-index", "enable", "--db", str(db))
        assert enabled.stdout.decode() == "search index: enabled\n"
        again = await _cli("search-index", "enable", "--db", str(db))
        assert again.stdout.decode() == "search index: enabled (it was enabled already)\n"
        assert (await _cli(*status)).stdout.decode() == "search index: enabled\n"
        async with session.post("/v1/batch", data=json.dumps(later), headers=headers) as response:
            assert response.status == 200
        assert await found(session) == (["c3", "c1"], 2)
        await _cli("search-index", "disable", "--db", str(db))
        assert (await _cli(*status)).stdout.decode() == "search index: disabled\n"
        assert await found(session) == (["c3", "c1"], 2)
        process.terminate()
        with anyio.fail_after(20):
            assert await process.wait() == 0
    audit = (await _cli("audit", "--db", str(db))).stdout.decode()
    assert "search_index.enable" in audit
    assert "search_index.disable" in audit


async def test_importing_the_sdk_does_not_load_the_collector() -> None:
    """import agentsight and the command's entry point leave agentsight.server unloaded."""
    code = (
        "import sys, agentsight, agentsight._cli; "
        "assert 'agentsight.server' not in sys.modules, 'server imported'; "
        "assert 'geoip2fast' not in sys.modules"
    )
    await anyio.run_process([sys.executable, "-c", code])


async def test_help_names_every_command_in_plain_text() -> None:
    """``agentsight --help`` lists every command, migrate and export too, with no rST markup."""
    shown = (await _cli("--help")).stdout.decode()
    commands = ("serve", "keys", "users", "retention", "search-index", "erase", "audit")
    for command in (*commands, "migrate", "export"):
        assert re.search(rf"^\s+{command}\s+\w", shown, re.MULTILINE), command
    assert "``" not in shown
    assert "agentsight COMMAND --help" in shown


async def test_serve_help_describes_it_and_shows_defaults() -> None:
    """``serve --help`` says what serve does and the defaults of --host and --port."""
    shown = " ".join((await _cli("serve", "--help")).stdout.decode().split())
    assert "Run the collector: the /v1 API" in shown
    assert "default 127.0.0.1" in shown
    assert "default 8787" in shown
    assert "``" not in shown


async def test_without_the_server_extra_the_command_names_it() -> None:
    """With aiohttp missing, ``agentsight`` says which extra to install instead of a traceback."""
    hide = "import sys; sys.modules['aiohttp'] = None; from agentsight._cli import main; main([])"
    result = await anyio.run_process([sys.executable, "-c", hide], check=False)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "pip install 'agentsight[server]'" in message
    assert "missing: aiohttp" in message
    assert "Traceback" not in message


async def test_without_opentelemetry_proto_the_command_names_the_extra() -> None:
    """The OTLP intake's decoder is part of the server extra: missing, it is named too."""
    hide = (
        "import sys; sys.modules['opentelemetry'] = None;"
        " from agentsight._cli import main; main([])"
    )
    result = await anyio.run_process([sys.executable, "-c", hide], check=False)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "missing: opentelemetry.proto" in message
    assert "Traceback" not in message
