"""Where a request really came from: the ``received`` and ``rport`` Via
parameters a server writes on arrival (RFC 3261 §18.2.1, RFC 3581 §4).

Both the transport (for every request it parses) and the proxy's byte-level
relay (for the CANCEL it hands to the general path) stamp requests; this is
the one place that says how.
"""

from __future__ import annotations

import functools
import ipaddress

from .errors import SipParseError
from .message import Message, Request
from .via import Via

__all__ = ["parse_ip", "same_ip", "set_top_via", "stamp_via"]


@functools.lru_cache(maxsize=4096)  # the same few peers, every message: ipaddress is slow
def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address (brackets and a zone index ignored), or None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def same_ip(a: str, b: str) -> bool:
    """Whether two hosts are the same IP address (``[::1]`` equals ``::1``)."""
    ia, ib = parse_ip(a), parse_ip(b)
    return ia is not None and ia == ib


def set_top_via(message: Message, via: Via) -> None:
    """Replace the top Via value, leaving any others on its line alone."""
    message.headers.pop_first("Via")
    message.headers.prepend("Via", str(via))


def stamp_via(request: Request, source: tuple[str, int]) -> None:
    """§18.2.1 and RFC 3581 §4 for a request from ``source``: ``received``
    when the sent-by host is not the source IP, and with an empty ``rport``
    both ``rport=<source port>`` and ``received`` (RFC 3581: "even if it is
    identical"). Raises SipParseError for a request with no usable Via."""
    via = request.top_via
    if via is None:
        raise SipParseError("request without a Via")
    host, port = source
    params = dict(via.params)
    changed = False
    if not same_ip(via.host, host):
        params["received"] = host
        changed = True
    if via.rport is True:
        params["rport"] = str(port)
        params["received"] = host
        changed = True
    if changed:
        stamped = Via(
            via.transport, via.host, via.port, params, protocol=via.protocol, version=via.version
        )
        set_top_via(request, stamped)
