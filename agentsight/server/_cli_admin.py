"""The ``agentsight`` commands that administer a collector database directly.

``keys`` (create with a scope, list, revoke by id or redacted form),
``users`` (dashboard users and the projects granted to them, in
``_cli_users``), ``retention``, ``search-index`` (the list's text
search), ``erase`` (one customer, GDPR article 17) and ``audit``.  Each opens the
database (migrating it when needed), does one thing, and writes what it
changed to the audit log as ``cli (<login name>)``.  The collector is
imported inside the commands only, so ``import agentsight`` never loads it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.util
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["add_admin_commands", "entry", "find_project", "require_server", "run", "with_storage"]

T = TypeVar("T")
_EXTRA_HINT = "the collector needs the server extra: pip install 'agentsight[server]'"
# The redacted form keys list prints (ags_…_abc123), also typed with three dots.
_REDACTED = re.compile(r"ags_(?:…|\.\.\.)_([0-9a-f]{6})")
_SCOPE_HELP = (
    "ingest: sending only (POST /v1/batch, /v1/traces and the official SDKs' /api/ writes;"
    " for bots, apps and SDKs: safe to embed);"
    " read: the GET routes; admin: everything in the project"
)


def require_server() -> None:
    """Exit with the extra to install when the collector's dependencies are missing."""
    missing = [m for m in ("aiohttp", "geoip2fast") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"agentsight: {_EXTRA_HINT} (missing: {', '.join(missing)})")


async def with_storage(db: str, action: Callable[[Any], Awaitable[T]]) -> T:
    """Open the storage at *db*, run *action* on it, close it."""
    from . import open_storage

    storage = await open_storage(db)
    try:
        return await action(storage)
    finally:
        await storage.aclose()


