"""What a :class:`~sipsec.transport.ua_app.UaApp` is told and what it reports.

:class:`UaSettings` is everything the command line can say about one UA;
:class:`CallSummary` is how one call went (the summary line and the exit
code of ``sipsec call`` / ``sipsec answer``); :class:`UaAppError` is a
failure before or outside a call, with whose fault it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509

from sipsec.ca import CertificateNotFound, CertificateStore, certificate_addresses
from sipsec.errors import SipsecError
from sipsec.sip import SipParseError, SipUri, parse_uri
from sipsec.transaction import Peer, TransportName
from sipsec.ua import Call
from sipsec.ua.addressing import transport_of
from sipsec.ua.media_offer import KeyLines, MediaPolicy, NegotiatedMedia, SmimeIdentity

from .tls import TlsSettings
from .trace import TraceCallback, WireCallback
from .ua_media import CallMedia

__all__ = [
    "CallSummary",
    "FailureKind",
    "UaAppError",
    "UaSettings",
    "failure_kind",
    "sip_uri",
    "summarize",
]


FailureKind = Literal["usage", "auth", "network", "failed"]


class UaAppError(SipsecError):
    """Registration or set-up failed. ``status`` is the SIP status (0: none
    came); ``kind`` says whose fault: bad settings, credentials, the network
    (or no answer in time), or a refusal by the peer."""

    def __init__(self, message: str, status: int = 0, *, kind: FailureKind = "failed") -> None:
        super().__init__(message)
        self.status = status
        self.kind: FailureKind = kind


@dataclass
class UaSettings:
    """Everything the command line can say about one UA."""

    aor: str
    proxy: str | None = None  # the outbound proxy / registrar URI
    listen: tuple[str, int] = ("127.0.0.1", 0)
    # The name in our Contact and Via instead of the bound address: over TLS
    # a peer can only verify a domain, never an IP address (RFC 5922 §4).
    contact_host: str | None = None
    transport: TransportName | None = None  # None: the proxy's, else the target's, else UDP
    target: str | None = None  # whom ``call`` will call, when there is no proxy
    username: str | None = None
    # Out of == too: the generated __eq__ would compare it with an early exit.
    password: str | None = field(default=None, repr=False, compare=False)
    tls: TlsSettings | None = None
    hosts: Mapping[str, Sequence[Peer]] = field(default_factory=dict)
    use_dns: bool = True
    media: Literal["srtp", "rtp"] = "srtp"
    keys: Literal["sdes", "smime"] = "sdes"
    # SDES keys in cleartext SDP over a TLS hop next to us only: to a sip:
    # (not sips:) target, or in an offer whose earlier hops were not TLS,
    # trusting the proxies (RFC 3261 §26.2.2 promises TLS on every hop only
    # for sips:). Off by default; see UaApp.keys_protected_to.
    allow_sdes_over_first_hop_tls: bool = False
    identity: SmimeIdentity | None = None  # --cert/--key: signs, decrypts
    trust: CertificateStore | None = None  # --ca-file: verifies signers
    peer_certificate: x509.Certificate | None = None  # --peer-cert: encrypts offers
    play: Path | None = None
    record: Path | None = None
    timeout: float = 30.0  # for each answer we wait for (register, INVITE, BYE)
    register_expires: int = 3600
    on_trace: TraceCallback | None = None
    on_wire: WireCallback | None = None  # socket bytes of the signalling (pcap)
    on_media: Callable[[CallMedia], None] | None = None  # each call's media, once bound
    on_media_wire: WireCallback | None = None  # each RTP/RTCP datagram sent, as sent (pcap)
    on_note: Callable[[str], None] | None = None  # what -v says besides the messages
    # Where the keys sit in the SDP; None: k= inside S/MIME, a=crypto over TLS.
    key_lines: KeyLines | None = None
    suites: tuple[str, ...] = ("AES_CM_128_HMAC_SHA1_80",)
    answer_audio_seconds: float = 300.0  # the tone an answerer sends without --play

    def policy(self) -> MediaPolicy:
        return MediaPolicy(
            srtp=self.media == "srtp",
            key_lines=self.key_lines or ("k" if self.keys == "smime" else "crypto"),
            suites=self.suites,
            identity=self.identity,
            trust=self.trust,
        )

    def smime_recipient(self, target: str) -> x509.Certificate | None:
        """Whom an S/MIME offer is encrypted to (§23.4.3): --peer-cert, else
        the target's certificate among the trusted ones; None without S/MIME."""
        if self.keys != "smime" or self.media != "srtp":
            return None
        if self.peer_certificate is not None:
            return self.peer_certificate
        try:
            if self.trust is not None:
                return self.trust.find(target)
        except (CertificateNotFound, SipsecError):
            pass
        raise UaAppError(
            f"S/MIME keys need the certificate of {target} (--peer-cert)", kind="usage"
        )

    def callee_identity(self, target: str) -> str:
        """Who must sign the answer (§23.4.1): the owner of --peer-cert when
        one was given (a direct call to an IP address names nobody), else
        the target."""
        if self.peer_certificate is not None:
            for address in sorted(certificate_addresses(self.peer_certificate)):
                if not address.is_domain:
                    return address.uri
        return target

    def signalling_transport(self) -> TransportName:
        if self.transport is not None:
            return self.transport
        first_hop = self.proxy if self.proxy is not None else self.target
        return transport_of(sip_uri(first_hop)) if first_hop is not None else "udp"


@dataclass(frozen=True)
class CallSummary:
    """How one call went, for the summary line and the exit code."""

    final_status: int
    reason: str
    duration: float
    packets_sent: int = 0
    packets_received: int = 0
    packets_rejected: int = 0
    auth_failures: int = 0
    srtp_suite: str | None = None
    smime: bool = False
    call_id: str = ""
    ended_by_remote: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.final_status < 300


def summarize(
    call: Call,
    status: int,
    reason: str,
    media: CallMedia | None = None,
    *,
    agreed: NegotiatedMedia | None = None,
    by_remote: bool = False,
    duration: float = 0.0,
) -> CallSummary:
    """The summary of ``call``; closes its media first (RTCP BYE), so the
    counters are final."""
    counters = media.close() if media is not None else None
    return CallSummary(
        final_status=status,
        reason=reason,
        duration=round(duration, 3),
        packets_sent=counters.sent if counters else 0,
        packets_received=counters.received if counters else 0,
        packets_rejected=counters.rejected if counters else 0,
        auth_failures=call.auth_failures,
        srtp_suite=agreed.suite if agreed else None,
        smime=agreed.smime if agreed else False,
        call_id=call.call_id,
        ended_by_remote=by_remote,
    )


def sip_uri(text: str) -> SipUri:
    try:
        uri = parse_uri(text)
    except SipParseError as exc:
        raise UaAppError(f"{text!r} is not a SIP URI: {exc.reason}", kind="usage") from None
    if not isinstance(uri, SipUri):
        raise UaAppError(f"{text!r} is not a sip: or sips: URI", kind="usage")
    return uri


def failure_kind(status: int) -> FailureKind:
    if status in (401, 407):
        return "auth"
    return "network" if status in (408, 503) else "failed"
