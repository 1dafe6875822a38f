"""The transport's sans-IO rules for Via and responses (RFC 3261 §18.1.1,
§18.2.1, §18.2.2; RFC 3581; RFC 5923).

Pure functions, no sockets: the asyncio shell in :mod:`.sip` calls them with
the source address of a request, or with the response it is about to send.
"""

from __future__ import annotations

import functools
import re

from sipsec.sip import (
    Request,
    Response,
    SipParseError,
    Via,
    generate_tag,
    parse_via,
    reason_phrase,
)
from sipsec.sip.received import parse_ip, same_ip, set_top_via, stamp_via
from sipsec.transaction import Peer

__all__ = [
    "DEFAULT_PORTS",
    "MOVED_INVITE_LIFETIME",
    "MOVED_LIFETIME",
    "UDP_MTU_THRESHOLD",
    "UDP_PAYLOAD_LIMIT",
    "MovedRequests",
    "SentBys",
    "error_response",
    "parse_ip",
    "response_destination",
    "same_ip",
    "set_top_via",
    "stamp_via",
    "via_alias",
    "via_host",
]

DEFAULT_PORTS: dict[str, int] = {"udp": 5060, "tcp": 5060, "tls": 5061}
#: §18.1.1: "larger than 1300 bytes and the path MTU is unknown" → TCP.
UDP_MTU_THRESHOLD = 1300
#: The largest IPv4 UDP payload (65535 - 8 - 20).
UDP_PAYLOAD_LIMIT = 65507


