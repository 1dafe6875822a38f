"""Where a proxied request goes and what it carries (RFC 3261 §16.4–§16.6).

Pure functions over a request and the proxy's own addresses: which URIs are
"ours" (§16.4), the Route header we pop, the Record-Route we push (with
RFC 5658's double Record-Route when the transport changes between the two
sides), the Via we add (§16.6 step 8), and the rules that keep a ``sips:``
request on TLS (RFC 3261 §26.2.2, RFC 5630).
"""

from __future__ import annotations

from collections.abc import Mapping

from sipsec.sip import Request, SipParseError, SipUri, Uri, parse_uri
from sipsec.transaction import TransportName

__all__ = [
    "LocalAddresses",
    "contact_uri",
    "next_hop",
    "pop_own_routes",
    "reaches_over_tls",
    "record_route_values",
    "via_value",
]

_DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}


def _bracket(host: str) -> str:
    """IPv6 literals in brackets, as Via and URIs write them (§25.1)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class LocalAddresses:
    """The proxy's domain and listening addresses, and the test "is it us?"."""

    def __init__(self, domain: str, local: Mapping[TransportName, tuple[str, int]]) -> None:
        self.domain = domain
        self.local = dict(local)
        # host:port as written in our Via sent-by and Record-Route.
        self.sent_by = frozenset(
            f"{_bracket(host).lower()}:{port}" for host, port in local.values()
        )
        self._listeners = [
            (transport, _bracket(host).lower(), port) for transport, (host, port) in local.items()
        ]

    def is_ours(self, uri: Uri | None) -> bool:
        """A URI that names this proxy: our address, or our domain without a
        user part (``sip:atlanta.example;lr`` as a preloaded Route)."""
        if not isinstance(uri, SipUri):
            return False
        host = uri.host.lower().rstrip(".")
        if uri.user is None and host == self.domain:
            return True
        return self._names_our_address(uri, host)

    def is_our_domain(self, uri: Uri | None) -> bool:
        """A Request-URI whose user we serve: ``user@domain`` or ``user@our-ip``."""
        if not isinstance(uri, SipUri) or uri.user is None:
            return False
        host = uri.host.lower().rstrip(".")
        return host == self.domain or self._names_our_address(uri, host)

    def _names_our_address(self, uri: SipUri, host: str) -> bool:
        """Host, port and transport of ``uri`` (user part ignored) are one of
        our listeners; ``host`` is its lower-cased host. Runs for every
        request (§16.4, §16.5), hence the precomputed ``_listeners``."""
        for transport, ours, port in self._listeners:
            if host != ours:
                continue
            wanted = uri.transport or ("tls" if uri.secure else None)
            effective = uri.port if uri.port is not None else _DEFAULT_PORT[transport]
            if effective == port and (wanted is None or wanted == transport or transport != "udp"):
                return True
        return False

    def route_uri(self, transport: TransportName, secure: bool) -> str:
        """Our Record-Route URI on ``transport``: ``;lr`` always, ``sips:`` for
        a secure request over TLS, the transport named otherwise (§16.6 step 4)."""
        host, port = _bracket(self.local[transport][0]), self.local[transport][1]
        if transport == "tls" and secure:
            return f"<sips:{host}:{port};lr>"
        suffix = "" if transport == "udp" else f";transport={transport}"
        return f"<sip:{host}:{port}{suffix};lr>"


def pop_own_routes(request: Request, local: LocalAddresses) -> bool:
    """§16.4: undo a strict router's rewrite, then remove every Route value at
    the top that names us. True when at least one was ours (the request is
    following a route set we are on)."""
    routes = request.routes
    uri = request.uri
    if routes and isinstance(uri, SipUri) and uri.lr and local.is_ours(uri):
        # The previous hop was a strict router: the Request-URI is a value we
        # put in a Record-Route; the real one is the last Route (§16.4).
        values = request.headers.get_all("route")
        request.headers.remove("Route")
        for value in values[:-1]:
            request.headers.add("Route", value)
        last = routes[-1].uri
        if last is not None:
            request.uri = last
        routes = request.routes
    popped = False
    while routes and local.is_ours(routes[0].uri):
        request.headers.pop_first("Route")
        popped = True
        routes = request.routes
    return popped


def next_hop(request: Request) -> SipUri | None:
    """The URI to resolve for the next hop: the top Route, else the
    Request-URI (§16.6 step 7). None when it is not a SIP URI."""
    routes = request.routes
    uri: object = routes[0].uri if routes else request.uri
    return uri if isinstance(uri, SipUri) else None


def record_route_values(
    local: LocalAddresses,
    inbound: TransportName,
    outbound: TransportName,
    secure: bool,
) -> list[str]:
    """The Record-Route values to prepend, top first.

    One entry when both sides use one transport. When they differ (UDP in,
    TLS out), RFC 5658 §4 double Record-Route: the callee's route set starts
    at the top entry, which must be reachable over the outbound transport;
    the caller's ends with the lower one, reachable over the inbound one.
    """
    inbound_uri = local.route_uri(inbound, secure) if inbound in local.local else None
    outbound_uri = local.route_uri(outbound, secure)
    if inbound_uri is None or inbound_uri == outbound_uri:
        return [outbound_uri]
    return [outbound_uri, inbound_uri]


def via_value(local: LocalAddresses, transport: TransportName, branch: str) -> str:
    """Our Via (§16.6 step 8); ``rport`` asks the next hop to answer to the
    port we sent from (RFC 3581), which is our listening port anyway."""
    host, port = _bracket(local.local[transport][0]), local.local[transport][1]
    return f"SIP/2.0/{transport.upper()} {host}:{port};branch={branch};rport"


def reaches_over_tls(target: Uri) -> bool:
    """Whether a target keeps a ``sips:`` request secure: it is itself
    ``sips:`` or names ``transport=tls`` (RFC 5630 §3.1.3)."""
    return isinstance(target, SipUri) and (target.secure or target.transport == "tls")


def contact_uri(binding_contact: str) -> SipUri | None:
    """A stored contact as a SIP URI, or None if it no longer parses as one."""
    try:
        uri = parse_uri(binding_contact)
    except SipParseError:
        return None
    return uri if isinstance(uri, SipUri) else None
