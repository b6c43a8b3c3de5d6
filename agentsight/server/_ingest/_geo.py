"""Offline IP geolocation: ``customer_ip_address`` to an ISO 3166 country code.

Uses geoip2fast, which ships its own IPv4 and IPv6 database (no network, no
licence key).  The database loads on first use (about 0.1 s) and is shared by
the whole process, as it is read-only; a look-up takes a few microseconds.
Anything that is not a public, known address gives ``None``.

Addresses are parsed strictly with ``ipaddress`` before the look-up (the
library's own parser reads ``1.2.3`` and ``01.02.03.04`` as some address),
and an IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is looked up as the IPv4
address it carries.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from typing import Any

__all__ = ["GeoResolver"]

log = logging.getLogger("agentsight.server")
_COUNTRY = re.compile(r"[A-Z]{2}")
_DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6, country level
_lock = threading.Lock()
_loaded: list[Any] = []  # the process's database once loaded, or None when it failed


def _load_database() -> Any:
    with _lock:
        if not _loaded:
            try:
                from geoip2fast import GeoIP2Fast

                _loaded.append(GeoIP2Fast(geoip2fast_data_file=_DATA_FILE))
            except Exception:
                log.warning("geo database unavailable: no countries resolved", exc_info=True)
                _loaded.append(None)
        return _loaded[0]


class GeoResolver:
    """Resolves IP addresses to country codes, loading the database lazily."""

    def __init__(self) -> None:
        self._db: Any = None

    def load(self) -> None:
        """Load the database now (at start-up) rather than on the first look-up."""
        self._db = _load_database()

    def country(self, ip: str | None) -> str | None:
        """The two-letter country code of *ip*, or ``None``."""
        if not ip or len(ip) > 64:
            return None
        if self._db is None:
            self.load()
            if self._db is None:  # the database could not be loaded
                return None
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        try:
            code = self._db.lookup(str(address)).country_code
        except Exception:  # the library reports bad input in its result; be safe anyway
            return None
        return code if isinstance(code, str) and _COUNTRY.fullmatch(code) else None
