"""Where the fast relay sends a request, and whether it may (RFC 3261 §16.3–§16.5).

:class:`RelayRoutes` makes the full path's decisions on the scanned bytes:
the checks of §16.3 the relay does not leave to the parser (Max-Forwards,
Proxy-Require, loops), §16.4 route processing (our own Routes popped, a
strict router's rewrite declined), whether the full path would challenge
(``authenticate_invites``), and §16.5 targets with RFC 3263 reduced to
what needs no DNS: an IP literal, a hosts-map name of one UDP peer, or the
one UDP binding of a user of our domain. ``None`` everywhere means
"decline": the full path decides, and may well do something else.
"""

from __future__ import annotations

import re

from . import relay_scan as rs
from .core import ProxyCore
from .location import InvalidAor, normalize_aor
from .registrar import flow_of
from .relay_shapes import COMMA, remember
from .relay_txn import Address
from .routing import contact_uri
from .store import StoreError

__all__ = ["RelayRoutes"]

_DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}
_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(_OCTET + rb"(?:\." + _OCTET + rb"){3}")
_UNDECIDED = (None, None, -1)  # not in RelayRoutes._decided: compared by identity
_CACHE = 4096  # AORs and contacts remembered; cleared when full (a flood cannot grow them)


class RelayRoutes:
    """The §16.3–§16.5 decisions of one proxy, on bytes."""

    def __init__(self, core: ProxyCore) -> None:
        config = core.config
        self.core = core
        self.config = config
        self.domain = config.domain.encode()
        self._listeners = [(t, h.lower().encode(), p) for t, (h, p) in config.local.items()]
        self._ours = frozenset(
            (h.lower() + ":" + str(p)).encode() for h, p in config.local.values()
        )
        self._aors: dict[bytes, str | None] = {}
        self._contacts: dict[str, tuple[bytes, Address] | None] = {}
        # (Request-URI, *Route lines) → what _decide made of their values
        self._decided: dict[tuple[bytes, ...], tuple[bytes | None, Address | None, int] | None]
        self._decided = {}

    def route(
        self, s: rs.Scan, initial: bool, source: Address, now: float, top: rs.ViaTop
    ) -> tuple[bytes, Address, int] | None:
        """(Request-URI to write, next hop, own Route lines to pop) or None: decline.
        ``top``: the request's top Via, read by :func:`~.relay_scan.parse_top_via`."""
        config = self.config
        if not self.core.accepting or config.source_rate is not None:
            return None
        if not s.max_forwards:
            return None  # absent: the full path writes 70; 0: it answers 483
        index = s.index
        if b"proxy-require" in index or b"require" in index or b"record-route" in index:
            return None
        if top.written in self._ours:
            return None  # §16.3 step 4: a loop or a spiral, the full path decides
        if len(s.via_lines) > 1 or COMMA in s.vals[b"via"]:
            bys = rs.sent_bys(s, top)
            if not bys or any(b in self._ours for b in bys):
                return None
        # keyed by the Route lines as written: each line is one value
        routes = s.routes
        if not routes:
            key: tuple[bytes, ...] = (s.uri,)
        elif len(routes) == 1:  # a dialog's requests through us: no comprehension's frame
            key = (s.uri, s.lines[routes[0]])
        else:
            lines = s.lines
            key = (s.uri, *[lines[i] for i in routes])
        # one lookup (a tuple's hash is not kept): _UNDECIDED is never a decision
        decision = self._decided.get(key, _UNDECIDED)
        if decision is _UNDECIDED:
            decision = self._decide(s.uri, tuple(s.value(i) for i in s.routes))
            remember(self._decided, key, decision, _CACHE)
        if decision is None:
            return None
        if initial and config.authenticate_invites and source[0] not in config.trusted_addresses:
            return None  # the full path challenges (407) or refuses (403)
        user, peer, popped = decision
        if user is not None:
            target = self._lookup(user, now)
            if target is None:
                return None
            return target[0], target[1], popped
        assert peer is not None
        return s.uri, peer, popped

    def _decide(
        self, uri: bytes, route_values: tuple[bytes, ...]
    ) -> tuple[bytes | None, Address | None, int] | None:
        """What route() decides from the Request-URI and Route values alone
        (§16.4, §16.5): (user to look up, None, pops), (None, next hop, pops)
        or None. A function of the bytes and the configuration only, so
        route() remembers it."""
        if not rs.accepted_uri(uri):
            return None  # sips:, tel:, or a shape we do not copy blindly
        routes = []
        for value in route_values:
            route = rs.name_addr_uri(value)
            if route is None:
                return None
            routes.append(route)
        user, host, port, params = rs.uri_host_port(uri)
        if routes and b"lr" in params and self._is_ours(user, host, port, params):
            return None  # the previous hop was a strict router (§16.4)
        popped = 0
        while popped < len(routes) and self._is_ours(*rs.uri_host_port(routes[popped])):
            popped += 1
        left = routes[popped:]
        if not left and self._is_ours(user, host, port, params):
            return None  # for the proxy itself (OPTIONS, 404 …)
        if not left and user is not None and self._names_us(host, port, params, domain=True):
            return user, None, popped  # §16.5: the location service, per request
        hop = rs.uri_host_port(left[0]) if left else (user, host, port, params)
        peer = self._resolve(hop[1], hop[2], hop[3])
        return None if peer is None else (None, peer, popped)

    def _is_ours(
        self, user: bytes | None, host: bytes, port: int | None, params: dict[bytes, bytes | None]
    ) -> bool:
        """routing.LocalAddresses.is_ours on the URI's parts."""
        return self._names_us(host, port, params, domain=user is None)

    def _names_us(
        self, host: bytes, port: int | None, params: dict[bytes, bytes | None], *, domain: bool
    ) -> bool:
        host = host.lower().rstrip(b".")
        if domain and host == self.domain:
            return True
        wanted = params.get(b"transport")
        for transport, ours, listen_port in self._listeners:
            if host != ours:
                continue
            effective = port if port is not None else _DEFAULT_PORT[transport]
            if effective == listen_port and (
                wanted is None or wanted.lower() == transport.encode() or transport != "udp"
            ):
                return True
        return False

    def _resolve(
        self, host: bytes, port: int | None, params: dict[bytes, bytes | None]
    ) -> Address | None:
        """The one UDP hop of an IP literal or a hosts-map name (RFC 3263 without DNS)."""
        if b"maddr" in params:
            return None
        transport = params.get(b"transport", b"udp")
        if transport is None or transport.lower() != b"udp":
            return None
        if _IPV4.fullmatch(host):
            return (host.decode(), port if port is not None else 5060)
        entries = self.config.hosts.get(host.lower().rstrip(b".").decode())
        if entries is None or len(entries) != 1 or entries[0].transport != "udp":
            return None
        return (entries[0].host, port if port is not None else entries[0].port)

    def _lookup(self, user: bytes, now: float) -> tuple[bytes, Address] | None:
        """§16.5: the one UDP binding of ``user`` of our domain, as (Request-URI, hop)."""
        aor = self._aors.get(user, "")
        if aor == "":
            try:
                aor = normalize_aor(f"sip:{user.decode()}@{self.config.domain}")
            except InvalidAor:
                aor = None
            remember(self._aors, user, aor, _CACHE)
        if aor is None:
            return None
        try:
            bindings = self.core.location.lookup(aor, self.core.wall(now))
        except StoreError:
            return None  # the full path answers 500
        if len(bindings) != 1 or flow_of(bindings[0].received) is not None:
            return None
        contact = bindings[0].contact
        if contact in self._contacts:
            return self._contacts[contact]
        return remember(self._contacts, contact, self._target(contact), _CACHE)

    def _target(self, contact: str) -> tuple[bytes, Address] | None:
        uri = contact_uri(contact)
        if uri is None or uri.secure:
            return None
        text = str(uri).encode()
        if not rs.accepted_uri(text):
            return None
        _, host, port, params = rs.uri_host_port(text)
        peer = self._resolve(host, port, params)
        return None if peer is None else (text, peer)