def via_host(host: str) -> str:
    """A host as a Via sent-by writes it: IPv6 references in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def via_alias(request: Request) -> tuple[str, int] | None:
    """The sent-by a request asks its connection to be reused for (RFC 5923
    §5 ``alias``), when it is an IP address."""
    via = request.top_via
    if via is None or "alias" not in via.params or parse_ip(via.host) is None:
        return None
    transport = via.transport.lower()
    return (via.host.strip("[]"), via.port or DEFAULT_PORTS.get(transport, 5060))


def response_destination(response: Response, peer: Peer) -> Peer:
    """Where §18.2.2 sends ``response`` when it cannot reuse the connection
    (or datagram source) its request came on.

    Reliable: the ``received`` address (else the sent-by host), port of the
    sent-by or the default. Unreliable: ``maddr`` if present; with a filled
    ``rport`` the source address and that port (RFC 3581 §4); else
    ``received`` and the sent-by port. A sent-by that is a name (and no
    ``received``) would need RFC 3263 §5; the request's source is used.
    """
    try:
        via = response.top_via
    except SipParseError:
        return peer
    if via is None:
        return peer
    transport = peer.transport
    default = DEFAULT_PORTS[transport]
    host = via.received or via.host
    if not peer.reliable:
        if via.maddr is not None and parse_ip(via.maddr) is not None:
            return Peer(transport, via.maddr.strip("[]"), via.port or default, peer.server_name)
        try:
            rport = via.rport
        except SipParseError:
            rport = None
        port = rport if isinstance(rport, int) and rport > 0 else via.port or default
    else:
        port = via.port or default
    if parse_ip(host) is None:
        return peer
    return Peer(transport, host.strip("[]"), port, peer.server_name)


# -- a stateless answer to a request the parser refused -----------------------------------------
# Lenient on purpose: extra or trailing spaces (RFC 4475 lwsstart, trws, lwsruri) are the
# reason a request was refused, not a reason to leave it unanswered.
_REQUEST_LINE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]+\S.*?[ \t]+SIP/[0-9]+\.[0-9]+[ \t]*")
_COPIED = {
    "via": "Via",
    "v": "Via",
    "from": "From",
    "f": "From",
    "to": "To",
    "t": "To",
    "call-id": "Call-ID",
    "i": "Call-ID",
    "cseq": "CSeq",
}
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_ANSWERABLE = {400, 413, 414, 416, 420, 505, 513}


def error_response(data: bytes, error: SipParseError, source: tuple[str, int]) -> bytes | None:
    """The response a server sends for a datagram the parser refused
    (RFC 4475 §3.1.2: "should respond with a 400"), or None when it cannot
    be answered: a response, an ACK (§17.2.3), a top Via that does not parse
    (nowhere to send it), a missing or repeated From/To/Call-ID/CSeq.

    §8.2.6.2: Via, From, To, Call-ID and CSeq are copied. The top Via is
    re-parsed and stamped (received/rport) because it routes the answer;
    the rest are echoed as the client wrote them, since a malformed From is
    often the very reason for the 400 and the client matches the response by
    its Via branch and CSeq (§17.1.3). Control characters are never echoed.
    """
    head = data[:8192].split(b"\r\n\r\n", 1)[0]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines: list[str] = []
    for line in re.split(r"\r?\n", text):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip(" \t")  # §7.3.1 folding
        else:
            lines.append(line)
    request_line = _REQUEST_LINE.fullmatch(lines[0]) if lines else None
    if request_line is None or request_line.group(1) == "ACK":
        return None  # never answer a response, nor an ACK (§17.2.3)
    found: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        canonical = _COPIED.get(name.strip(" \t").lower())
        if not sep or canonical is None:
            continue
        value = value.strip(" \t")
        if not value or _CONTROL.search(value):
            return None
        found.setdefault(canonical, []).append(value)
    if any(len(found.get(name, ())) != 1 for name in ("From", "To", "Call-ID", "CSeq")):
        return None
    if "Via" not in found:
        return None
    try:
        first = parse_via(found["Via"][0])
        request = Request("OPTIONS", "sip:invalid", [("Via", str(first[0]))])
        stamp_via(request, source)
    except SipParseError:
        return None
    status = error.status if error.status in _ANSWERABLE else 400
    to = found["To"][0]
    if ";tag=" not in to.replace(" ", "").lower():
        to = f"{to};tag={generate_tag()}"  # §8.2.6.2
    out = [f"SIP/2.0 {status} {reason_phrase(status)}", f"Via: {request.headers.get('Via')}"]
    out += [f"Via: {via}" for via in first[1:]] + [f"Via: {via}" for via in found["Via"][1:]]
    out += [f"From: {found['From'][0]}", f"To: {to}", f"Call-ID: {found['Call-ID'][0]}"]
    out += [f"CSeq: {found['CSeq'][0]}", "Content-Length: 0"]
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8")


# -- §17.1.1.3 and §9.1: what follows a request that §18.1.1 moved to TCP ------------------------
#: 64*T1 with the default T1 (§17.1.1.2): how long a non-INVITE client transaction lives.
MOVED_LIFETIME = 32.0
#: An INVITE may wait in Proceeding for Timer C (> 3 min, §16.6 item 11) before
#: its final response, and the ACK for that response still has to follow it.
MOVED_INVITE_LIFETIME = 180.0 + MOVED_LIFETIME
MOVED_CAPACITY = 8192


class MovedRequests:
    """The requests §18.1.1 moved from UDP to TCP, by Via branch.

    RFC 3261 §17.1.1.3: "The ACK MUST be sent to the same address, port, and
    transport to which the original request was sent"; §9.1: a CANCEL goes to
    the same destination as its INVITE. The transaction layer above is
    sans-IO and knows nothing of the move: it addresses the ACK and the
    CANCEL (both carry the INVITE's top Via, hence its branch) to the UDP
    peer it chose. The transport remembers each move here, for about the
    lifetime of the transaction, and sends them after the INVITE.

    Bounded: at most ``capacity`` entries, the oldest forgotten first; an
    entry expires ``lifetime`` seconds after its request was last sent or a
    response to it last arrived. ``now`` is passed in (the loop's clock).
    """

    def __init__(self, *, capacity: int = MOVED_CAPACITY) -> None:
        self.capacity = capacity
        # branch -> (UDP destination as the TU named it, the TCP hop used, its Via, expiry)
        self._moved: dict[str, tuple[tuple[str, int], Peer, Via, float]] = {}

    def __len__(self) -> int:
        return len(self._moved)

    def remember(self, request: Request, udp: Peer, hop: Peer, now: float) -> None:
        """``request`` (its top Via already rewritten) went over ``hop``
        instead of to ``udp``."""
        via = request.top_via
        if via is None or not via.branch:
            return
        lifetime = MOVED_INVITE_LIFETIME if request.method == "INVITE" else MOVED_LIFETIME
        moved = self._moved
        while moved:  # the oldest first: drop the expired ones in passing
            oldest = next(iter(moved))
            if moved[oldest][3] >= now:
                break
            del moved[oldest]
        self._moved.pop(via.branch, None)  # re-inserted last: the newest
        self._moved[via.branch] = (udp.address, hop, via, now + lifetime)
        while len(self._moved) > self.capacity:
            del self._moved[next(iter(self._moved))]

    def follow(self, request: Request, udp: Peer, now: float) -> tuple[Peer, Via] | None:
        """The TCP hop and top Via for an ACK or CANCEL (or a retransmission)
        of a moved request the TU addressed to ``udp``; None if none moved."""
        if not self._moved:
            return None
        via = request.top_via
        entry = self._moved.get(via.branch or "") if via is not None else None
        if entry is None:
            return None
        address, hop, moved_via, expiry = entry
        if expiry < now:
            del self._moved[moved_via.branch or ""]
            return None
        if address != udp.address:
            return None
        return hop, moved_via

    def refresh(self, branch: str | None, now: float) -> None:
        """A response to a moved request arrived: its transaction is alive."""
        entry = self._moved.get(branch or "")
        if entry is not None:
            address, hop, via, expiry = entry
            self._moved[branch or ""] = (address, hop, via, max(expiry, now + MOVED_LIFETIME))

    def expire(self, now: float) -> None:
        """Forget the entries past their lifetime."""
        for branch in [b for b, entry in self._moved.items() if entry[3] < now]:
            del self._moved[branch]


# -- §18.1.2: a client transport keeps only the responses to what it sent ------------------------
#: Distinct sent-by values remembered; past that the check is off (fail open)
#: rather than unbounded: an element writes one or two, a load generator a few.
SENT_BY_CAPACITY = 1024


def _sent_by_key(via: Via) -> tuple[str, int]:
    return _normal_sent_by(via.host, via.port, via.transport)


@functools.lru_cache(maxsize=1024)  # every request and response: the same few values
def _normal_sent_by(host: str, port: int | None, transport: str) -> tuple[str, int]:
    """``[2001:DB8::1]`` is ``2001:db8::1``; no port is the transport's default."""
    name = host.strip("[]").lower()
    ip = parse_ip(name)
    return (str(ip) if ip is not None else name, port or DEFAULT_PORTS.get(transport.lower(), 5060))


class SentBys:
    """The Via sent-by values this transport has put into requests.

    §18.1.2: "If the value of the 'sent-by' parameter in that header field
    value does not correspond to a value that the client transport is
    configured to insert into requests, the response MUST be silently
    discarded." The cores above write the Via, not the transport, so what
    it is "configured to insert" is learnt from the requests it sends.
    """

    def __init__(self, *, capacity: int = SENT_BY_CAPACITY) -> None:
        self.capacity = capacity
        self._seen: set[tuple[str, int]] = set()
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, via: Via) -> None:
        if self.overflowed:
            return
        key = _sent_by_key(via)
        if key not in self._seen:
            if len(self._seen) >= self.capacity:
                self.overflowed = True
                self._seen.clear()
                return
            self._seen.add(key)

    def ours(self, via: Via) -> bool:
        """Whether a response with this top Via answers one of our requests."""
        return self.overflowed or _sent_by_key(via) in self._seen
