"""A byte-level fast relay in front of the stateful proxy (RFC 3261 §16, §17).

:class:`FastRelay` takes a UDP datagram before anything parses it and either
handles it entirely on bytes or *declines* it — returns False — so the full
path (transport parser, transaction layer, :class:`~sipsec.proxy.ProxyCore`)
handles it, unchanged. It takes the common call: an INVITE or other request
that the full path would forward, without a challenge, to exactly one UDP
next hop —

- a user of our domain with exactly one UDP binding (§16.5),
- a foreign host that is an IP literal or a hosts-map entry of one UDP peer,
- or the next hop of a loose route (§16.4, our own Route popped) —

with no Proxy-Require or Require, Max-Forwards above 0, none of our Vias in
it (a loop or spiral goes to the full path), in the plain shape
:mod:`.relay_scan` reads. It is stateful (§16.2): real server and client
transactions (:mod:`.relay_flow`), Record-Route and Via as the full path
writes them, one :class:`~sipsec.proxy.TransactionLogged` per transaction.
Responses from downstream are :mod:`.relay_reply`'s; the request as
forwarded is one list and one join per header-name sequence's plan
(:func:`~.relay_splice.forward`).

Ownership is never shared. The relay's Vias carry the branch prefix
``z9hG4bKr.`` (the full path's branches are ``z9hG4bK`` + hex), so a
response is the relay's when its top branch carries it and the relay knows
the branch; a request is the relay's when its top branch and sent-by name a
relay server transaction (a retransmission, its CANCEL, the ACK of a
non-2xx). A new request whose key names a transaction of the full path (the
ACK of a non-2xx it sent, a retransmission of what the relay declined) is
declined. Memory is bounded: at ``config.max_transactions`` relayed
transactions new requests are declined, so the full path's own overload
rule (503 + Retry-After) is the one answer an overloaded proxy gives.
"""

from __future__ import annotations

import hashlib
import itertools
import os

from sipsec.errors import SipsecError
from sipsec.sip import Request, SipParseError, make_response, parse_message
from sipsec.sip.parser import start_line_at

from . import relay_scan as rs
from . import relay_splice as sp
from .core import ProxyCore
from .relay_flow import cancel_record, stamped_request, upstream_of
from .relay_reply import PREFIX, ReplyPath
from .relay_route import RelayRoutes
from .relay_shapes import COMMA, remember
from .relay_txn import Address, RelayTxn

__all__ = ["PREFIX", "FastRelay"]

_DIALOG = frozenset({b"INVITE", b"SUBSCRIBE", b"REFER", b"NOTIFY"})
_NOT_RELAYED = frozenset({b"REGISTER", b"CANCEL", b"ACK"})
_MTU = 1300  # §18.1.1: above this a request moves to TCP, which is the full path's job


