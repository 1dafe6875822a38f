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
from collections.abc import Callable
from operator import itemgetter

from .relay_scan import Scan, ViaTop
from .relay_shapes import remember
from .relay_via import STAND_IN

__all__ = [
    "Plan",
    "forward",
    "forward_scan",
    "forwarded",
    "join",
    "plan",
    "stamp",
    "stamp_line",
    "stamped_lines",
    "trying",
    "trying_of",
    "without_first",
]

_COPIED = frozenset({b"via", b"from", b"to", b"call-id", b"cseq"})


def _same_ip(a: bytes, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.decode("ascii")) == ipaddress.ip_address(b)
    except ValueError:
        return False


# (Via skeleton, source host, source port) → the stamped line around its branch,
# or None when the Via stays as it was. Bounded like the other memos.
_STAMPS: dict[tuple[bytes, str, int], tuple[bytes, bytes] | None] = {}
_STAMPS_KEPT = 1024
_AT_BRANCH = b";branch=" + STAND_IN
_UNSEEN = (b"", b"")  # not in the memo: compared by identity, never one of its values


def stamp(via: ViaTop, host: str, port: int) -> bytes | None:
    """:func:`stamp_line`, remembered by everything it reads but the branch.

    A UA's requests differ in the branch alone, and the branch is written
    as it came: so the line made for the Via's skeleton (its branch the
    stand-in) is the line for every branch, the stand-in replaced. The
    first ``;branch=`` of the line is the parameter (the host holds no
    ``;``, the parameters before it are tokens, a name appears once)."""
    skeleton = via.skeleton
    if skeleton is None or len(skeleton) > 256:
        return stamp_line(via, host, port)
    key = (skeleton, host, port)
    around = _STAMPS.get(key, _UNSEEN)  # one lookup: a key's hash is not kept
    if around is _UNSEEN:
        line = stamp_line(via.with_branch(STAND_IN), host, port)
        around = None
        if line is not None:
            before, found, after = line.partition(_AT_BRANCH)
            assert found, "a stamped Via holds its branch"
            around = (before + b";branch=", after)
        remember(_STAMPS, key, around, _STAMPS_KEPT)
    return None if around is None else around[0] + via.branch + around[1]


def stamp_line(via: ViaTop, host: str, port: int) -> bytes | None:
    """The top Via line after §18.2.1 / RFC 3581 §4, as the transport's
    ``stamp_via`` writes it (``Via: …``), or None when it stays as it was:
    ``received`` when the sent-by is not the source IP; an empty ``rport``
    gets the source port (and ``received``)."""
    src = host.encode("ascii")
    differs = via.host != src and not _same_ip(via.host, host)
    if not differs and not via.rport:
        return None
    # stamp_via sets received (appended: the relay takes no Via that has one)
    # and fills rport where it stands; the port is written as a number.
    out = [b"Via: SIP/2.0/UDP ", via.host]
    if via.port is not None:
        out.append(b":%d" % via.port)
    for name, value in via.params:
        if name == b"rport":
            out.append(b";rport=%d" % port)
        elif value is None:
            out += (b";", name)
        else:
            out += (b";", name, b"=", value)
    out += (b";received=", src)
    return b"".join(out)


def stamped_lines(s: Scan, line: bytes | None) -> tuple[list[bytes], list[bytes]]:
    """The header lines and keys with the top Via replaced by ``line``
    where ``Headers.pop_first`` + ``prepend`` put it: before the next Via
    line, else first of all."""
    if line is None:
        return s.lines, s.keys
    top = s.via_lines[0]
    vias = s.via_lines
    if (top == 0 and len(vias) == 1) or (len(vias) > 1 and vias[1] == top + 1):
        # it goes back where it was (the common case): the keys stay the same
        lines = s.lines.copy()
        lines[top] = line
        return lines, s.keys
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
    out = lines.copy()
    # the scanner declines a repeated Max-Forwards; route() one without any
    if b"max-forwards" in keys:
        out[keys.index(b"max-forwards")] = max_forwards
    at = keys.index(b"via")  # there is always one: the scanner declines a message without
    if pop_routes:
        popped = [i for i, key in enumerate(keys) if key == b"route"][:pop_routes]
        for i in reversed(popped):
            del out[i]
        at -= sum(1 for i in popped if i < at)
    out.insert(at, via)
    if record_route is not None:
        out.insert(0, record_route)
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


