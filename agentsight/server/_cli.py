"""The ``agentsight`` command: ``serve`` the collector, ``migrate`` and ``export`` data.

Keys, users, retention, erasure and the audit log are in ``_cli_admin``.

The collector lives behind the ``server`` extra and is imported only inside
the subcommands, so this module (and ``import agentsight``) never loads it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._cli_admin import add_admin_commands
from ._cli_admin import require_server as _require_server

__all__ = ["main"]

#: Environment variables: the fallback for each flag of ``agentsight serve``.
ENV_DATABASE_URL = "AGENTSIGHT_DATABASE_URL"  # postgresql://... (wins over AGENTSIGHT_DB)
ENV_DB = "AGENTSIGHT_DB"  # database file, default ./agentsight.db
ENV_HOST = "AGENTSIGHT_HOST"  # listen address, default 127.0.0.1
ENV_PORT = "AGENTSIGHT_PORT"  # listen port, default 8787
ENV_STORE_RAW_IP = "AGENTSIGHT_STORE_RAW_IP"  # "1"/"true" keeps raw IPs, default off
ENV_RATE_LIMIT = "AGENTSIGHT_RATE_LIMIT"  # requests/s per key, RATE or RATE:BURST; default off
ENV_TRUSTED_PROXIES = "AGENTSIGHT_TRUSTED_PROXIES"  # comma-separated networks; default none
ENV_BODY_TIMEOUT = "AGENTSIGHT_BODY_TIMEOUT"  # seconds to receive a body, default 60
ENV_REDACT = "AGENTSIGHT_REDACT"  # pii or off, default off (the SDK reads it too)
ENV_PRICES = "AGENTSIGHT_PRICES"  # a TOML file of model prices


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return int(text)


def _rate_limit(text: str) -> tuple[float, int | None]:
    rate, _, burst = text.partition(":")
    try:
        per_second, size = float(rate), (int(burst) if burst else None)
    except ValueError:
        per_second, size = 0.0, None
    if not 0 < per_second < float("inf") or (size is not None and size < 1):
        raise argparse.ArgumentTypeError(f"expected RATE or RATE:BURST such as 20:40, got {text!r}")
    return per_second, size


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an address or network, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _add_limit_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=os.environ.get(ENV_RATE_LIMIT) or None,
        metavar="RATE[:BURST]",
        help="requests per second per API key, burst default RATE; past it 429 with "
        f"Retry-After (env {ENV_RATE_LIMIT}, default no limit)",
    )
    serve.add_argument(
        "--trusted-proxy",
        type=_network,
        action="append",
        metavar="NETWORK",
        help="a reverse proxy whose X-Forwarded-For is believed; repeatable "
        f"(env {ENV_TRUSTED_PROXIES}, comma-separated; default none)",
    )
    serve.add_argument(
        "--body-timeout",
        type=_seconds,
        default=os.environ.get(ENV_BODY_TIMEOUT, "60"),
        metavar="SECONDS",
        help="seconds a request body may take to arrive, then 408"
        f" (env {ENV_BODY_TIMEOUT}, default 60)",
    )


def _limit_options(args: argparse.Namespace) -> dict[str, Any]:
    from . import RateLimit

    proxies = args.trusted_proxy
    if proxies is None:
        env = os.environ.get(ENV_TRUSTED_PROXIES, "")
        try:
            proxies = [_network(n) for n in env.split(",") if n.strip()]
        except argparse.ArgumentTypeError as exc:
            sys.exit(f"agentsight serve: {ENV_TRUSTED_PROXIES}: {exc}")
    rate = None
    if args.rate_limit is not None:
        per_second, burst = args.rate_limit
        rate = RateLimit(per_second) if burst is None else RateLimit(per_second, burst)
    return {"rate_limit": rate, "trusted_proxies": proxies, "body_timeout": args.body_timeout}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentsight",
        description="The AgentSight collector and its administration: serve it, manage its"
        " keys, users and retention, erase a customer, read the audit log, migrate SQLite"
        " into PostgreSQL and export conversations.",
        epilog="Run 'agentsight COMMAND --help' for the options of one command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db_help = (
        f"SQLite database file or postgresql:// URL (env {ENV_DATABASE_URL} or {ENV_DB},"
        " default ./agentsight.db)"
    )
    default_db = os.environ.get(ENV_DATABASE_URL) or os.environ.get(ENV_DB, "agentsight.db")

    serve = commands.add_parser(
        "serve",
        help="run the collector",
        description="Run the collector: the /v1 API the SDKs send to, the queries and metrics"
        " behind it, and the dashboard at /dashboard.  It stores into a SQLite file, or into"
        " PostgreSQL when --db is a postgresql:// URL, and stops cleanly on Ctrl-C or SIGTERM,"
        " finishing the requests under way.  Each flag falls back to the environment"
        " variable named in its help.",
    )
    serve.add_argument("--db", default=default_db, help=db_help)
    serve.add_argument(
        "--host",
        default=os.environ.get(ENV_HOST, "127.0.0.1"),
        help=f"listen address (env {ENV_HOST}, default 127.0.0.1: this machine only;"
        " 0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=os.environ.get(ENV_PORT, "8787"),
        help=f"listen port, 0 for any free one (env {ENV_PORT}, default 8787)",
    )
    serve.add_argument(
        "--redact",
        metavar="pii|off",
        default=os.environ.get(ENV_REDACT) or "off",
        help="pii: replace e-mail addresses, phone numbers, card numbers and IBANs in what"
        " arrives before it is stored, as agentsight.redact.pii does in the SDK"
        f" (env {ENV_REDACT}, default off)",
    )
    serve.add_argument(
        "--prices",
        metavar="FILE",
        default=os.environ.get(ENV_PRICES),
        help="a TOML file of model prices (USD per million tokens) that win over the"
        f" genai-prices package's, for negotiated or self-hosted models (env {ENV_PRICES})",
    )
    serve.add_argument(
        "--store-raw-ip",
        action="store_true",
        default=_env_flag(ENV_STORE_RAW_IP),
        help=f"keep customer IP addresses, not only their country (env {ENV_STORE_RAW_IP})",
    )
    _add_limit_flags(serve)
    serve.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the least severe log records written to stderr (default INFO)",
    )
    serve.set_defaults(run=_serve)

    add_admin_commands(commands, default_db, db_help)
    _add_migrate(commands)
    _add_export(commands, default_db, db_help)
    return parser


def _add_migrate(commands: Any) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="copy a SQLite database into PostgreSQL (resumable)",
        description="Copy projects, keys, conversations, events and feedback from a SQLite"
        " database into an empty PostgreSQL one.  Interrupted, it resumes where it stopped"
        " when run again; at the end it compares the row counts.",
    )
    migrate.add_argument(
        "--db",
        default=os.environ.get(ENV_DATABASE_URL),
        help=f"the PostgreSQL URL, postgresql://user:password@host/db (env {ENV_DATABASE_URL})",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        default=os.environ.get(ENV_DB, "agentsight.db"),
        help=f"the SQLite database file (env {ENV_DB}, default ./agentsight.db)",
    )
    migrate.add_argument("--chunk-rows", type=int, default=5000, help=argparse.SUPPRESS)
    migrate.set_defaults(run=_migrate)


def _redact(name: str) -> Any:
    """The function of ``--redact`` (or ``AGENTSIGHT_REDACT``): None for off."""
    if name.strip().lower() == "off":
        return None
    if name.strip().lower() != "pii":
        sys.exit(f"agentsight serve: --redact ({ENV_REDACT}): expected pii or off, got {name!r}")
    from ..redact import pii

    return pii


def _serve(args: argparse.Namespace) -> int:
    _require_server()
    from . import ServerOptions
    from ._run import run

    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    db = args.db if "://" in args.db else Path(args.db)
    from ._ingest._prices import PricesFileError, load_prices

    try:
        load_prices(args.prices)  # a wrong file stops the start, with its line
    except PricesFileError as exc:
        sys.exit(f"agentsight serve: {exc}")
    options = ServerOptions(
        store_raw_ip=args.store_raw_ip,
        redact=_redact(args.redact),
        prices=args.prices,
        **_limit_options(args),
    )
    return run(db, args.host, args.port, options)


def _migrate(args: argparse.Namespace) -> int:
    _require_server()
    if not args.db or not args.db.startswith(("postgres://", "postgresql://")):
        sys.exit(f"agentsight migrate: --db: expected a postgresql:// URL, got {args.db!r}")
    source = Path(args.source)
    if not source.is_file():
        sys.exit(f"agentsight migrate: --from: no SQLite database at {source}")
    from .storage import StorageUnavailable
    from .storage.postgres._import import ImportError_, migrate_sqlite
    from .storage.postgres._storage import redact_url

    bar = _ProgressBar(sys.stdout)
    try:
        counts = asyncio.run(
            migrate_sqlite(source, args.db, chunk_rows=args.chunk_rows, on_progress=bar)
        )
    except (ImportError_, StorageUnavailable, RuntimeError) as exc:
        bar.end()
        sys.exit(f"agentsight migrate: {exc}")
    bar.end()
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"copied {source} into {redact_url(args.db)}: {summary}; counts verified", flush=True)
    return 0


class _ProgressBar:
    """A bar redrawn in place on a terminal; a line per tenth (and per table) otherwise."""

    def __init__(self, stream: Any, width: int = 30) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._width = width
        self._shown = (-1, "")
        self._drawn = False

    def __call__(self, progress: Any) -> None:
        if progress.resumed and not self._drawn:
            self._stream.write(f"resuming: {progress.resumed:,} rows already copied\n")
        total = max(progress.total, 1)
        tenth = progress.done * 10 // total
        text = (
            f"{progress.table:<13} {progress.done * 100 // total:3d}%"
            f"  {progress.done:,}/{progress.total:,} rows"
        )
        if self._tty:
            filled = progress.done * self._width // total
            bar = "#" * filled + "-" * (self._width - filled)
            self._stream.write(f"\r[{bar}] {text}")
        elif (tenth, progress.table) != self._shown:
            self._stream.write(f"{text}\n")
        self._shown = (tenth, progress.table)
        self._drawn = True
        self._stream.flush()

    def end(self) -> None:
        if self._tty and self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def _add_export(commands: Any, default_db: str, db_help: str) -> None:
    export = commands.add_parser(
        "export",
        help="write conversations and events as JSON Lines or CSV",
        description="Write a project's conversations (newest first) with their events: JSON"
        " Lines, one conversation per line, or CSV, one event per row.  A progress bar is"
        " drawn on stderr when it is a terminal.",
    )
    export.add_argument("--db", default=default_db, help=db_help)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--project", help="only this project (default: every project)")
    export.add_argument(
        "--since", help="only conversations started at or after: 2026-11-01 or an RFC 3339 time"
    )
    export.add_argument(
        "--until",
        help="only conversations started before: 2026-12-01 (that day excluded) or an RFC 3339"
        " time",
    )
    export.add_argument(
        "--environment", help="only conversations of this environment, such as production"
    )
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(run=_export)


def _time_flag(flag: str, text: str | None) -> int | None:
    """Microseconds for a ``--since``/``--until`` value: a date (midnight UTC) or RFC 3339."""
    from ._ingest._time import parse_ts

    if text is None:
        return None
    moment = parse_ts(text + ("T00:00:00Z" if len(text) == 10 else ""))
    if moment is None:
        sys.exit(
            f"agentsight export: {flag}: expected a date such as 2026-11-01 or an RFC 3339 time,"
            f" got {text!r}"
        )
    return moment


def _export(args: argparse.Namespace) -> int:
    _require_server()
    from ._export import ExportError, ExportFilter

    if "://" not in args.db and not Path(args.db).is_file():
        sys.exit(f"agentsight export: --db: no database at {args.db}")
    only = ExportFilter(
        since=_time_flag("--since", args.since),
        until=_time_flag("--until", args.until),
        environment=args.environment,
    )
    if only.since is not None and only.until is not None and only.until <= only.since:
        sys.exit("agentsight export: --until: expected a time after --since")
    try:
        if args.output in (None, "-"):
            written = asyncio.run(_run_export(args, sys.stdout, only))
            sys.stdout.flush()  # a reader that went away shows here, not at exit
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                written = asyncio.run(_run_export(args, out, only))
    except ExportError as exc:
        sys.exit(f"agentsight export: {exc}")
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as cat would.  Python
        # flushes stdout once more at exit, so point it at /dev/null first
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # the status of a process ended by SIGPIPE
    print(f"exported {written:,} conversations", file=sys.stderr, flush=True)
    return 0


async def _run_export(args: argparse.Namespace, out: Any, only: Any) -> int:
    from . import open_storage
    from ._export import export

    storage = await open_storage(args.db)
    bar = _ExportBar(sys.stderr)
    try:
        done = await export(
            storage, out, fmt=args.format, project=args.project, only=only, on_progress=bar
        )
    finally:
        bar.end()
        await storage.aclose()
    return done.done


class _ExportBar:
    """A bar redrawn in place on a terminal, and nothing at all otherwise."""

    def __init__(self, stream: Any, width: int = 30) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._width = width
        self._drawn = -1

    def __call__(self, progress: Any) -> None:
        total = max(progress.total, 1)
        percent = min(100, progress.done * 100 // total)
        if not self._tty or (percent == self._drawn and progress.done != progress.total):
            return
        filled = self._width * percent // 100
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(
            f"\r[{bar}] {percent:3d}%  {progress.done:,}/{progress.total:,} conversations"
        )
        self._stream.flush()
        self._drawn = percent

    def end(self) -> None:
        if self._tty and self._drawn >= 0:
            self._stream.write("\n")
            self._stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentsight`` command with *argv* (default: ``sys.argv[1:]``)."""
    args = _parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
