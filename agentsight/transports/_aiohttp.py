"""The default transport: POST /v1/batch to the collector with one reused aiohttp session."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
import zlib
from typing import Any

import aiohttp

from .. import __version__
from .._wire import SCHEMA_VERSION
from ._base import Batch, Outcome, Rejection, SendResult

__all__ = ["HttpTransport", "parse_retry_after"]

logger = logging.getLogger("agentsight")
_RETRY_STATUSES = frozenset({408, 429})
# What a collector of wire schema 1 answers a newer batch with (docs/wire-schema.md).
_ONLY_VERSION_1 = "schema: expected 1"
_HEAD = f'{{"schema":{SCHEMA_VERSION},'.encode()
_MAX_RETRY_AFTER = 300.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _count(answer: dict[str, Any], name: str) -> int:
    value = answer.get(name)
    if type(value) is not int or value < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {value!r}"[:200])
    return value


def _rejections(answer: dict[str, Any]) -> tuple[Rejection, ...]:
    items = answer.get("rejected", [])
    if type(items) is not list:
        raise ValueError("rejected: expected an array")
    rejections = []
    for item in items:
        index = item.get("index") if type(item) is dict else None
        if type(index) is not int:
            raise ValueError("rejected: expected objects with an integer index")
        rejections.append(
            Rejection(
                index=index,
                id=item.get("id") if isinstance(item.get("id"), str) else None,
                error=str(item.get("error", "rejected"))[:500],
            )
        )
    return tuple(rejections)


def _answer(status: int, text: str) -> SendResult:
    """A 200's answer, read strictly: any doubt is a failed attempt (resending is safe,
    the event ids make it idempotent), never events counted as delivered."""
    try:
        answer = json.loads(text)
        if type(answer) is not dict:
            raise ValueError("expected a JSON object")
        accepted, duplicates = _count(answer, "accepted"), _count(answer, "duplicates")
        rejected = _rejections(answer)
    except (ValueError, RecursionError) as exc:
        return SendResult(Outcome.RETRY, status=status, error=f"unreadable answer ({exc})")
    return SendResult(
        Outcome.DELIVERED,
        accepted=accepted,
        duplicates=duplicates,
        rejected=rejected,
        status=status,
    )


class HttpTransport:
    """Sends batches to an AgentSight collector.

    Args:
        endpoint: the collector's base URL, e.g. ``http://127.0.0.1:8787``.
        api_key: the project's key, sent as ``Authorization: Bearer``.
        timeout: seconds for one request, connection included.
    """

    needs_asyncio = True

    def __init__(self, endpoint: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._url = endpoint.rstrip("/") + "/v1/batch"
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "User-Agent": f"agentsight-python/{__version__}",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._version_1 = False  # the collector refused a batch of a newer schema

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession belongs to the loop it was made in.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=8, enable_cleanup_closed=True),
            )
        return self._session

    async def send(self, batch: Batch) -> SendResult:
        # Rewriting a body means gunzipping it: off the loop.
        body = await asyncio.to_thread(_as_version_1, batch) if self._version_1 else batch.body
        result = await self._post(body, batch.gzipped)
        if result.status == 400 and result.error == _ONLY_VERSION_1 and not self._version_1:
            # A collector older than this SDK: it ignores the fields it does not
            # know (model, steps) and rejects, one by one, the kinds it does not
            # know (scores); everything else is stored.
            logger.warning(
                "the collector at %s takes wire schema 1 only: models, steps and scores"
                " are not stored until it is upgraded",
                self._url,
            )
            self._version_1 = True
            result = await self._post(await asyncio.to_thread(_as_version_1, batch), batch.gzipped)
        return result

    async def _post(self, body: bytes, gzipped: bool) -> SendResult:
        headers = self._headers
        if gzipped:
            headers = {**headers, "Content-Encoding": "gzip"}
        try:
            # Never follow a redirect: the conversations would go to wherever it points.
            async with self._get_session().post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                text = await response.text(errors="replace")
                if 300 <= response.status < 400:
                    return _redirected(response.status, response.headers.get("Location"))
                return self._result(response.status, response.headers.get("Retry-After"), text)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return SendResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}".strip(": "))

    def _result(self, status: int, retry_after: str | None, text: str) -> SendResult:
        if status == 200:
            return _answer(status, text)
        error = _error_text(text) or f"HTTP {status}"
        if status in _RETRY_STATUSES or status >= 500:
            return SendResult(
                Outcome.RETRY,
                status=status,
                retry_after=parse_retry_after(retry_after),
                error=error,
            )
        if status == 401:
            error = f"the collector refused the API key (401): {error}"
        return SendResult(Outcome.FAILED, status=status, error=error)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _as_version_1(batch: Batch) -> bytes:
    """*batch*'s body as a version 1 batch: the same events, ``"schema":1`` in front."""
    body = zlib.decompress(batch.body, 47) if batch.gzipped else batch.body
    if body.startswith(_HEAD):
        body = b'{"schema":1,' + body[len(_HEAD) :]
    if not batch.gzipped:
        return body
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def _redirected(status: int, location: str | None) -> SendResult:
    return SendResult(
        Outcome.FAILED,
        status=status,
        error=f"the collector answered {status} (a redirect to {location or 'nowhere'}); "
        "batches never follow redirects: set the endpoint to the collector's own URL",
    )


def _error_text(text: str) -> str:
    try:
        answer = json.loads(text)
    except ValueError:
        return text[:200]
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, str):
        return error[:500]
    return text[:200]
