"""``ConversationTracker``: the tracking calls, and the module-level ``conversation_tracker``.

A tracking call checks its arguments, resolves the conversation from the
context, builds one small event (timestamp and ``seq`` taken here) and puts
it on the buffer of the tracker's engine.  It never waits for the network.
Called plainly it has done its work when it returns; awaited, it is the same
(it returns a completed awaitable), except when the buffer is full or far
behind: then an awaited call waits for room, while a plain call spools or
drops the event and counts it (see ``_buffer``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import _legacy
from . import _validate as check
from ._buffer import BEHIND, CLOSED, DONE, TAKEN, Both, Buffer, CatchUp, Intake, Overflow, Put
from ._buffer import wait_caught_up_blocking as _wait_caught_up
from ._config import TrackerConfig, resolve_config
from ._context import ConversationBlock, ConversationState, Registry, new_context_var
from ._engine import ReportHandle
from ._events import Event, give_id, items
from ._lifecycle import Lifecycle, on_fork
from ._loops import running_backend
from ._steps import current_step, new_step_id
from ._wire import CONVERSATION_FIELDS, LONG, SHORT
from .exceptions import ValidationError
from .helpers import generate_conversation_id

if TYPE_CHECKING:
    from ._action import Action
    from ._redact import Redactor
    from ._stats import TrackerStats
    from .enums import AttachmentMode
    from .transports._base import Transport

# The machinery of the background (anyio, aiohttp, attrs, the service) is imported
# when a tracker starts, not by `import agentsight`: it costs more to import than
# everything else in the package, and a process that never tracks should not pay.

logger = logging.getLogger("agentsight")

__all__ = ["ConversationTracker", "ReportHandle", "conversation_tracker"]

_now_ns = time.time_ns
_get_ident = threading.get_ident
_TOKENS_LOCK = threading.Lock()


def _step_ids(step_id: object, parent_id: object) -> tuple[str, str | None]:
    """A step's (id, parent id): the given ones, else a new id and the block open here."""
    step = new_step_id() if step_id is None else check.required_text("step_id", step_id, SHORT)
    if parent_id is None:
        return step, current_step()
    return step, check.required_text("parent_id", parent_id, SHORT)


# A message longer than max_message_length + this is cut before redaction (the
# function need not read what would be cut anyway), and this much more after it:
# the cut may have split an address or a number, leaving a piece no rule knows.
# 256 covers the longest e-mail address (254 characters).
_REDACT_MARGIN = 256


def _attributes(arguments: dict[str, Any]) -> dict[str, Any]:
    """The conversation attributes among a call's arguments (``locals()``)."""
    return {name: arguments[name] for name in CONVERSATION_FIELDS}


