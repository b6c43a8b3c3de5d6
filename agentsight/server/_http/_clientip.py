"""The client's address: the socket peer, or what trusted proxies say it was.

``X-Forwarded-For`` lists the addresses a request passed through, each proxy
appending the one it received the request from.  Only the entries added by
proxies we trust are believed: walking from the right (the socket peer
first), the client is the first address that is not a trusted proxy.  From
a peer outside ``trusted_proxies`` the header is ignored, so a client cannot
pick its own address (to dodge the per-address limit, or to forge the logs).

The middleware hands the handlers a request whose ``remote`` is that
address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from .._options import IPNetwork

__all__ = ["client_address", "client_address_middleware"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> IPAddress | None:
    """An address from one hop: ``1.2.3.4``, ``::1``, ``[::1]:443`` or ``1.2.3.4:80``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[IPNetwork]
) -> str | None:
    """The client of a request from *peer* carrying *forwarded_for* header values.

    Args:
        peer: the socket peer's address (``None`` for a non-IP transport).
        forwarded_for: every ``X-Forwarded-For`` value, in the order received.
        trusted: the networks of trusted proxies.

    Returns:
        *peer* unless it is a trusted proxy; else the rightmost hop that is
        not one (or the leftmost, when all are).  An unparseable hop stops
        the walk: the proxy that reported it is the client as far as we know.
    """
    current = _parse(peer) if peer else None
    if current is None or not trusted or not _trusted(current, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


def client_address_middleware(trusted: Sequence[IPNetwork]) -> Middleware:
    """A middleware that sets ``request.remote`` to the ``client_address``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        forwarded = request.headers.getall(hdrs.X_FORWARDED_FOR, ())
        if not forwarded:
            return await handler(request)
        address = client_address(request.remote, forwarded, trusted)
        if address is None or address == request.remote:
            return await handler(request)
        return await handler(request.clone(remote=address))

    return middleware
