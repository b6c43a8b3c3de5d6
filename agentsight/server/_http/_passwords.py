"""Dashboard passwords: scrypt hashes, and the checks on e-mail addresses and passwords.

scrypt is memory-hard: each guess costs an attacker who stole the database
128 MiB and about 0.4 s of a core at these settings (OWASP's password
storage cheat sheet: N=2**17, r=8, p=1).  It is in the standard library
(``hashlib.scrypt``, from OpenSSL), so the collector needs no compiled
dependency for it; argon2id (``argon2-cffi``) would be the other good
choice, at the price of one.  The cost parameters are stored with each hash,
so they can be raised later without invalidating older hashes.

Hashing is CPU-heavy on purpose: callers in the event loop run it on a
worker thread (see ``_views._session``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "check_email",
    "check_password",
    "hash_password",
    "verify_password",
]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_LOG_N, _R, _P = 17, 8, 1
# scrypt takes 128 * N * r bytes; OpenSSL refuses past maxmem (default 32 MiB).
_MAXMEM = 129 * (1 << _LOG_N) * _R + (1 << 20)
_HASH = re.compile(r"scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")
# A plain, practical check: one @, no spaces or controls, a dot in the domain.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


def check_email(email: str) -> str:
    """*email* trimmed and lower-cased.

    Raises:
        ValueError: naming what was expected.
    """
    normal = email.strip().lower()
    if len(normal) > 254 or _EMAIL.fullmatch(normal) is None:
        raise ValueError(f"email: expected an address such as ops@example.com, got {email[:80]!r}")
    return normal


def check_password(password: str) -> str:
    """*password* as given, when long enough.

    Raises:
        ValueError: naming what was expected (never the password itself).
    """
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(
            f"password: expected {MIN_PASSWORD} to {MAX_PASSWORD} characters, got {len(password)}"
        )
    return password


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << log_n, r=r, p=p, maxmem=_MAXMEM, dklen=32
    )


def hash_password(password: str) -> str:
    """The stored form of *password*: ``scrypt$17$8$1$<salt>$<hash>`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _LOG_N, _R, _P)
    encoded = (base64.b64encode(part).decode("ascii") for part in (salt, digest))
    return f"scrypt${_LOG_N}${_R}${_P}$" + "$".join(encoded)


#: Verified when the e-mail address is unknown, so that the answer takes as
#: long as for a known one (no telling which addresses have accounts).
DUMMY_HASH = "scrypt$17$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def verify_password(password: str, stored: str) -> bool:
    """Whether *password* matches *stored* (``hash_password``'s form); in constant time."""
    match = _HASH.fullmatch(stored)
    if match is None:
        return False
    log_n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if log_n < 10 or p != 1 or 128 * (1 << log_n) * r > _MAXMEM:
        return False  # not a cost this collector writes: refuse rather than burn memory
    salt, digest = (base64.b64decode(match.group(i)) for i in (4, 5))
    return hmac.compare_digest(_scrypt(password, salt, log_n, r, p), digest)
