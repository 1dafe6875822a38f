"""When the user agent application lets an SRTP key travel in cleartext SDP.

An SDES key (RFC 4568) in a body that is not S/MIME-encrypted is protected
only by the transport it crosses, so it may go only where TLS covers every
hop (RFC 4568 §8.3):

- a caller's offer, and the answer's key that comes back, only when our
  first hop is TLS and the target is ``sips:`` — the one Request-URI that
  makes proxies keep TLS past our first hop (RFC 3261 §26.2.2) — or when
  the user chose to trust the proxies (``allow_sdes_over_first_hop_tls``);
- a callee's answer only to an offer whose every Via, and the connection
  it came over, is TLS: the answer goes back along that Via path (§18.2.2).

Everywhere else the body must be S/MIME-encrypted (``keys="smime"``), which
:mod:`sipsec.ua.media_offer` enforces given what these checks say.
"""

from __future__ import annotations

from sipsec.sip import Request, SipParseError
from sipsec.transaction import Peer, TransportName

from .ua_settings import UaSettings, sip_uri

__all__ = ["arrived_over_tls", "from_aor", "keys_protected_to", "refusal_reason"]


def keys_protected_to(transport: TransportName, settings: UaSettings, target: str) -> bool:
    """May an SDES key travel in cleartext SDP to ``target`` over our first
    hop ``transport``, and its answer's key come back? Only TLS on every hop
    protects it (RFC 4568 §8.3), and only a ``sips:`` Request-URI makes
    proxies keep TLS past our first hop (RFC 3261 §26.2.2): a ``sip:``
    target over a TLS first hop may be forwarded over UDP.
    ``allow_sdes_over_first_hop_tls`` trusts the proxies instead, for peers
    that cannot be reached by ``sips:``. Raises what :func:`sip_uri` raises
    for a target that is no SIP URI."""
    if transport != "tls":
        return False
    return settings.allow_sdes_over_first_hop_tls or sip_uri(target).secure


def refusal_reason(reason: str, transport: TransportName, target: str) -> str:
    """Why our offer to ``target`` was not sent, and what to do about it
    when the missing ``sips:`` is the cause (§26.2.2)."""
    why = f"refusing to send the offer: {reason}"
    if transport == "tls" and not sip_uri(target).secure:
        why += (
            f"; {target} is not sips:, so a proxy may forward it over UDP: call a "
            "sips: URI, use --keys smime, or --allow-sdes-over-first-hop-tls"
        )
    return why


def arrived_over_tls(
    request: Request, source: Peer | None = None, *, last_hop_only: bool = False
) -> bool:
    """Did every hop of ``request`` run over TLS? Our answer's key goes back
    along its Via path (RFC 3261 §18.2.2), so one UDP or TCP Via anywhere
    means the offer's key crossed it in cleartext and ours would too (RFC
    4568 §8.3). The top Via is only what the last hop claims: the connection
    it came over (``source``, when known) must be TLS as well.
    ``last_hop_only`` (--allow-sdes-over-first-hop-tls) looks at the top Via
    and the connection alone."""
    if source is not None and source.transport != "tls":
        return False
    try:
        vias = request.vias
    except SipParseError:
        return False  # a Via we cannot read proves nothing
    if last_hop_only:
        vias = vias[:1]
    return bool(vias) and all(via.transport.upper() == "TLS" for via in vias)


def from_aor(request: Request) -> str:
    """The address of record in From: whose signature an S/MIME offer must
    carry (RFC 3261 §23.3); empty when there is no From."""
    sender = request.from_
    return str(sender.uri) if sender is not None else ""
