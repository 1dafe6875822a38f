"""Where a UA sends a request, and how it names itself there.

- :func:`transport_of`, :func:`static_peer`: the next hop of a URI when no
  DNS is needed (RFC 3263 §4.1 and §4.2 for an IP literal: the transport
  parameter, ``sips`` → TLS, default ports 5060/5061); a host name gives
  None, and the UA asks its driver to resolve it.
- :func:`via_value`, :func:`contact_uri`: our Via (§8.1.1.7, with RFC 3581
  ``rport``) and Contact (§8.1.1.8: ``sips`` when the request is, and the
  transport parameter so the peer reaches us on the right transport).
"""

from __future__ import annotations

import ipaddress

from sipsec.errors import LocalProtocolError
from sipsec.sip import SipUri, Uri
from sipsec.transaction import Peer, TransportName

__all__ = ["contact_uri", "is_ip_literal", "static_peer", "transport_of", "via_value"]

_TRANSPORTS: dict[str, TransportName] = {"udp": "udp", "tcp": "tcp", "tls": "tls"}


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        return False
    return True


def transport_of(uri: SipUri) -> TransportName:
    """RFC 3263 §4.1: an explicit transport parameter wins; ``sips`` means
    TLS (a ``sips`` URI with ``transport=tcp`` still means TLS over TCP)."""
    if uri.secure:
        return "tls"
    return _TRANSPORTS.get(uri.transport or "udp", "udp")


def static_peer(uri: Uri) -> Peer | None:
    """The hop for a URI whose host (or ``maddr``) is an IP literal, else None.

    ``server_name`` is left empty for an IP literal: RFC 5922 §4 matches
    certificates against domains, never addresses.
    """
    if not isinstance(uri, SipUri):
        raise LocalProtocolError(f"cannot route to a {uri.scheme}: URI")
    host = uri.maddr or uri.host
    if not is_ip_literal(host):
        return None
    transport = transport_of(uri)
    port = uri.port or (5061 if transport == "tls" else 5060)
    return Peer(transport, host.strip("[]"), port)


def _host(address: tuple[str, int]) -> str:
    host, port = address
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}"


def via_value(transport: TransportName, address: tuple[str, int], branch: str) -> str:
    """``SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK…`` (§8.1.1.7, RFC 3581 §3)."""
    return f"SIP/2.0/{transport.upper()} {_host(address)};rport;branch={branch}"


def contact_uri(
    user: str | None, transport: TransportName, address: tuple[str, int], *, secure: bool
) -> str:
    """Our Contact URI for ``transport``. A ``sips`` request needs a ``sips``
    Contact (§8.1.1.8); its transport is implied (RFC 5630 §3.3 deprecates
    ``transport=tls``), otherwise the parameter names the transport."""
    host, port = address
    host = f"[{host}]" if ":" in host else host
    if secure:
        if transport != "tls":
            raise LocalProtocolError("a sips: Contact needs a TLS listener")
        return str(SipUri(host, scheme="sips", user=user, port=port))
    return str(SipUri(host, user=user, port=port, params={"transport": transport}))
