"""Where a UA listens, and which of its addresses it gives to peers.

:func:`open_listening` binds what the UA's transport needs: UDP and TCP on
one port for ``udp`` (RFC 3261 §18: every element implements both, and a
request over 1300 octets moves to TCP, §18.1.1), else the one transport.
A TLS *server* needs a certificate, a TLS *client* does not: without one
the UA opens no TLS listener and only holds a port for its Via sent-by and
Contact; requests for it come back over the connection it opened (§18, as
proxies that reuse connections do, RFC 5923).

:func:`advertised_address` is the IP that goes into Contact, Via and the
SDP ``c=`` line (RFC 4566 §5.7). A wildcard listen address (0.0.0.0, ::)
names no interface a peer could reach, so it is replaced by the address the
kernel would send from toward the first hop.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from sipsec.transaction import Peer, TransportName
from sipsec.ua.addressing import is_ip_literal

from .endpoint import SipEndpoint
from .resolver import Resolver
from .ua_settings import UaAppError, UaSettings, sip_uri

__all__ = [
    "Listening",
    "advertised_address",
    "is_unspecified",
    "listens_on_tls",
    "open_listening",
    "outward_address",
    "transports_for",
]


def listens_on_tls(transport: TransportName, settings: UaSettings) -> bool:
    """Only with a certificate of our own: a TLS server must present one."""
    tls = settings.tls
    return transport == "tls" and tls is not None and tls.certfile is not None


def transports_for(transport: TransportName) -> tuple[TransportName, ...]:
    return ("udp", "tcp") if transport == "udp" else (transport,)


def new_endpoint(settings: UaSettings) -> SipEndpoint:
    resolver = Resolver(dict(settings.hosts), use_dns=settings.use_dns)
    return SipEndpoint(
        tls=settings.tls, resolver=resolver, on_trace=settings.on_trace, on_wire=settings.on_wire
    )


@dataclass
class Listening:
    """The endpoint, our address on it, and the port held when not listening."""

    endpoint: SipEndpoint
    local: Peer
    reserved: socket.socket | None = field(default=None, repr=False)
    note: str | None = None  # for -v: why we do not listen

    def release(self) -> None:
        if self.reserved is not None:
            self.reserved.close()
            self.reserved = None


async def open_listening(settings: UaSettings, transport: TransportName) -> Listening:
    """A fresh endpoint listening as ``transport`` needs; its sockets are
    closed again when this fails."""
    host, port = settings.listen
    endpoint = new_endpoint(settings)
    try:
        if transport == "tls" and not listens_on_tls(transport, settings):
            reserved = _reserve(host, port)
            local = Peer("tls", host, int(reserved.getsockname()[1]))
            note = (
                f"no certificate: not listening on TLS; {host}:{local.port} is only our "
                "Via/Contact address, requests come back over our connection"
            )
            return Listening(endpoint, local, reserved, note)
        for _attempt in range(5 if port == 0 else 1):
            first = await endpoint.listen(transport, host, port)
            try:
                for extra in transports_for(transport)[1:]:
                    await endpoint.listen(extra, host, first.port)
            except OSError:
                if port != 0:
                    raise
                # The free UDP port was taken for TCP: a fresh endpoint, a fresh port.
                await endpoint.close()
                endpoint = new_endpoint(settings)
                continue
            return Listening(endpoint, first)
        raise UaAppError(f"no port on {host} free for both UDP and TCP", kind="network")
    except BaseException:
        await endpoint.close()
        raise


def _reserve(host: str, port: int) -> socket.socket:
    """Hold a TCP port (bound, never listening) for our Via sent-by and
    Contact (§18.1.1 needs one), so no other process advertises it: a
    connection to it is refused instead of reaching someone else."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UaAppError(f"cannot bind {host}:{port}: {exc.strerror}", kind="network") from None
    return sock


def advertised_address(
    settings: UaSettings, local: Peer, resolver: Resolver, outbound: Peer | None
) -> tuple[str, str | None]:
    """Our IP for Contact/Via and SDP ``c=``, and a note for -v when it is
    not the listen address. For a wildcard listen address: --contact-host
    when it is an IP, else our address toward the first hop (the proxy, or
    a target given by IP or --host); otherwise a usage error."""
    if not is_unspecified(local.host):
        return local.host, None
    if settings.contact_host is not None and is_ip_literal(settings.contact_host):
        return settings.contact_host.strip("[]"), None
    first_hop = outbound
    if first_hop is None and settings.target is not None:
        hops = resolver.resolve_static(sip_uri(settings.target))
        first_hop = hops[0] if hops else None
    found = outward_address(first_hop.host) if first_hop is not None else None
    if found is None:
        raise UaAppError(
            f"listening on {local.host} (every address): cannot tell which of our "
            "addresses to put in Contact and the SDP c= line; give --proxy, a target "
            "by IP address, or --contact-host IP",
            kind="usage",
        )
    return found, f"listening on {local.host}: we advertise {found} (toward {first_hop})"


def is_unspecified(host: str) -> bool:
    """0.0.0.0 or ::, a listen address that names no interface."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def outward_address(toward: str) -> str | None:
    """Our address on the route to ``toward`` (an IP), as the kernel picks
    it: a connected UDP socket sends nothing. None when there is no route."""
    try:
        ip = ipaddress.ip_address(toward.strip("[]"))
    except ValueError:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(ip), 9))
            return str(probe.getsockname()[0])
    except OSError:
        return None
