"""Small helpers users call directly."""

from __future__ import annotations

import os

__all__ = ["generate_conversation_id"]


def generate_conversation_id() -> str:
    """Return a new random conversation id, ``conv_`` followed by 24 hex digits.

    Use it where nothing in your own system identifies a conversation, for
    example one id per phone call of a voice agent.  The original SDK's ids
    had 12 hex digits; 24 (96 random bits) make collisions impossible in
    practice even across many bots sharing one collector.
    """
    return f"conv_{os.urandom(12).hex()}"