def run(db: str, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run *action* on the storage at *db* (the server extra is needed)."""
    require_server()
    return asyncio.run(with_storage(db, action))


def _actor() -> str:
    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def entry(action: str, project_id: int | None, target: str | None, **details: Any) -> Any:
    """An audit entry of the command line."""
    from .storage import AuditEntry

    return AuditEntry(_actor(), action, project_id, target, details or None)


async def find_project(storage: Any, command: str, name: str) -> Any:
    """The project named *name*, or exit naming ``--project``."""
    for project in await storage.list_projects():
        if project.name == name:
            return project
    sys.exit(f"agentsight {command}: --project: no project named {name!r} in this database")


def add_admin_commands(commands: Any, default_db: str, db_help: str) -> None:
    """Add ``keys``, ``users``, ``retention``, ``search-index``, ``erase`` and ``audit``
    to the subcommands."""

    def command(parent: Any, name: str, run: Callable[[argparse.Namespace], int], **kw: Any) -> Any:
        parser = parent.add_parser(name, **kw)
        parser.add_argument("--db", default=default_db, help=db_help)
        parser.set_defaults(run=run)
        return parser

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    keys_do = keys.add_subparsers(dest="action", required=True)
    create = command(
        keys_do, "create", _keys_create, help="create a key; it is printed once, on the last line"
    )
    create.add_argument("--project", required=True, help="project name (created when new)")
    create.add_argument(
        "--scope", required=True, choices=["ingest", "read", "admin"], help=_SCOPE_HELP
    )
    command(keys_do, "list", _keys_list, help="list keys: id, scope, redacted key, last use")
    revoke = command(keys_do, "revoke", _keys_revoke, help="revoke a key")
    revoke.add_argument("key", help="the key's id, its redacted form (ags_…_abc123), or the key")

    from ._cli_users import add_user_commands  # it imports this module's helpers

    add_user_commands(commands, command)

    retention = commands.add_parser("retention", help="how long conversations are kept")
    retention_do = retention.add_subparsers(dest="action", required=True)
    show = command(retention_do, "show", _retention_show, help="each project's retention")
    show.add_argument("--project", help="only this project")
    set_ = command(
        retention_do,
        "set",
        _retention_set,
        help="keep a project's conversations DAYS after their last event (the collector"
        " deletes older ones in the background)",
    )
    set_.add_argument("--project", required=True)
    period = set_.add_mutually_exclusive_group(required=True)
    period.add_argument("--days", type=_days, help="days, 1 to 36500")
    period.add_argument("--forever", action="store_true", help="keep everything (the default)")

    erase = command(
        commands,
        "erase",
        _erase,
        help="delete every conversation, event and feedback of one customer (GDPR art. 17)",
    )
    erase.add_argument("--project", required=True)
    erase.add_argument("--customer-id", required=True, help="the customer_id the SDK tracked")

    search = commands.add_parser(
        "search-index", help="the index that makes the list's text search fast (optional)"
    )
    search_do = search.add_subparsers(dest="action", required=True)
    command(search_do, "status", _search_status, help="whether the database has it")
    command(
        search_do,
        "enable",
        _search_enable,
        help="build it (minutes at millions of messages; every message stored afterwards"
        " costs more to write: see docs/performance.md)",
    )
    command(search_do, "disable", _search_disable, help="drop it")

    audit = command(commands, "audit", _audit, help="show the audit log, newest first")
    audit.add_argument("--project", help="only this project's entries")
    audit.add_argument("--limit", type=_positive, default=50, help="entries to show (default 50)")


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 36_500:
        raise argparse.ArgumentTypeError(f"expected a number of days from 1 to 36500, got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 100000, got {text!r}")
    return int(text)


# --- keys ---------------------------------------------------------------------------


def _keys_create(args: argparse.Namespace) -> int:
    from .._keys import generate_key, hash_key, redact

    if not args.project.strip():
        sys.exit("agentsight keys create: --project must not be empty")
    key = generate_key()

    async def create(storage: Any) -> Any:
        info = await storage.create_key(args.project, hash_key(key), redact(key), scope=args.scope)
        project = await find_project(storage, "keys create", args.project)
        await storage.add_audit(
            entry("key.create", project.id, f"key {info.id} {info.redacted}", scope=args.scope)
        )
        return info

    info = run(args.db, create)
    print(f"created key {info.id} of scope {info.scope} for project {info.project!r} in {args.db}")
    print("store it now: it is shown only this once")
    print(key, flush=True)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    keys = run(args.db, lambda s: s.list_keys())
    print(
        f"{'id':>4}  {'project':<20} {'scope':<6} {'key':<14} {'created':<27}"
        f" {'last used':<27} status"
    )
    for k in keys:
        status = "live" if k.revoked_at is None else f"revoked {k.revoked_at}"
        print(
            f"{k.id:>4}  {k.project:<20} {k.scope:<6} {k.redacted:<14} {k.created_at:<27}"
            f" {k.last_used_at or 'never':<27} {status}"
        )
    return 0


async def _which_key(storage: Any, text: str, db: str) -> Any:
    """The live key *text* names: an id, a redacted form, or the key itself; else exit."""
    from .._keys import hash_key, is_well_formed, problem, redact

    live = [k for k in await storage.list_keys() if k.revoked_at is None]
    if text.isdigit():
        found = [k for k in live if k.id == int(text)]
    elif (match := _REDACTED.fullmatch(text)) is not None:
        found = [k for k in live if k.redacted.endswith("_" + match.group(1))]
    elif is_well_formed(text):
        key = await storage.find_key(hash_key(text))
        found = [k for k in live if key is not None and k.id == key.id]
        text = redact(text)  # never echo a secret
    elif text.startswith("ags_") and (wrong := problem(text)) is not None and "checksum" in wrong:
        sys.exit(f"agentsight keys revoke: KEY: {wrong}")
    else:
        sys.exit(
            "agentsight keys revoke: KEY: expected a key id (see keys list), a redacted key"
            f" such as ags_…_abc123, or a key ags_<32 hex>_<6 hex>; got {text[:40]!r}"
        )
    if not found:
        sys.exit(f"agentsight keys revoke: no live key {text} in {db}")
    if len(found) > 1:
        ids = ", ".join(str(k.id) for k in found)
        sys.exit(f"agentsight keys revoke: {text} names live keys {ids}: give the id")
    return found[0]


def _keys_revoke(args: argparse.Namespace) -> int:
    async def revoke(storage: Any) -> str:
        key = await _which_key(storage, args.key, args.db)
        await storage.revoke_key_id(key.id)
        project = await find_project(storage, "keys revoke", key.project)
        target = f"key {key.id} {key.redacted}"
        await storage.add_audit(entry("key.revoke", project.id, target, scope=key.scope))
        return target

    print(f"revoked {run(args.db, revoke)}")
    return 0


# --- retention, erasure, audit ----------------------------------------------------------


def _retention_show(args: argparse.Namespace) -> int:
    projects = run(args.db, lambda s: s.list_projects())
    shown = [p for p in projects if args.project in (None, p.name)]
    if args.project is not None and not shown:
        sys.exit(f"agentsight retention show: --project: no project named {args.project!r}")
    for project in shown:
        days = "for ever" if project.retention_days is None else f"{project.retention_days} days"
        print(f"{project.name}: {days}")
    return 0


def _retention_set(args: argparse.Namespace) -> int:
    days = None if args.forever else args.days

    async def set_(storage: Any) -> None:
        project = await find_project(storage, "retention set", args.project)
        await storage.set_retention(project.id, days)
        await storage.add_audit(
            entry("retention.set", project.id, None, days=days, was=project.retention_days)
        )

    run(args.db, set_)
    kept = "for ever" if days is None else f"{days} days after their last event"
    print(f"project {args.project!r}: conversations are kept {kept}")
    if days is not None:
        print("a running collector deletes older ones within its retention interval (5 min)")
    return 0


def _search_status(args: argparse.Namespace) -> int:
    enabled = run(args.db, lambda s: s.search_index())
    print("search index: enabled" if enabled else "search index: disabled")
    return 0


def _search_set(args: argparse.Namespace, enabled: bool) -> int:
    async def set_(storage: Any) -> bool:
        try:
            changed = bool(await storage.set_search_index(enabled))
        except RuntimeError as error:
            sys.exit(f"agentsight search-index {args.action}: {error}")
        if changed:
            await storage.add_audit(entry(f"search_index.{args.action}", None, None))
        return changed

    changed = run(args.db, set_)
    state = "enabled" if enabled else "disabled"
    print(f"search index: {state}" + ("" if changed else f" (it was {state} already)"))
    return 0


def _search_enable(args: argparse.Namespace) -> int:
    return _search_set(args, True)


def _search_disable(args: argparse.Namespace) -> int:
    return _search_set(args, False)


def _erase(args: argparse.Namespace) -> int:
    if not 1 <= len(args.customer_id) <= 256 or "\x00" in args.customer_id:
        sys.exit("agentsight erase: --customer-id: expected 1 to 256 characters")

    async def erase(storage: Any) -> Any:
        from ._retention import erase_customer
        from ._views._admin import customer_reference

        project = await find_project(storage, "erase", args.project)
        done = await erase_customer(storage, project.id, args.customer_id)
        target = customer_reference(args.customer_id)
        await storage.add_audit(entry("customer.erase", project.id, target, **done.as_dict()))
        return done

    done = run(args.db, erase)
    print(
        f"erased customer {args.customer_id!r} of project {args.project!r}:"
        f" {done.conversations} conversations, {done.events} events, {done.feedback} feedback"
    )
    return 0


def _audit(args: argparse.Namespace) -> int:
    async def read(storage: Any) -> list[dict[str, Any]]:
        project_id = None
        if args.project is not None:
            project_id = (await find_project(storage, "audit", args.project)).id
        entries: list[dict[str, Any]] = await storage.list_audit(project_id, args.limit)
        return entries

    for entry in run(args.db, read):
        where = f" from {entry['address']}" if entry["address"] else ""
        details = "" if entry["details"] is None else " " + _details(entry["details"])
        project = f" [{entry['project']}]" if entry["project"] else ""
        target = f" {entry['target']}" if entry["target"] else ""
        what = f"{entry['action']}{project}{target}{details}"
        print(f"{entry['at']}  {entry['actor']}{where}: {what}")
    return 0


def _details(details: dict[str, Any]) -> str:
    def text(value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)

    return " ".join(f"{k}={text(v)}" for k, v in details.items())
