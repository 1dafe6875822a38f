"""The fast relay's splicer: the bytes the full path would write (RFC 3261 §8.2.6, §16.6, §18.2.1).

Each function works on the header lines of a :class:`~.relay_scan.Scan` and
does what the full path does on a parsed message, in the same order and
with the same text: the §18.2.1 / RFC 3581 stamp of the top Via, placed
where :meth:`~sipsec.sip.Headers.prepend` puts it; §16.6 steps 3, 4 and 8
and the §16.4 Route pop; the 100 Trying :func:`~sipsec.sip.make_response`
builds (§8.2.6.2: Via, From, To, Call-ID, CSeq, Timestamp copied as
written). ``tests/proxy/test_relay_scan.py`` holds each against its
counterpart.
"""

from __future__ import annotations

import ipaddress

from .relay_scan import Scan, ViaTop

__all__ = ["forwarded", "join", "stamp", "stamped_lines", "trying"]

_COPIED = frozenset({b"via", b"from", b"to", b"call-id", b"cseq"})


def _same_ip(a: bytes, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.decode("ascii")) == ipaddress.ip_address(b)
    except ValueError:
        return False


def stamp(via: ViaTop, host: str, port: int) -> bytes | None:
    """The top Via line after §18.2.1 / RFC 3581 §4, as the transport's
    ``stamp_via`` writes it (``Via: …``), or None when it stays as it was:
    ``received`` when the sent-by is not the source IP; an empty ``rport``
    gets the source port (and ``received``)."""
    src = host.encode("ascii")
    differs = via.host != src and not _same_ip(via.host, host)
    if not differs and not via.rport:
        return None
    params = dict(via.params)
    if differs:
        params[b"received"] = src
    if via.rport:
        params[b"rport"] = str(port).encode()
        params[b"received"] = src
    text = b"Via: SIP/2.0/UDP " + via.host
    if via.port is not None:
        text += b":" + str(via.port).encode()
    for name, value in params.items():
        text += b";" + name if value is None else b";" + name + b"=" + value
    return text


def stamped_lines(s: Scan, line: bytes | None) -> tuple[list[bytes], list[bytes]]:
    """The header lines and keys with the top Via replaced by ``line``
    where ``Headers.pop_first`` + ``prepend`` put it: before the next Via
    line, else first of all."""
    if line is None:
        return s.lines, s.keys
    top = s.via_lines[0]
    lines = s.lines[:top] + s.lines[top + 1 :]
    keys = s.keys[:top] + s.keys[top + 1 :]
    at = s.via_lines[1] - 1 if len(s.via_lines) > 1 else 0
    lines.insert(at, line)
    keys.insert(at, b"via")
    return lines, keys


def forwarded(
    lines: list[bytes],
    keys: list[bytes],
    *,
    via: bytes,
    max_forwards: bytes,
    pop_routes: int = 0,
    record_route: bytes | None = None,
) -> list[bytes]:
    """§16.6 on the lines, in the full path's order: own Routes popped (step
    6 / §16.4), Max-Forwards set (step 3), Record-Route prepended (step 4,
    first of all: the relay takes no request that has one), our Via before
    the first Via (step 8)."""
    out = [record_route] if record_route is not None else []
    via_done = False
    for line, key in zip(lines, keys, strict=True):
        if key == b"via":
            if not via_done:
                out.append(via)
                via_done = True
        elif key == b"route" and pop_routes:
            pop_routes -= 1
            continue
        elif key == b"max-forwards":
            line = max_forwards
        out.append(line)
    return out


def trying(lines: list[bytes], keys: list[bytes]) -> bytes:
    """The 100 Trying :func:`~sipsec.sip.make_response` makes for the
    (stamped) request of these lines: §8.2.6.2 headers as written, Timestamp too."""
    out = [b"SIP/2.0 100 Trying"]
    for line, key in zip(lines, keys, strict=True):
        if key in _COPIED or key == b"timestamp":
            out.append(line)
    out.append(b"Content-Length: 0\r\n\r\n")
    return b"\r\n".join(out)


def join(start: bytes, lines: list[bytes], body: bytes) -> bytes:
    return start + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + body