class ConversationTracker:
    """Tracks conversations and delivers them to the AgentSight collector.

    Use it under ``async with`` in async applications (the background task
    then runs in your loop), or call it plainly from sync code (it then runs
    on a daemon thread of its own, drained at exit).  Settings come from the
    keyword arguments, then the ``AGENTSIGHT_*`` environment variables, then
    the defaults listed in the README.

    Args:
        api_key: the collector project's key (``AGENTSIGHT_API_KEY``).
        endpoint: the collector's URL (``AGENTSIGHT_API_ENDPOINT``).
        environment: default environment of conversations (``AGENTSIGHT_ENVIRONMENT``).
        log_level: level of the ``agentsight`` logger (``AGENTSIGHT_LOG_LEVEL``).
        transport: where batches go instead of the collector (an
            ``InMemoryTransport`` in tests, a ``JsonLinesTransport``...).
        shutdown_timeout...spool_max_bytes: the delivery and spool knobs,
            each with its ``AGENTSIGHT_*`` variable and default in the README.
        redact: a function ``str -> str`` applied, in the calling thread, to
            the text of each event before it is queued: message content,
            attachments and metadata values, action responses and errors,
            button labels and values, conversation names (see
            ``docs/redaction.md``).  ``agentsight.redact.pii`` replaces
            e-mail addresses, phone numbers, card numbers and IBANs
            (``AGENTSIGHT_REDACT=pii``).  A value the function fails on is
            replaced by ``[redaction failed]``; unset, nothing is redacted.

    Raises:
        ConfigurationError: a setting or environment variable is invalid.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        *,
        environment: Literal["production", "development"] | None = None,
        log_level: str | None = None,
        transport: Transport | None = None,
        shutdown_timeout: float | None = None,
        flush_timeout: float | None = None,
        max_buffer: int | None = None,
        max_batch_events: int | None = None,
        max_batch_bytes: int | None = None,
        flush_interval: float | None = None,
        request_timeout: float | None = None,
        retry_initial_delay: float | None = None,
        retry_max_delay: float | None = None,
        max_concurrent_requests: int | None = None,
        gzip_threshold: int | None = None,
        max_message_length: int | None = None,
        redact: Callable[[str], str] | Literal["pii", "off"] | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_after: float | None = None,
        spool_fsync: Literal["always", "interval", "never"] | None = None,
        spool_max_bytes: int | None = None,
        _deferred: bool = False,
    ) -> None:
        self._settings: dict[str, Any] = {
            name: value
            for name, value in locals().items()
            if name not in ("self", "transport", "_deferred") and value is not None
        }
        self._transport = transport
        self._config: TrackerConfig | None = None
        # max_message_length once the settings are resolved; -1 before, and always
        # when redacting: every text is longer, and the slow path (_text) resolves
        # the settings and redacts.  One compare on the hot path, whatever the settings.
        self._max_chars = -1
        # The redact= function, wrapped so that it never raises; None: no redaction.
        self._redactor: Redactor | None = None
        self._redaction: Redactor | None = None  # kept across configure(): its count
        # The module-level tracker reads its settings at first use, not at import
        # (so load_dotenv() after the import works), and never raises for them.
        self._lenient = _deferred
        if not _deferred:
            self._config_now()
        self._context = new_context_var()
        self._registry = Registry()
        self._intake: Intake | None = None  # where calls put events now
        self._buffer: Buffer | None = None  # the same when it is the stream (the fast path)
        self._lifecycle = Lifecycle(self._config_now, lambda: self._transport, self._set_intake)
        self._warned_no_conversation = False
        on_fork(self._after_fork)

    # -- configuration ------------------------------------------------------------------------

    def _config_now(self) -> TrackerConfig:
        if self._config is None:
            self._config = resolve_config(self._settings, lenient=self._lenient)
            self._adopt(self._config)
            if self._config.log_level:
                logger.setLevel(self._config.log_level)
        return self._config

    def _adopt(self, config: TrackerConfig) -> None:
        """What follows from *config* on the hot path: the text limit, the redactor."""
        function = config.redact
        if function is None:
            self._redactor = None
            self._max_chars = config.max_message_length
            return
        if self._redaction is None:
            from ._redact import Redactor

            self._redaction = Redactor(function, logger)
        self._redaction.function = function
        self._redactor = self._redaction
        self._max_chars = -1

    def _restore_config(self, config: TrackerConfig | None) -> None:
        """Put back settings resolved before (``capture_events``); None: resolve again."""
        self._config = config
        self._max_chars = -1
        if config is not None:
            self._adopt(config)

    def _redacting(self) -> Redactor | None:
        """The redactor of the settings in force (resolving them at the first call)."""
        self._config_now()
        return self._redactor

    @property
    def config(self) -> TrackerConfig:
        """The resolved settings."""
        return self._config_now()

    def configure(self, **settings: Any) -> None:
        """Change settings before the tracker starts (the first tracking call starts it).

        ``conversation_id=`` (the official SDK 0.0.44's) makes that conversation
        the current one instead, as ``conversation()`` does, at any time.

        Raises:
            ConfigurationError: a bad setting.
            RuntimeError: the tracker is already running; ``aclose()`` it first.
        """
        conversation_id = settings.pop("conversation_id", None)
        if conversation_id is not None:  # the official SDK 0.0.44's: the current conversation
            self._context.set(
                self._registry.get(check.identifier("conversation_id", conversation_id))
            )
            if not settings:
                return
        if self._lifecycle.engine is not None:
            raise RuntimeError("configure() must be called before the first tracking call")
        transport = settings.pop("transport", None)
        merged = {**self._settings, **{k: v for k, v in settings.items() if v is not None}}
        resolve_config(merged)  # raises on a bad value, before anything changes
        self._settings = merged
        if transport is not None:
            self._transport = transport
        self._config = None
        self._max_chars = -1

    # -- starting and stopping (see _lifecycle) ----------------------------------------------------

    def _set_intake(self, intake: Intake | None) -> None:
        self._intake = intake
        self._buffer = intake if isinstance(intake, Buffer) else None

    def _start(self) -> Intake:
        return self._lifecycle.start()

    async def __aenter__(self) -> ConversationTracker:
        await self._lifecycle.enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._lifecycle.exit(*exc_info)

    async def astart(self) -> None:
        """Start in the running asyncio loop without ``async with`` (startup/shutdown hooks).

        Pair it with ``await tracker.aclose()``, which may run in another task.
        Under trio, use ``async with tracker`` instead.
        """
        await self._lifecycle.astart()

    async def aclose(self) -> None:
        """Deliver what is buffered (within ``shutdown_timeout``) and stop.

        A tracking call made afterwards starts the tracker again (in thread mode).
        """
        await self._lifecycle.aclose()

    def close(self) -> None:
        """Sync ``aclose()`` for thread mode (scripts, WSGI apps); the exit hook calls it too.

        A tracker running in an event loop (``async with``, ``astart()``) is
        stopped by that loop: ``close()`` leaves it alone.
        """
        self._lifecycle.close()

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's engine, counts and locks; start afresh."""
        global _TOKENS_LOCK
        _TOKENS_LOCK = threading.Lock()  # a lock held at the fork would never be released
        self._registry.after_fork()
        self._lifecycle.after_fork()

    def flush(self, timeout: float | None = None) -> ReportHandle:
        """Send everything buffered now, whatever the conversation, and wait for the answers.

        Awaited, it waits without blocking the loop.  Called plainly from sync
        code it blocks up to *timeout* (default ``flush_timeout``).  Called
        plainly on a thread running an event loop it never blocks: it starts the
        flush and returns a handle to await later, or to ignore.

        Returns:
            A ``ReportHandle`` whose result is a ``SendReport``.  It never raises
            for delivery failures: they show as ``pending`` or ``failed``.
        """
        wait = self._config_now().flush_timeout if timeout is None else timeout
        return self._lifecycle.flush(wait)

    def send_tracked_data(self, timeout: float | None = None) -> ReportHandle:
        """Flush now and wait for the collector's answers (see ``flush``)."""
        return self.flush(timeout)

    def stats(self) -> TrackerStats:
        """Counts of what was queued, sent, accepted, retried, dropped and spooled."""
        lifecycle = self._lifecycle
        failures = 0 if self._redaction is None else self._redaction.failures
        return lifecycle.stats.snapshot(lifecycle.pending, redaction_failures=failures)

    # -- the hot path ----------------------------------------------------------------------------

    def _emit(self, event: Event) -> Any:
        intake = self._intake
        if intake is None:
            intake = self._start()
        put = intake.put(event)
        if put is TAKEN:
            return DONE
        return self._not_taken(event, put, intake)

    def _not_taken(self, event: Event, put: Put, intake: Intake) -> Any:
        """``put`` said BEHIND, FULL or CLOSED: what the call returns."""
        if put is TAKEN:
            return DONE
        if put is BEHIND:  # buffered, but the background is behind: let the caller slow down
            if _get_ident() == intake.owner or running_backend() is not None:
                return CatchUp(intake)  # awaited, it waits; a plain call ignores it
            _wait_caught_up(intake)  # sync code in thread mode: wait here, as briefly
            return DONE
        engine = self._lifecycle.engine
        if put is CLOSED or engine is None:
            self._lifecycle.stats.drop("after_close")
            return DONE
        return Overflow(event, engine.wait_for_room, engine.drop)

    def _text(self, message: object) -> tuple[str, bool]:
        """A message's text, checked and redacted, and whether it was cut to
        ``max_message_length``."""
        if type(message) is not str:
            message = check.message("message", message)
        limit = self._config_now().max_message_length
        redactor = self._redactor
        if redactor is None:
            self._max_chars = limit
        else:
            self._max_chars = -1  # keeps every message on this path
            if len(message) > limit + _REDACT_MARGIN:
                redacted = redactor.text(message[: limit + _REDACT_MARGIN])
                return redacted[: max(0, min(limit, len(redacted) - _REDACT_MARGIN))], True
            message = redactor.text(message)
        if len(message) > limit:
            return message[:limit], True
        return message, False

    def _state(self, conversation_id: object) -> ConversationState:
        if conversation_id is None:
            state = self._context.get()
            if state is not None:
                return state
            return self._generated_state()
        return self._registry.get(check.identifier("conversation_id", conversation_id))

    def _generated_state(self) -> ConversationState:
        state = self._registry.get(generate_conversation_id())
        self._context.set(state)
        if not self._warned_no_conversation:
            self._warned_no_conversation = True
            logger.warning(
                "a tracking call had no conversation: generated %s. Call "
                "get_or_create_conversation() first or pass conversation_id=, "
                "or analytics fragment into one conversation per call site",
                state.conversation_id,
            )
        return state

    def _message(
        self,
        sender: str,
        message: object,
        attachments: Sequence[Any] | None,
        metadata: Mapping[str, Any] | None,
        conversation_id: object,
    ) -> Awaitable[None]:
        truncated = False
        if type(message) is not str or len(message) > self._max_chars:
            message, truncated = self._text(message)
            redactor = self._redactor
            if redactor is not None:  # every message comes here when redacting
                if metadata is not None:
                    metadata = redactor.mapping(check.metadata("metadata", metadata))
                if attachments is not None:
                    attachments = redactor.value(check.attachments("attachments", attachments))
        flat = None
        if metadata is not None:
            # Copied flat (keys, then values): the caller changing its dict later
            # changes nothing tracked, and the event can leave the GC (see _events).
            # The copy first: another thread changing the caller's dict between reading
            # its keys and its values would pair them wrongly.
            metadata = (
                metadata.copy() if type(metadata) is dict else check.metadata("metadata", metadata)
            )
            flat = (*metadata, *metadata.values())
        if attachments is not None:
            attachments = check.attachments("attachments", attachments)
        state = self._context.get() if conversation_id is None else None
        if state is None:
            state = self._state(conversation_id)
        event = (
            "message",
            state.conversation_id,
            next(state.seq),
            _now_ns(),
            sender,
            message,
            flat,
            attachments,
            truncated,
        )
        # Buffer.put written out: messages are most calls, and a frame is a good share.
        buffer = self._buffer
        if buffer is None:  # not started, starting, or nowhere to send
            return self._emit(event)  # type: ignore[no-any-return]
        try:
            buffer.send_nowait(event)
        except Exception:  # anyio's WouldBlock (full) or ClosedResourceError
            return self._not_taken(event, buffer.not_sent(), buffer)  # type: ignore[no-any-return]
        if buffer.alert or len(buffer.items) > buffer.soft_limit:
            return self._not_taken(event, buffer.after_put(event), buffer)  # type: ignore[no-any-return]
        return DONE

    # -- the documented calls ---------------------------------------------------------------------

    def track_human_message(
        self,
        message: str,
        attachments: Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        attachment_mode: str | AttachmentMode | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a message from the end user.

        Args:
            message: the text.  Longer than ``max_message_length`` it is
                truncated and flagged ``truncated``.
            attachments: descriptions of attached files (JSON-able objects).
            metadata: anything about the message; odd values are serialised.
            attachment_mode: ``"base64"`` or ``"form_data"``, as in the official
                SDK 0.0.44: *attachments* are then its file dicts (``data`` as
                base64 text, or bytes and binary files), tracked as
                ``track_attachments`` does, in an ``attachment`` event linked
                to the message (``message_id``): the collector keeps their
                bytes apart, downloadable, and the message carries none.  Its
                argument order (the mode third) works too.
            conversation_id: the conversation, instead of the current one.

        Raises:
            ValidationError: ``message`` is not a str, ``metadata`` not a mapping,
                a file is not as ``attachment_mode`` says...

        .. versionchanged:: 0.3
           ``attachment_mode``; its files go in an ``attachment`` event, not
           in the message.
        """
        # 0.0.44 passed the mode third.  None and dicts, the usual metadata, skip
        # the mode check by two comparisons: it is on every message call.
        if attachment_mode is not None or (
            metadata is not None and metadata.__class__ is not dict and _legacy.is_mode(metadata)
        ):
            return self._with_files(
                "end_user", message, attachments, metadata, attachment_mode, conversation_id
            )
        return self._message("end_user", message, attachments, metadata, conversation_id)

    def track_agent_message(
        self,
        message: str,
        attachments: Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        attachment_mode: str | AttachmentMode | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a message from the agent (same arguments as ``track_human_message``)."""
        if attachment_mode is not None or (
            metadata is not None and metadata.__class__ is not dict and _legacy.is_mode(metadata)
        ):
            return self._with_files(
                "agent", message, attachments, metadata, attachment_mode, conversation_id
            )
        return self._message("agent", message, attachments, metadata, conversation_id)

    def track_attachments(
        self,
        attachments: Sequence[Mapping[str, Any]],
        sender: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        mode: str = "base64",
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track files sent in the conversation, apart from any message.

        One ``attachment`` event; the collector keeps the files' bytes apart,
        downloadable from the transcript.  Each must fit the collector's JSON
        limit (``max_json_chars``, 1 MiB by default, as base64).

        Args:
            attachments: dicts of ``filename``, ``mime_type`` and ``data``:
                base64 text (``mode="base64"``), or bytes or a binary file
                (``mode="form_data"``), as in the official SDK 0.0.44.
            sender: ``"end_user"`` (the default) or ``"agent"``.
            metadata: anything about the files.
            mode: ``"base64"`` or ``"form_data"``.

        Raises:
            ValidationError: a bad mode, sender, file or metadata.

        .. versionadded:: 0.3
        """
        described = _legacy.files(attachments, mode)
        who = getattr(sender, "value", sender) or "end_user"
        if who not in ("end_user", "agent"):
            raise ValidationError(f"sender: expected 'end_user' or 'agent', got {sender!r:.80}")
        flat = None if metadata is None else items(self._metadata(metadata))
        state = self._state(conversation_id)
        return self._emit(self._files_event(state, who, None, described, flat))  # type: ignore[no-any-return]

    def _metadata(self, metadata: object) -> dict[str, Any]:
        """Metadata off the hot path: checked (a copy) and redacted."""
        checked = check.metadata("metadata", metadata)
        redactor = self._redactor
        return checked if redactor is None else redactor.mapping(checked)

    @staticmethod
    def _files_event(
        state: ConversationState,
        sender: str,
        message_id: str | None,
        files: list[dict[str, Any]],
        flat: tuple[Any, ...] | None,
    ) -> Event:
        """One ``attachment`` event (``track_attachments``, or a message's 0.0.44 files)."""
        return (
            "attachment",
            state.conversation_id,
            next(state.seq),
            _now_ns(),
            sender,
            message_id,
            files,
            flat,
        )

    def _with_files(
        self,
        sender: str,
        message: object,
        attachments: Sequence[Any] | None,
        metadata: Any,
        attachment_mode: object,
        conversation_id: object,
    ) -> Awaitable[None]:
        """A message call with 0.0.44's files (the mode given, or passed third).

        The files go as ``track_attachments`` sends them, in an ``attachment``
        event linked to the message, which carries none: the collector keeps
        the bytes of an ``attachment`` event apart (downloadable, listed), not
        those inside a message, which every read of the conversation would
        return.  The message gets its id here, for the link.
        """
        mode, metadata = _legacy.mode_and_metadata(metadata, attachment_mode)
        files = None if attachments is None else _legacy.files(attachments, mode)
        if not files:
            return self._message(sender, message, None, metadata, conversation_id)
        text, truncated = self._text(message)  # every check before anything is tracked
        flat = None if metadata is None else items(self._metadata(metadata))
        state = self._state(conversation_id)
        seq, stamp = next(state.seq), _now_ns()
        event = ("message", state.conversation_id, seq, stamp, sender, text, flat, None, truncated)
        from ._encode import new_ids  # the tracker has started, or is about to

        message_id = new_ids(1)[0]
        give_id(event, message_id)
        tracked = self._emit(event)
        linked = self._emit(self._files_event(state, sender, message_id, files, None))
        if tracked is DONE:
            return linked  # type: ignore[no-any-return]
        return tracked if linked is DONE else Both(tracked, linked)

    def get_tracked_data_summary(self) -> dict[str, Any]:
        """What the official SDK 0.0.44 reported as tracked and not yet sent.

        Ours does not hold events per conversation until a send: they stream
        to the collector in the background.  ``summary["total"]`` is what is
        still buffered (every conversation); ``items`` is always empty.

        .. versionadded:: 0.3
        """
        state = self._context.get()
        pending = self._lifecycle.pending
        return {
            "conversation_id": None if state is None else state.conversation_id,
            "items": [],
            "summary": {"total": pending},
        }

    def track_action(
        self,
        action_name: str,
        started_at: Any = None,
        ended_at: Any = None,
        duration_ms: float | None = None,
        tools_used: Any = None,
        response: Any = None,
        error_msg: str | BaseException | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
        step_id: str | None = None,
        parent_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a tool call or other action the agent ran.

        Args:
            action_name: e.g. ``"db_lookup"``; ``"fallback_to_human"`` counts as an escalation.
            started_at, ended_at: ISO 8601 strings or datetimes.
            duration_ms: how long it took, in milliseconds.
            tools_used: which tools (any JSON-able value).
            response: what it returned (a non-str is stored as its JSON form).
            error_msg: why it failed: a str or the exception itself.
            metadata: anything else.
            step_id: this step's id (default: a new one).
            parent_id: the step it is part of (default: the ``action`` block open here).

        .. versionchanged:: 0.2
           ``step_id``, ``parent_id``.
        """
        name = check.required_text("action_name", action_name, SHORT)
        step, parent = _step_ids(step_id, parent_id)
        error = check.error_message(error_msg)
        meta = None if metadata is None else check.metadata("metadata", metadata)
        redactor = self._redactor if self._config is not None else self._redacting()
        if redactor is not None:
            # The strings of a response object, before it becomes JSON text.
            response = None if response is None else redactor.value(response)
            error = None if error is None else redactor.text(error)
            meta = None if meta is None else redactor.mapping(meta)
        if response is not None and type(response) is not str:
            import json

            from ._encode import _clean

            response = json.dumps(_clean(response))
        state = self._state(conversation_id)
        return self._emit(  # type: ignore[no-any-return]
            (
                "action",
                state.conversation_id,
                next(state.seq),
                _now_ns(),
                name,
                check.timestamp("started_at", started_at),
                check.timestamp("ended_at", ended_at),
                check.duration_ms(duration_ms),
                tools_used,
                response,
                error,
                items(meta),
                step,
                parent,
            )
        )

    def track_button(
        self,
        button_event: str,
        label: str,
        value: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a button the end user pressed.

        Args:
            button_event: what the button is for, e.g. ``"rate"``.
            label: the text shown on it.
            value: the value it carries.
            metadata: anything else.
        """
        event_name = check.required_text("button_event", button_event, LONG)
        label_text = check.button_value("label", label)
        value_text = check.button_value("value", value)
        meta = None if metadata is None else check.metadata("metadata", metadata)
        redactor = self._redactor if self._config is not None else self._redacting()
        if redactor is not None:
            label_text = redactor.text(label_text)[:LONG]
            value_text = redactor.text(value_text)[:LONG]
            meta = None if meta is None else redactor.mapping(meta)
        state = self._state(conversation_id)
        return self._emit(  # type: ignore[no-any-return]
            (
                "button",
                state.conversation_id,
                next(state.seq),
                _now_ns(),
                event_name,
                label_text,
                value_text,
                items(meta),
            )
        )

    def track_token_usage(
        self,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        total_tokens: int | None = None,
        embedding_tokens: int = 0,
        *,
        model: str | None = None,
        provider: str | None = None,
        cached_input_tokens: int = 0,
        reasoning_tokens: int = 0,
        started_at: Any = None,
        duration_ms: float | None = None,
        conversation_id: str | None = None,
        step_id: str | None = None,
        parent_id: str | None = None,
    ) -> Awaitable[None]:
        """Track the tokens of one model call; they add up per conversation.

        With ``model`` (and ``provider``), the collector prices the call: see
        docs/llm.md.

        Args:
            prompt_tokens, completion_tokens, embedding_tokens: counts >= 0.
            total_tokens: defaults to ``prompt_tokens + completion_tokens``.
            model: the model that answered, e.g. ``"gpt-4o-mini-2024-07-18"``.
            provider: ``"openai"``, ``"anthropic"``...; helps when a model name
                is served by several providers.
            cached_input_tokens: of ``prompt_tokens``, those read from the
                provider's prompt cache (priced lower).
            reasoning_tokens: of ``completion_tokens``, those spent reasoning.
            started_at: when the call started (ISO 8601 string or datetime).
            duration_ms: how long it took, in milliseconds.
            step_id: this call's step id (default: a new one).
            parent_id: the step it is part of (default: the ``action`` block open here).

        .. versionchanged:: 0.2
           ``model``, ``provider``, ``cached_input_tokens``, ``reasoning_tokens``,
           ``started_at``, ``duration_ms``, ``step_id``, ``parent_id``.
        """
        step, parent = _step_ids(step_id, parent_id)
        details = (
            check.text("model", model, SHORT),
            check.text("provider", provider, SHORT),
            check.token_count("cached_input_tokens", cached_input_tokens),
            check.token_count("reasoning_tokens", reasoning_tokens),
            check.timestamp("started_at", started_at),
            check.duration_ms(duration_ms),
            step,
            parent,
        )
        counts = [
            check.token_count("prompt_tokens", prompt_tokens),
            check.token_count("completion_tokens", completion_tokens),
            check.token_count(
                "total_tokens",
                prompt_tokens + completion_tokens if total_tokens is None else total_tokens,
            ),
            check.token_count("embedding_tokens", embedding_tokens),
        ]
        state = self._state(conversation_id)
        with _TOKENS_LOCK:  # `+=` on a list item is not atomic across threads
            for index, count in enumerate(counts):
                state.tokens[index] += count
        return self._emit(  # type: ignore[no-any-return]
            ("token_usage", state.conversation_id, next(state.seq), _now_ns(), *counts, *details)
        )

    def track_score(
        self,
        name: str,
        value: float | bool | str,
        comment: str | None = None,
        *,
        message_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Score the conversation, or one of its messages: a number, a yes/no or a category.

        Args:
            name: what is scored, e.g. ``"helpfulness"``.
            value: a finite number (``0.8``), a bool (``True``) or a category
                (``"resolved"``, 1 to 256 characters).
            comment: why, in words.
            message_id: the scored message's id (as ``/v1/conversations/{id}``
                lists it); the whole conversation when left out.
            metadata: anything else (the evaluator, its version...).

        .. versionadded:: 0.2
        """
        label = check.required_text("name", name, SHORT)
        scored = check.score_value(value)
        note = None if comment is None else check.required_text("comment", comment, 1 << 20)
        target = (
            None if message_id is None else check.required_text("message_id", message_id, SHORT)
        )
        meta = None if metadata is None else check.metadata("metadata", metadata)
        redactor = self._redactor if self._config is not None else self._redacting()
        if redactor is not None:
            note = None if note is None else redactor.text(note)
            meta = None if meta is None else redactor.mapping(meta)
        state = self._state(conversation_id)
        return self._emit(  # type: ignore[no-any-return]
            (
                "score",
                state.conversation_id,
                next(state.seq),
                _now_ns(),
                label,
                scored,
                note,
                target,
                "sdk",
                items(meta),
            )
        )

    def get_token_usage(self, conversation_id: str | None = None) -> dict[str, int]:
        """Running token totals of the current (or the named) conversation in this process."""
        if conversation_id is None:
            state = self._context.get()
            if state is None:
                return ConversationState("").token_usage()
            return state.token_usage()
        cid = check.identifier("conversation_id", conversation_id)
        return self._registry.get(cid).token_usage()

    def _conversation_event(
        self, conversation_id: object, attributes: dict[str, Any], *, is_used: bool
    ) -> Event:
        cid = check.identifier("conversation_id", conversation_id)
        environment = attributes.get("environment")
        metadata = attributes.get("metadata")
        name = check.text("name", attributes.get("name"), LONG)
        meta = None if metadata is None else check.metadata("metadata", metadata)
        redactor = self._redactor if self._config is not None else self._redacting()
        if redactor is not None:
            name = None if name is None else redactor.text(name)[:LONG]
            meta = None if meta is None else redactor.mapping(meta)
        state = self._registry.get(cid)
        self._context.set(state)
        return (
            "conversation" if is_used else "interaction",
            cid,
            next(state.seq),
            _now_ns(),
            check.optional_identifier("customer_id", attributes.get("customer_id")),
            check.ip_address(attributes.get("customer_ip_address")),
            check.device(attributes.get("device")),
            check.text("source", attributes.get("source"), SHORT),
            check.text("language", attributes.get("language"), SHORT),
            name,
            self._config_now().environment
            if environment is None
            else check.environment(environment),
            items(meta),
            is_used,
        )

    def get_or_create_conversation(
        self,
        conversation_id: str,
        customer_id: str | None = None,
        customer_ip_address: str | None = None,
        device: Literal["desktop", "mobile"] | None = None,
        source: str | None = None,
        language: str | None = None,
        name: str | None = None,
        environment: Literal["production", "development"] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Awaitable[None]:
        """Make *conversation_id* the current conversation and record its attributes.

        Every later tracking call in this task (or thread) belongs to it.  The
        collector keeps the first value of each attribute: a later call with
        other values fills only what is still empty.

        Args:
            conversation_id: your id for the conversation (an int is turned into a str).
            customer_id: the end user's id.
            customer_ip_address: resolved to a country by the collector; an
                unparseable address is stored as absent.
            device: ``"desktop"`` or ``"mobile"``.
            source: e.g. ``"web"``, ``"whatsapp"``, ``"telegram"``.
            language: e.g. ``"en"``, ``"es-ES"``.
            name: a title for the conversation.
            environment: ``"production"`` or ``"development"``; defaults to
                ``AGENTSIGHT_ENVIRONMENT``, else ``"development"``.
            metadata: anything else about it.

        Raises:
            ValidationError: an empty ``conversation_id``, an unknown ``device``
                or ``environment``, ``metadata`` not a mapping...
        """
        attributes = _attributes(locals())
        return self._emit(  # type: ignore[no-any-return]
            self._conversation_event(conversation_id, attributes, is_used=True)
        )

    def initialize_conversation(
        self,
        conversation_id: str,
        customer_id: str | None = None,
        customer_ip_address: str | None = None,
        device: Literal["desktop", "mobile"] | None = None,
        source: str | None = None,
        language: str | None = None,
        name: str | None = None,
        environment: Literal["production", "development"] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ReportHandle:
        """Create the conversation in the collector now, not yet marked as used.

        Use it when a conversation is offered (a chat widget shown) to measure
        engagement: it counts as used once ``get_or_create_conversation`` (or a
        ``conversation`` block) is called for it.  Same arguments as
        ``get_or_create_conversation``; it also makes the conversation current.
        Like ``send_tracked_data`` it waits for the collector's answer.
        """
        attributes = _attributes(locals())
        self._emit(self._conversation_event(conversation_id, attributes, is_used=False))
        return self.flush()

    def action(
        self,
        name: str,
        *,
        tools_used: Any = None,
        metadata: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        record_response: bool = True,
    ) -> Action:
        """Time a tool call and track it: ``with``/``async with`` block or decorator.

        See ``agentsight._action.Action``: each block or decorated call becomes
        one ``action`` event with its timing, its response and, if it raised,
        the error (re-raised).
        """
        from ._action import Action

        return Action(
            self,
            name,
            tools_used=tools_used,
            metadata=metadata,
            conversation_id=conversation_id,
            record_response=record_response,
        )

    def conversation(self, conversation_id: str, **attributes: Any) -> ConversationBlock:
        """A block (``with`` or ``async with``) in which *conversation_id* is current.

        Entering records it like ``get_or_create_conversation(conversation_id,
        **attributes)``; leaving restores the conversation current before.
        """
        return ConversationBlock(self, conversation_id, attributes)

    @property
    def current_conversation_id(self) -> str | None:
        """The id of the current conversation in this task or thread, if any."""
        state = self._context.get()
        return None if state is None else state.conversation_id


conversation_tracker = ConversationTracker(_deferred=True)
"""The module-level tracker the documented examples use; configured from the environment."""
