"""What the tracker's calls hand events to, as seen from the calling thread.

A light module (imported with the package): the answers of ``put`` and the
protocol every intake follows, the runtime's (``_runtime.Intake``), the one
used while thread mode starts (``_tracker._Starting``) and the one of a
tracker with nowhere to send (``_tracker._NullIntake``).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ABOVE_SOFT_LIMIT", "REFUSED", "SOFT_LIMIT", "TAKEN", "IntakeLike", "soft_limit"]

#: ``put`` answers: refused (full or closed), taken, or taken above the soft limit.
REFUSED, TAKEN, ABOVE_SOFT_LIMIT = 0, 1, 2
#: Buffered events above which a call lets the background catch up (see ``_runtime.Intake``).
SOFT_LIMIT = 10_000


def soft_limit(max_buffer: int) -> int:
    """The soft limit of a buffer of *max_buffer*: ``SOFT_LIMIT``, or half a smaller buffer."""
    return max(1, min(SOFT_LIMIT, max_buffer // 2))


class IntakeLike(Protocol):
    """The entrance of the buffer, callable from any thread."""

    @property
    def closed(self) -> bool: ...

    @property
    def owner(self) -> int:
        """The id of the thread whose loop drains it (-1: none)."""
        ...

    @property
    def soft_limit(self) -> int: ...

    def put(self, item: Any) -> int:
        """``REFUSED``, ``TAKEN`` or ``ABOVE_SOFT_LIMIT``; never blocks."""
        ...

    def level(self) -> int:
        """Events buffered now (a snapshot from any thread)."""
        ...

    def delivering(self) -> bool:
        """True unless delivery is failing now (waiting for room would wait for the network)."""
        ...
