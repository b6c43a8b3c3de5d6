"""``agentsight users``: dashboard users, their passwords and the projects granted to them.

Passwords are asked for twice on a terminal, or read from one line of
standard input otherwise, and hashed here (scrypt) before the database is
opened.  Every change is written to the audit log as ``cli (<login name>)``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ._cli_admin import entry, find_project, require_server, run

__all__ = ["add_user_commands"]


def add_user_commands(commands: Any, command: Any) -> None:
    """Add ``users`` and its actions; *command* adds a subcommand with ``--db``."""
    users = commands.add_parser(
        "users",
        help="dashboard users: create, list, delete, reset passwords, grant projects",
        description="Passwords are read from a prompt, or from standard input (one line)"
        " when it is not a terminal.",
    )
    users_do = users.add_subparsers(dest="action", required=True)
    create = command(users_do, "create", _users_create, help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--role",
        required=True,
        choices=["viewer", "admin"],
        help="viewer: reads the projects granted to it; admin: everything, every project",
    )
    create.add_argument(
        "--project", action="append", default=[], help="a project to grant (repeatable)"
    )
    command(users_do, "list", _users_list, help="list users, roles and granted projects")
    delete = command(users_do, "delete", _users_delete, help="delete a user and its sessions")
    delete.add_argument("--email", required=True)
    password = command(
        users_do, "password", _users_password, help="reset a password (ends its sessions)"
    )
    password.add_argument("--email", required=True)
    for name, action, text in (
        ("grant", _users_grant, "let a viewer open projects"),
        ("ungrant", _users_ungrant, "take projects away from a viewer"),
    ):
        parser = command(users_do, name, action, help=text)
        parser.add_argument("--email", required=True)
        parser.add_argument("--project", action="append", required=True, help="repeatable")


def _password(command: str) -> str:
    """A new password: asked twice on a terminal, else one line of standard input."""
    from ._http._passwords import check_password

    if sys.stdin.isatty():
        first = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != first:
            sys.exit(f"agentsight users {command}: the passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    try:
        return check_password(first)
    except ValueError as exc:
        sys.exit(f"agentsight users {command}: {exc}")


def _email(command: str, text: str) -> str:
    from ._http._passwords import check_email

    try:
        return check_email(text)
    except ValueError as exc:
        sys.exit(f"agentsight users {command}: --{exc}")


async def _user(storage: Any, command: str, email: str) -> Any:
    for user in await storage.list_users():
        if user.email == email:
            return user
    sys.exit(f"agentsight users {command}: --email: no user {email!r} in this database")


def _users_create(args: argparse.Namespace) -> int:
    require_server()
    from ._http._passwords import hash_password

    email = _email("create", args.email)
    hashed = hash_password(_password("create"))

    async def create(storage: Any) -> Any:
        projects = [await find_project(storage, "users create", name) for name in args.project]
        user = await storage.create_user(email, args.role, hashed)
        if user is None:
            sys.exit(
                f"agentsight users create: --email: {email!r} already has an account"
                " (agentsight users password resets its password)"
            )
        await storage.set_grants(user.id, [p.id for p in projects])
        granted = sorted(p.name for p in projects)
        await storage.add_audit(entry("user.create", None, email, role=args.role))
        if granted:
            await storage.add_audit(entry("user.grant", None, email, projects=granted))
        return user

    user = run(args.db, create)
    grants = f", projects {', '.join(args.project)}" if args.project else ""
    print(f"created user {user.id} {user.email} ({user.role}{grants})")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    users = run(args.db, lambda s: s.list_users())
    print(f"{'id':>4}  {'email':<32} {'role':<7} {'created':<27} projects")
    for u in users:
        projects = "(every project)" if u.role == "admin" else ", ".join(u.projects) or "-"
        print(f"{u.id:>4}  {u.email:<32} {u.role:<7} {u.created_at:<27} {projects}")
    return 0


def _users_delete(args: argparse.Namespace) -> int:
    email = _email("delete", args.email)

    async def delete(storage: Any) -> None:
        user = await _user(storage, "delete", email)
        await storage.delete_user(user.id)
        await storage.add_audit(entry("user.delete", None, email))

    run(args.db, delete)
    print(f"deleted user {email} and its sessions")
    return 0


def _users_password(args: argparse.Namespace) -> int:
    require_server()
    from ._http._passwords import hash_password

    email = _email("password", args.email)
    hashed = hash_password(_password("password"))

    async def reset(storage: Any) -> None:
        user = await _user(storage, "password", email)
        await storage.set_password(user.id, hashed)
        await storage.add_audit(entry("user.password", None, email))

    run(args.db, reset)
    print(f"new password set for {email}; its sessions ended")
    return 0


def _change_grants(args: argparse.Namespace, command: str, add: bool) -> int:
    email = _email(command, args.email)

    async def change(storage: Any) -> list[str]:
        user = await _user(storage, command, email)
        named = {(await find_project(storage, f"users {command}", n)).name for n in args.project}
        names = set(user.projects) | named if add else set(user.projects) - named
        ids = [p.id for p in await storage.list_projects() if p.name in names]
        await storage.set_grants(user.id, ids)
        await storage.add_audit(entry("user.grant", None, email, projects=sorted(names)))
        return sorted(names)

    names = run(args.db, change)
    print(f"{email} may open: {', '.join(names) or 'no project'}")
    return 0


def _users_grant(args: argparse.Namespace) -> int:
    return _change_grants(args, "grant", add=True)


def _users_ungrant(args: argparse.Namespace) -> int:
    return _change_grants(args, "ungrant", add=False)