class FastRelay(ReplyPath):
    """The relay in front of ``core`` (see the module docstring). Sans-IO:
    :meth:`receive`, :meth:`datagrams_to_send`, :meth:`get_timer`, :meth:`handle_timer`."""

    def __init__(self, core: ProxyCore, *, random: bytes | None = None) -> None:
        super().__init__(core)
        config = core.config
        self.config = config
        salt = random if random is not None else os.urandom(16)
        self._salt = salt
        self._branches = itertools.count(1)
        self._stem = PREFIX + salt[:5].hex().encode() + b"."
        # the keyed state once: each ACK copies it (a keyed init per ACK costs more)
        self._ack_mac = hashlib.blake2b(key=salt, digest_size=8)
        self.routes = RelayRoutes(core)
        self._sources: dict[Address, str] = {}
        udp = config.local.get("udp")
        self._udp = udp
        self._via = b"Via: SIP/2.0/UDP %s:%d;branch=" % (udp[0].encode(), udp[1]) if udp else b""
        self._via_head = self._via[5:]
        self._rr = b"Record-Route: <sip:%s:%d;lr>" % (udp[0].encode(), udp[1]) if udp else b""

    def __repr__(self) -> str:
        return f"FastRelay(domain={self.config.domain!r}, transactions={len(self.servers)})"

    def __len__(self) -> int:
        return len(self.servers)

    @property
    def pending(self) -> int:
        """Relayed requests still waiting for their final response."""
        return sum(1 for txn in self.servers.values() if txn.final is None)

    # -- the sans-IO surface --------------------------------------------------------------------
    def receive(self, data: bytes, source: Address, now: float) -> bool:
        """True when the relay took ``data`` (from ``source`` over UDP)."""
        if self._udp is None:
            return False
        try:
            if data.startswith(b"SIP/2.0 "):
                return self._response(data, now)
            if data.startswith(b"\r\n"):
                # §7.5: CRLFs before the start line, skipped as the parser
                # skips them. A response's must reach the relay's transaction:
                # the full path, which does not hold it, would drop it as stray.
                at = start_line_at(data)
                if data.startswith(b"SIP/2.0 ", at):
                    return self._response(data[at:], now)
            return self._request(data, source, now)
        except (SipsecError, UnicodeError, ValueError):  # pragma: no cover - defensive
            self.stats["relay_errors"] += 1
            return False

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        out, self.out = self.out, []
        return out

    def get_timer(self) -> float | None:
        return self.queue.next()

    # -- requests -------------------------------------------------------------------------------
    def _request(self, data: bytes, source: Address, now: float) -> bool:
        s = rs.scan(data)
        via = None
        if s is not None and s.method is not None:
            top = s.vals[b"via"]  # the first Via line's value; one Via value in it, or declined
            via = None if COMMA in top else rs.parse_top_via(top)
        if s is None or via is None or s.method is None:
            return self._unusual(data, source, now)
        method = s.method
        if s.cseq_method != method:
            return False  # the full path answers 400
        # §17.2.3: the key holds the method, an ACK or CANCEL looking up its INVITE.
        kind = b"INVITE" if method in (b"ACK", b"CANCEL") else method
        txn = self.servers.get((via.branch, via.sent_by, kind))
        if txn is not None:
            return self._known(txn, s, data, source, now)
        if method == b"CANCEL":
            return False  # not for one of ours: the full path answers it (481 or 200)
        if len(self.core.layer) and self._full_path_has(method, via):
            return False
        if method == b"ACK":
            return self._ack(s, via, source, now)
        if method in _NOT_RELAYED or len(self.servers) >= self.config.max_transactions:
            return False
        return self._new(s, via, source, now)

    def _full_path_has(self, method: bytes, via: rs.ViaTop) -> bool:
        """The full path's transaction layer holds this request's transaction
        (asked only when it holds any at all)."""
        key_method = "INVITE" if method == b"ACK" else method.decode()
        sent_by = ("UDP", via.host.decode(), via.port)
        return self.core.full_path_has(key_method, via.branch.decode(), sent_by)

    def _new(self, s: rs.Scan, via: rs.ViaTop, source: Address, now: float) -> bool:
        found = self.routes.route(s, s.to_tag is None, source, now, via)
        if found is None:
            return False
        uri, peer, popped = found
        method = s.method
        assert method is not None and s.max_forwards is not None
        stamped = sp.stamp(via, source[0], source[1])
        lines, keys = sp.stamped_lines(s, stamped)
        branch = self._stem + b"%x" % next(self._branches)
        record = self.config.record_route and method in _DIALOG and s.to_tag is None
        start = s.start if uri is s.uri else method + b" " + uri + b" SIP/2.0"
        out, plan = sp.forward_scan(
            s,
            lines,
            keys,
            start,
            via=self._via + branch + b";rport",
            max_forwards=b"Max-Forwards: %d" % (s.max_forwards - 1),
            pop_routes=popped,
            record_route=self._rr if record else None,
        )
        if len(out) > _MTU:
            return False
        invite = method == b"INVITE"
        t1 = self.timers.t1
        # Timer A or E, Timer B or F, and for an INVITE §16.6 step 11's Timer C,
        # all running from the start (what three arm() calls on a fresh one do)
        timers = {"retx": now + t1, "timeout": now + 64 * t1}
        if invite:
            timers["c"] = now + self.config.timer_c
        txn = RelayTxn(
            (via.branch, via.sent_by, method),
            method.decode(),
            _upstream(via, source),
            (s.start, lines, s.body),  # joined only if a stand-in final needs it
            now,
        )
        vals, parties = s.vals, s.parties
        txn.source = self._sources.get(source) or self._source(source)
        txn.parties = parties
        txn.echo = (vals[b"from"], vals[b"to"], vals[b"call-id"])
        txn.branch, txn.out, txn.peer, txn.interval, txn.timers = branch, out, peer, t1, timers
        txn.below = s.lines[s.via_lines[0]] if stamped is None else stamped
        self.servers[txn.key] = txn
        self.clients[branch] = txn
        stats = self.core.stats
        stats["requests"] += 1
        stats["branches"] += 1
        self.stats["relay_requests"] += 1
        if invite:
            trying = sp.trying(lines, keys) if plan is None else sp.trying_of(lines, plan)
            txn.last = trying  # §16.2 / §17.2.1: 100 Trying at once
            self.out.append((trying, txn.upstream))
        self.out.append((out, peer))
        self.queue.push(txn, min(timers.values()))
        return True

    def _source(self, source: Address) -> str:
        """The log's ``udp:host:port`` of a source, remembered (bounded)."""
        host = source[0]
        text = f"udp:[{host}]:{source[1]}" if ":" in host else f"udp:{host}:{source[1]}"
        return remember(self._sources, source, text, 4096)

    def _known(self, txn: RelayTxn, s: rs.Scan, data: bytes, source: Address, now: float) -> bool:
        method = s.method
        assert method is not None
        if method.decode() == txn.method:  # a retransmission (§17.2.1, §17.2.2)
            if txn.last is not None and txn.s_state <= 1:
                self.out.append((txn.last, txn.upstream))
            self.stats["relay_absorbed"] += 1
            return True
        if method == b"ACK" and txn.invite:
            if txn.s_state == 3:  # Accepted: the full path's layer hands it to the core
                via = rs.parse_top_via(s.vals[b"via"])
                return via is not None and self._ack(s, via, source, now)
            if txn.s_state == 1:  # Completed → Confirmed, Timer I
                txn.s_state = 2
                txn.timers.pop("g", None)
                self.queue.arm(txn, "s_end", now + self.timers.t4)
            self.stats["relay_absorbed"] += 1
            return True
        if method == b"CANCEL" and txn.invite:
            return self._cancel(txn, data, source, now)
        return False

    def _cancel(self, txn: RelayTxn, data: bytes, source: Address, now: float) -> bool:
        if txn.cancel_reply is not None:  # a retransmitted CANCEL: the same 200
            self.out.append(txn.cancel_reply)
            return True
        try:
            cancel = stamped_request(data, source)
        except SipParseError:
            return False
        reply = make_response(cancel, 200, "OK")
        reply.headers.add("Server", self.config.user_agent)
        up = cancel.top_via
        assert up is not None
        upstream = upstream_of(up, source)
        from_, to = cancel.from_, cancel.to
        self.core.log_transaction(
            cancel_record(
                "CANCEL", str(from_.uri) if from_ else "-", str(to.uri) if to else "-", source
            )
        )
        self.cancel_received(txn, bytes(reply), upstream, now)
        return True

    def _unusual(self, data: bytes, source: Address, now: float) -> bool:
        """A request the scanner declined: still the relay's if it names one
        of its transactions (a CANCEL or ACK written differently)."""
        if not self.servers:
            return False
        try:
            request = parse_message(data)
            via = request.top_via
        except SipParseError:
            return False
        if not isinstance(request, Request) or via is None or via.branch is None:
            return False
        host = via.host.lower().encode()
        kind = "INVITE" if request.method in ("ACK", "CANCEL") else request.method
        key = (via.branch.encode(), host + b":" + str(via.port or 5060).encode(), kind.encode())
        txn = self.servers.get(key)
        if txn is None:
            return False
        method = request.method
        if method == txn.method:
            if txn.last is not None and txn.s_state <= 1:
                self.out.append((txn.last, txn.upstream))
            return True
        if method == "ACK" and txn.invite and txn.s_state != 3:
            if txn.s_state == 1:
                txn.s_state = 2
                txn.timers.pop("g", None)
                self.queue.arm(txn, "s_end", now + self.timers.t4)
            return True
        if method == "CANCEL" and txn.invite:
            return self._cancel(txn, data, source, now)
        return False

    # -- the ACK for a 2xx: end to end, forwarded statelessly (§16.11, RFC 6026 §8.9) -----------
    def _ack(self, s: rs.Scan, via: rs.ViaTop, source: Address, now: float) -> bool:
        found = self.routes.route(s, False, source, now, via)
        if found is None:
            return False
        uri, peer, popped = found
        assert s.max_forwards is not None
        lines, keys = sp.stamped_lines(s, sp.stamp(via, source[0], source[1]))
        # The same ACK always gets the same branch (a stateless hop, §16.11).
        digest = self._ack_mac.copy()
        digest.update(via.branch + b"|" + via.sent_by)
        start = s.start if uri is s.uri else b"ACK " + uri + b" SIP/2.0"
        out, _ = sp.forward_scan(
            s,
            lines,
            keys,
            start,
            via=self._via + PREFIX + digest.hexdigest().encode() + b".ack;rport",
            max_forwards=b"Max-Forwards: %d" % (s.max_forwards - 1),
            pop_routes=popped,
        )
        if len(out) > _MTU:
            return False
        self.out.append((out, peer))
        self.core.stats["acks_forwarded"] += 1
        self.stats["relay_acks"] += 1
        return True


def _upstream(via: rs.ViaTop, source: Address) -> Address:
    """§18.2.2 over UDP for a request whose top Via was stamped: the source
    address, and its port when ``rport`` was asked for (RFC 3581 §4)."""
    return (source[0], source[1] if via.rport else via.port or 5060)