def without_first(data: bytes, line: bytes) -> bytes:
    """``data`` without its first header line ``line`` (§16.7 step 3: our
    Via removed): :func:`join` of the other lines, cut from the datagram.
    The first CRLF + ``line`` + CRLF is that line: a line holds no CR or LF,
    so the match starts and ends a line, and the scanner's lines are the
    datagram's own (an identical line earlier would be the first)."""
    cut = data.find(b"\r\n" + line + b"\r\n")
    return data[:cut] + data[cut + 2 + len(line) :]


def join(start: bytes, lines: list[bytes], body: bytes) -> bytes:
    return start + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + body


# What forward() and trying_of() need of one list of header keys, worked out
# once per list: the keys themselves (held, so the id stays theirs), the
# Max-Forwards line (-1: none), the first Via line, the Route lines, and a
# getter of the lines a 100 Trying copies.
Plan = tuple[list[bytes], int, int, tuple[int, ...], Callable[[list[bytes]], tuple[bytes, ...]]]
_PLANS: dict[int, Plan] = {}
_PLANS_KEPT = 1024


def plan(keys: list[bytes]) -> Plan:
    """The plan of ``keys`` — a scanner's shared list (one per header-name
    sequence), so this is a dict lookup after its first message."""
    found = _PLANS.get(id(keys))
    if found is not None and found[0] is keys:
        return found
    copied = [i for i, key in enumerate(keys) if key in _COPIED or key == b"timestamp"]
    made: Plan = (
        keys,
        keys.index(b"max-forwards") if b"max-forwards" in keys else -1,
        keys.index(b"via"),
        tuple(i for i, key in enumerate(keys) if key == b"route"),
        # two at least (Via, CSeq: the scanner requires them), so always a tuple
        itemgetter(*copied) if len(copied) > 1 else lambda lines: (lines[copied[0]],),
    )
    return remember(_PLANS, id(keys), made, _PLANS_KEPT)


def forward(
    start: bytes,
    lines: list[bytes],
    the_plan: Plan,
    body: bytes,
    *,
    via: bytes,
    max_forwards: bytes,
    pop_routes: int = 0,
    record_route: bytes | None = None,
) -> bytes:
    """:func:`join` of ``start``, :func:`forwarded` of ``lines`` (whose keys
    ``the_plan`` was made from) and ``body``, with one list and one join."""
    _, mf, at, routes, _ = the_plan
    out = lines.copy()
    if mf >= 0:
        out[mf] = max_forwards
    if pop_routes:
        # the last first, so each index is still the line's; a loop, not a
        # generator's sum (a frame per request that pops one)
        for i in reversed(routes[:pop_routes]):
            del out[i]
            if i < at:
                at -= 1  # the Via moves up over each popped line before it
    out.insert(at, via)
    if record_route is not None:
        out.insert(0, record_route)
    out.insert(0, start)
    out.append(b"")  # the empty line, then the body
    out.append(body)
    return b"\r\n".join(out)


def trying_of(lines: list[bytes], the_plan: Plan) -> bytes:
    """:func:`trying` of ``lines`` whose keys ``the_plan`` was made from."""
    return b"\r\n".join((b"SIP/2.0 100 Trying", *the_plan[4](lines), b"Content-Length: 0\r\n\r\n"))


def forward_scan(
    s: Scan,
    lines: list[bytes],
    keys: list[bytes],
    start: bytes,
    *,
    via: bytes,
    max_forwards: bytes,
    pop_routes: int = 0,
    record_route: bytes | None = None,
) -> tuple[bytes, Plan | None]:
    """The forwarded request from the (stamped) ``lines`` and ``keys`` of
    ``s`` and its new start line; and the plan of the keys when they are the
    scan's own (shared, one plan per header-name sequence) — else None and
    the general :func:`forwarded` + :func:`join`."""
    if keys is s.keys:
        the_plan = plan(keys)
        out = forward(
            start,
            lines,
            the_plan,
            s.body,
            via=via,
            max_forwards=max_forwards,
            pop_routes=pop_routes,
            record_route=record_route,
        )
        return out, the_plan
    out_lines = forwarded(
        lines,
        keys,
        via=via,
        max_forwards=max_forwards,
        pop_routes=pop_routes,
        record_route=record_route,
    )
    return join(start, out_lines, s.body), None
