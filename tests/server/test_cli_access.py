"""The real ``agentsight`` command for issue 17: scoped keys, users, retention, erasure, audit."""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import anyio
import pytest

from agentsight._keys import redact
from tests.server.collector_helpers import batch, conversation, message

pytestmark = pytest.mark.anyio
CLI = [sys.executable, "-m", "agentsight._cli"]
LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
PASSWORD = "a long enough password"


async def _cli(*args: str, stdin: str | None = None, check: bool = True) -> tuple[int, str, str]:
    done = await anyio.run_process(
        [*CLI, *args], input=None if stdin is None else stdin.encode(), check=False
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    if check:
        assert done.returncode == 0, (args, out, err)
    return done.returncode, out, err


async def _key(db: Path, project: str, scope: str) -> str:
    _, out, _ = await _cli("keys", "create", f"--db={db}", "--project", project, "--scope", scope)
    assert f"of scope {scope}" in out
    return out.splitlines()[-1]


@asynccontextmanager
async def _serving(db: Path) -> AsyncIterator[str]:
    """``agentsight serve`` on a free port; stopped with SIGTERM (which writes last use)."""
    process = await anyio.open_process([*CLI, "serve", "--db", str(db), "--port", "0"])
    try:
        assert process.stderr is not None
        output = b""
        with anyio.fail_after(20):
            while (match := LISTENING.search(output)) is None:
                output += await process.stderr.receive()
        yield match.group(1).decode()
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def test_keys_have_scopes_and_are_revoked_by_id_or_redacted_form(tmp_path: Path) -> None:
    """An ingest key only sends; keys list shows scope and last use; revoke by id or redacted."""
    db = tmp_path / "keys.db"
    ingest, read, admin = [await _key(db, "shop", s) for s in ("ingest", "read", "admin")]
    body = json.dumps(batch(conversation("c1", 0, 0.0), message("c1", 1, 1.0)))
    async with _serving(db) as url, aiohttp.ClientSession(url) as session:
        async with session.post(
            "/v1/batch", data=body, headers={"Authorization": f"Bearer {ingest}"}
        ) as response:
            assert response.status == 200
        async with session.get(
            "/v1/conversations/c1", headers={"Authorization": f"Bearer {ingest}"}
        ) as response:
            assert response.status == 403
            error = (await response.json())["error"]
            assert "scope 'ingest'" in error and "POST /v1/batch" in error
            assert "/v1/traces" in error and "/api/" in error  # the official SDKs' writes too
        async with session.get(
            "/v1/conversations/c1", headers={"Authorization": f"Bearer {read}"}
        ) as response:
            assert response.status == 200
    _, listing, _ = await _cli("keys", "list", "--db", str(db))
    rows = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert "scope" in listing.splitlines()[0] and "last used" in listing.splitlines()[0]
    assert rows["1"].split()[2:4] == ["ingest", redact(ingest)]
    assert "never" not in rows["1"] and "never" not in rows["2"]  # written at SIGTERM
    assert "never" in rows["3"] and rows["3"].split()[2] == "admin"
    for key in (ingest, read, admin):
        assert key not in listing

    _, out, _ = await _cli("keys", "revoke", "--db", str(db), "1")
    assert out.strip() == f"revoked key 1 {redact(ingest)}"
    _, out, _ = await _cli("keys", "revoke", "--db", str(db), redact(read))
    assert out.strip() == f"revoked key 2 {redact(read)}"
    typed = redact(admin).replace("…", "...")  # as one types it
    _, out, _ = await _cli("keys", "revoke", "--db", str(db), typed)
    assert "key 3" in out
    code, _, err = await _cli("keys", "revoke", "--db", str(db), "1", check=False)
    assert code != 0 and "no live key 1" in err
    code, _, err = await _cli("keys", "revoke", "--db", str(db), "ags_nonsense", check=False)
    assert code != 0 and "KEY: expected a key id" in err
    _, listing, _ = await _cli("keys", "list", "--db", str(db))
    assert listing.count("revoked") == 3


async def test_keys_create_names_what_is_missing(tmp_path: Path) -> None:
    """Without --scope, or with an unknown one, keys create says which and exits non-zero."""
    db = str(tmp_path / "k.db")
    code, _, err = await _cli("keys", "create", "--db", db, "--project", "p", check=False)
    assert code == 2 and "--scope" in err
    code, _, err = await _cli(
        "keys", "create", "--db", db, "--project", "p", "--scope", "write", check=False
    )
    assert code == 2 and "--scope" in err and "ingest" in err


async def test_users_from_stdin_grants_reset_and_delete(tmp_path: Path) -> None:
    """users create reads the password from stdin; grant, password reset and delete work."""
    db = str(tmp_path / "users.db")
    await _key(tmp_path / "users.db", "shop", "ingest")
    await _key(tmp_path / "users.db", "blog", "ingest")
    _, out, _ = await _cli(
        "users", "create", "--db", db, "--email", "Ana@Example.com", "--role", "viewer",
        "--project", "shop", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert "ana@example.com" in out and "viewer" in out
    code, _, err = await _cli(
        "users", "create", "--db", db, "--email", "ana@example.com", "--role", "admin",
        stdin=PASSWORD, check=False,
    )  # fmt: skip
    assert code != 0 and "already has an account" in err
    code, _, err = await _cli(
        "users", "create", "--db", db, "--email", "bo@example.com", "--role", "viewer",
        stdin="short", check=False,
    )  # fmt: skip
    assert code != 0 and "password: expected 12 to 1024 characters" in err
    code, _, err = await _cli(
        "users", "create", "--db", db, "--email", "not an address", "--role", "viewer",
        stdin=PASSWORD, check=False,
    )  # fmt: skip
    assert code != 0 and "--email: expected an address" in err
    code, _, err = await _cli(
        "users", "grant", "--db", db, "--email", "ana@example.com", "--project", "nope",
        check=False,
    )  # fmt: skip
    assert code != 0 and "no project named 'nope'" in err

    _, out, _ = await _cli(
        "users", "grant", "--db", db, "--email", "ana@example.com", "--project", "blog"
    )
    assert out.strip() == "ana@example.com may open: blog, shop"
    _, out, _ = await _cli(
        "users", "ungrant", "--db", db, "--email", "ana@example.com", "--project", "shop"
    )
    assert out.strip() == "ana@example.com may open: blog"
    _, listing, _ = await _cli("users", "list", "--db", db)
    assert re.search(r"ana@example\.com\s+viewer\s+\S+\s+blog$", listing, re.M), listing

    async with _serving(tmp_path / "users.db") as url, aiohttp.ClientSession(url) as session:
        signed = {"email": "ana@example.com", "password": PASSWORD}
        async with session.post("/v1/session", json=signed) as response:
            assert response.status == 200
            assert (await response.json())["projects"] == ["blog"]
        await _cli(
            "users", "password", "--db", db, "--email", "ana@example.com",
            stdin="the new long password\n",
        )  # fmt: skip
        async with session.post("/v1/session", json=signed) as response:
            assert response.status == 401
        signed["password"] = "the new long password"
        async with session.post("/v1/session", json=signed) as response:
            assert response.status == 200
        await _cli("users", "delete", "--db", db, "--email", "ana@example.com")
        async with session.post("/v1/session", json=signed) as response:
            assert response.status == 401
    _, listing, _ = await _cli("users", "list", "--db", db)
    assert "ana@example.com" not in listing


async def test_retention_erase_and_audit_from_the_command_line(tmp_path: Path) -> None:
    """retention set/show, erase with counts, and the audit log of all of it."""
    db = tmp_path / "admin.db"
    key = await _key(db, "shop", "ingest")
    events = [conversation("c1", 0, 0.0, customer_id="alice"), message("c1", 1, 1.0)]
    events += [conversation("c2", 0, 0.0, customer_id="bob")]
    async with (
        _serving(db) as url,
        aiohttp.ClientSession(url) as session,
        session.post(
            "/v1/batch", data=json.dumps(batch(*events)), headers={"Authorization": f"Bearer {key}"}
        ) as response,
    ):
        assert response.status == 200
    _, out, _ = await _cli("retention", "set", "--db", str(db), "--project", "shop", "--days", "90")
    assert "kept 90 days" in out
    _, out, _ = await _cli("retention", "show", "--db", str(db))
    assert out.strip() == "shop: 90 days"
    code, _, err = await _cli(
        "retention", "set", "--db", str(db), "--project", "shop", "--days", "0", check=False
    )
    assert code == 2 and "--days" in err and "1 to 36500" in err
    await _cli("retention", "set", "--db", str(db), "--project", "shop", "--forever")
    _, out, _ = await _cli("retention", "show", "--db", str(db), "--project", "shop")
    assert out.strip() == "shop: for ever"

    _, out, _ = await _cli("erase", "--db", str(db), "--project", "shop", "--customer-id", "alice")
    assert "2 events" in out and "1 conversations" in out
    code, _, err = await _cli(
        "erase", "--db", str(db), "--project", "nope", "--customer-id", "alice", check=False
    )
    assert code != 0 and "--project: no project named 'nope'" in err

    _, audit, _ = await _cli("audit", "--db", str(db))
    actions = [line.split(": ", 1)[1].split()[0] for line in audit.splitlines()]
    assert actions == ["customer.erase", "retention.set", "retention.set", "key.create"]
    assert all(" cli" in line for line in audit.splitlines())
    assert "alice" not in audit
    _, limited, _ = await _cli("audit", "--db", str(db), "--project", "shop", "--limit", "1")
    assert len(limited.splitlines()) == 1
