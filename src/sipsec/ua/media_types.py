"""The values of the UA's media negotiation, sans-IO: what it is configured
with (:class:`MediaPolicy`, :class:`SmimeIdentity`), what it hands over
(:class:`SipBody`, :class:`ReceivedSdp`, :class:`LocalOffer`,
:class:`NegotiatedMedia`) and how it fails (:class:`MediaOfferError`,
:class:`KeyTransportRefused`). The operations on them — wrapping and
opening bodies, offer and answer — are :mod:`sipsec.ua.media_offer`'s,
which re-exports every name here. Key octets never appear in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509

from sipsec.ca import CertificateStore, PrivateKey
from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.rtp import MediaConfig
from sipsec.sdp import (
    DEFAULT_SUITE,
    PCMA,
    PCMU,
    AudioCapabilities,
    Codec,
    SessionDescription,
    SrtpKeyParams,
)

__all__ = [
    "KeyLines",
    "KeyTransportRefused",
    "LocalOffer",
    "MediaOfferError",
    "MediaPolicy",
    "NegotiatedMedia",
    "ReceivedSdp",
    "SipBody",
    "SmimeIdentity",
]

KeyLines = Literal["crypto", "k"]


class MediaOfferError(RemoteProtocolError):
    """A received body cannot be used; ``status`` is the SIP response to give."""


class KeyTransportRefused(LocalProtocolError):
    """We were about to send a key in cleartext over a hop that is not TLS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 500)


@dataclass(frozen=True)
class SmimeIdentity:
    """Our S/MIME certificate and key: signs what we send, opens what is sent to us."""

    certificate: x509.Certificate
    key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"SmimeIdentity({self.certificate.subject.rfc4514_string()!r}, key=<redacted>)"


@dataclass(frozen=True)
class MediaPolicy:
    """What this UA offers and accepts (``--media``, ``--keys``, certificates)."""

    srtp: bool = True  # False only when plain RTP was asked for (--media rtp)
    key_lines: KeyLines = "crypto"
    suites: tuple[str, ...] = (DEFAULT_SUITE,)
    codecs: tuple[Codec, ...] = (PCMU, PCMA)
    telephone_event: bool = True
    ptime: int = 20
    identity: SmimeIdentity | None = None
    trust: CertificateStore | None = None
    # An envelope anyone could have made to our certificate proves nothing
    # about its sender: a proxy could swap in its own keys (§23.4.3 signs it).
    require_signature: bool = True

    def __post_init__(self) -> None:
        if self.srtp and not self.suites:
            raise LocalProtocolError("SRTP needs at least one suite", 500)
        if self.key_lines not in ("crypto", "k"):
            raise LocalProtocolError("key_lines is 'crypto' or 'k'", 500)

    def capabilities(self) -> AudioCapabilities:
        suites = self.suites if self.srtp else ()
        if self.key_lines == "k":
            suites = suites[:1]  # k= carries one key of one suite
        return AudioCapabilities(
            codecs=self.codecs,
            telephone_event=self.telephone_event,
            ptime=self.ptime,
            srtp_suites=suites,
            require_srtp=self.srtp,
        )


@dataclass(frozen=True)
class SipBody:
    """A body ready for a request or response: bytes, Content-Type, extra headers."""

    body: bytes = field(repr=False)
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    encrypted: bool = False

    def __repr__(self) -> str:
        return (
            f"SipBody({self.content_type!r}, {len(self.body)} octets, encrypted={self.encrypted})"
        )


@dataclass(frozen=True)
class ReceivedSdp:
    """An opened body: the SDP, and whether it was encrypted and by whom signed."""

    sdp: SessionDescription = field(repr=False)
    encrypted: bool
    signer: x509.Certificate | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        who = self.signer.subject.rfc4514_string() if self.signer is not None else None
        return f"ReceivedSdp(encrypted={self.encrypted}, signer={who!r})"


@dataclass(frozen=True)
class LocalOffer:
    """The offer we sent, kept (with our keys) until its answer arrives."""

    sdp: SessionDescription = field(repr=False)
    body: SipBody

    def __repr__(self) -> str:
        return f"LocalOffer({self.body!r})"


@dataclass(frozen=True)
class NegotiatedMedia:
    """What offer and answer agreed, for :class:`sipsec.transport.media.MediaSession`."""

    remote_rtp: tuple[str, int]
    remote_rtcp: tuple[str, int]
    config: MediaConfig
    send: bool
    receive: bool
    send_key: SrtpKeyParams | None  # SrtpKeyParams hides its octets in repr
    receive_key: SrtpKeyParams | None
    smime: bool  # the SDP we received came encrypted

    @property
    def suite(self) -> str | None:
        """The SRTP profile of both directions; None for plain RTP."""
        return self.send_key.suite if self.send_key is not None else None
