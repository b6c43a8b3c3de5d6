"""Running the collector until SIGINT or SIGTERM: what ``agentsight serve`` does."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from ._app import create_app
from ._options import ServerOptions
from ._state import IN_FLIGHT
from .storage import StorageUnavailable, open_storage
from .storage.postgres._storage import redact_url

__all__ = ["LISTENING", "make_runner", "serve"]

log = logging.getLogger("agentsight.server")
#: The one start-up line; tests and scripts parse the address out of it.
LISTENING = "agentsight collector listening on %s (db: %s)"


def _url(address: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_runner(
    app: web.Application, options: ServerOptions, *, shutdown_timeout: float = 30.0
) -> web.AppRunner:
    """The runner of the collector *app*, with the connection settings of *options*.

    Gzip is left to the collector (``auto_decompress`` off, see ``_body``), no
    access log (it would only repeat what the collector logs), and a
    connection that is idle, or still sending its request headers, is closed
    after ``options.idle_timeout`` seconds.
    """
    return web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=shutdown_timeout,
        auto_decompress=False,
        keepalive_timeout=options.idle_timeout,
    )


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set *stop* instead of ending the process."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        yield
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


async def serve(
    db: Path | str,
    host: str,
    port: int,
    options: ServerOptions,
    *,
    shutdown_timeout: float = 30.0,
) -> None:
    """Serve the collector on *host*:*port* over *db* until a signal.

    *db* is a SQLite file (or ``sqlite:///`` URL) or a ``postgresql://`` URL.

    On SIGINT or SIGTERM it stops accepting connections, lets the requests in
    flight finish (for at most *shutdown_timeout* seconds), then closes the
    database.
    """
    stop = asyncio.Event()
    with _signals_set(stop):  # before the start-up line: whoever reads it may signal at once
        await _serve_until(stop, db, host, port, options, shutdown_timeout)
    log.info("agentsight collector stopped")


async def _serve_until(
    stop: asyncio.Event,
    db: Path | str,
    host: str,
    port: int,
    options: ServerOptions,
    shutdown_timeout: float,
) -> None:
    storage = await open_storage(db)
    app = create_app(storage, options=options)
    runner = make_runner(app, options, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        # What start-up built (modules, the app) lives as long as the process:
        # out of the garbage collector's sight, the full collections that a
        # big batch sets off while it is parsed each hold the GIL a third as
        # long (benchmarks/hostile_bodies.py).
        gc.collect()
        gc.freeze()
        urls = ", ".join(_url(a) for a in runner.addresses)
        log.info(LISTENING, urls, redact_url(str(db)))
        if options.redact is not None:
            name = getattr(options.redact, "__qualname__", repr(options.redact))
            log.info("redacting what arrives with %s before it is stored", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        await stop.wait()
        log.info("agentsight collector stopping: finishing requests in flight")
        await site.stop()  # no new connections; open ones keep being read
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(app[IN_FLIGHT].wait_idle(), shutdown_timeout)
    finally:
        await runner.cleanup()


def run(db: Path | str, host: str, port: int, options: ServerOptions) -> int:
    """``asyncio.run(serve(...))`` with an exit status; a port in use is a clean error."""
    try:
        asyncio.run(serve(db, host, port, options))
    except (OSError, StorageUnavailable, RuntimeError) as exc:
        log.error("agentsight collector cannot start: %s", exc)
        return 1
    except KeyboardInterrupt:  # before the signal handlers were installed
        pass
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    return 0
