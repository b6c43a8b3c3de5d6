"""API key format, shared by the SDK (early checks) and the collector.

A key is ``ags_`` + 32 hex digits of randomness + ``_`` + 6 hex digits of
checksum (the first 6 hex digits of the SHA-256 of the random part).  The
checksum lets both sides reject a mistyped or truncated key without a
database look-up, and lets secret scanners recognise our keys.
"""

from __future__ import annotations

import re

KEY_PREFIX = "ags_"
_KEY_RE = re.compile(r"ags_([0-9a-f]{32})_([0-9a-f]{6})")


def _checksum(body: str) -> str:
    import hashlib  # here: the SDK imports this module, hashlib is a few ms

    return hashlib.sha256(body.encode("ascii")).hexdigest()[:6]


def generate_key() -> str:
    """Return a new random API key."""
    import secrets

    body = secrets.token_hex(16)
    return f"{KEY_PREFIX}{body}_{_checksum(body)}"


def is_well_formed(key: str) -> bool:
    """Tell whether *key* has the format and a correct checksum."""
    match = _KEY_RE.fullmatch(key)
    return match is not None and _checksum(match.group(1)) == match.group(2)


def problem(key: str) -> str | None:
    """What is wrong with *key*, in words a user can act on; ``None`` when nothing is.

    A key of the right shape whose checksum fails has a wrong character (a
    typo, a copy cut short and padded): said so, not "not a key at all".
    """
    match = _KEY_RE.fullmatch(key)
    if match is None:
        return (
            f"expected an AgentSight key ({KEY_PREFIX} + 32 lowercase hex digits + _ + 6 hex "
            f"digits), got {len(key)} characters starting {key[:4]!r}"
        )
    if _checksum(match.group(1)) != match.group(2):
        return "the key has the right shape but its checksum does not match: a character is wrong"
    return None


def hash_key(key: str) -> str:
    """The form a key is stored in: hex SHA-256 (keys are random, so no salt is needed)."""
    import hashlib

    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def redact(key: str) -> str:
    """A form of *key* safe to log: the prefix and the checksum only."""
    match = _KEY_RE.fullmatch(key)
    if match is None:
        return "ags_<malformed>"
    return f"ags_…_{match.group(2)}"
