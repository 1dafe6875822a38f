"""The SDP a UA sends and receives for a call, with its SRTP keys, sans-IO.

One audio stream of G.711 (RFC 3551 PCMU/PCMA, RFC 4733 telephone-event
optional) protected by SRTP (RFC 3711). The master keys are fresh for every
offer and answer (``secrets`` by default, injectable) and travel in one of
two ways:

- ``a=crypto`` lines, SDES (RFC 4568 §5, §7): one line per offered suite; the
  answer keeps the chosen tag and gives the answerer's own key;
- ``k=base64:`` (RFC 4566 §5.12) with ``a=x-srtp-suite`` (see
  :mod:`sipsec.sdp.keys`): one key of one suite each way, the seed's way.

A key must never cross a hop in the clear (DESIGN.md, RFC 4568 §8.3): a body
with key lines goes out either encrypted with S/MIME to the peer's
certificate and signed with ours — RFC 3261 §23.4.3, the signature around the
envelope — or over a TLS hop; :func:`wrap_sdp` refuses anything else. On
receipt, :func:`unwrap_sdp` decrypts, verifies the signature and chain against
the trust anchors and that the signer's subjectAltName is the expected
address (the From of a request, the To of a response, §23.4.1), and refuses a
cleartext key that came over a hop that was not TLS.

Every failure is a :class:`MediaOfferError` whose ``status`` is the SIP
answer: 400 (a body that does not parse, a broken signature), 415 (a body
type we do not take), 493 Undecipherable (not for us, §23.2), 403 (a signer
that is untrusted, expired, revoked or not the From address), 488 (nothing
acceptable in the SDP, or a cleartext key over a hop that is not TLS: the
*session description* is what cannot be accepted here, and 488 tells the
offerer to change it, RFC 3261 §21.4.26). Key octets never appear in a repr.

The value types (policy, bodies, results, errors) live in
:mod:`.media_types` and are re-exported here; this module holds the
operations on them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from cryptography import x509

from sipsec.ca import CaError
from sipsec.errors import LocalProtocolError
from sipsec.rtp import MediaConfig
from sipsec.sdp import (
    DEFAULT_SUITE,
    PCMA,
    PCMU,
    SUITE_ATTRIBUTE,
    CryptoAttribute,
    SdpError,
    SessionDescription,
    answer_offer,
    build_offer,
    crypto_attributes,
    key_field_for,
    key_from_field,
    key_transport_problem,
    negotiated,
    parse_sdp,
)
from sipsec.smime import MimeEntity, SmimeError, UnsupportedBody, open_body, sign_and_encrypt
from sipsec.smime.mime import parse_params

from .media_types import (
    KeyLines,
    KeyTransportRefused,
    LocalOffer,
    MediaOfferError,
    MediaPolicy,
    NegotiatedMedia,
    ReceivedSdp,
    SipBody,
    SmimeIdentity,
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
    "accept_answer",
    "create_answer",
    "create_offer",
    "unwrap_sdp",
    "wrap_sdp",
]

Random = Callable[[int], bytes]
SDP_TYPE = "application/sdp"
# RFC 3261 §20.11 and §23.4.3: the body describes the session, and a UAS that
# cannot open it must refuse the request rather than ignore the body.
SMIME_DISPOSITION = "session;handling=required"
_SMIME_TYPES = {"multipart/signed", "application/pkcs7-mime", "application/x-pkcs7-mime"}
_SAVP = "RTP/SAVP"
_G711 = (PCMU.payload_type, PCMA.payload_type)


# -- bodies: S/MIME or the TLS hop ------------------------------------------------


def wrap_sdp(
    sdp: bytes,
    policy: MediaPolicy,
    *,
    hop_is_tls: bool,
    recipient: x509.Certificate | None,
    now: dt.datetime,
) -> SipBody:
    """The body to send: signed and encrypted to ``recipient`` when one is given,
    else plain SDP — which :class:`KeyTransportRefused` stops when it holds a
    key and the hop is not TLS."""
    if recipient is None:
        problem = key_transport_problem(sdp, hop_is_tls=hop_is_tls, body_encrypted=False)
        if problem is not None:
            raise KeyTransportRefused(problem)
        return SipBody(sdp, SDP_TYPE)
    identity = policy.identity
    if identity is None:
        raise LocalProtocolError("S/MIME needs our certificate and key to sign with", 500)
    inner = MimeEntity([("Content-Type", SDP_TYPE), ("Content-Disposition", "session")], sdp)
    outer = sign_and_encrypt(inner, identity.certificate, identity.key, [recipient], now=now)
    content_type = outer.get("Content-Type") or ""
    return SipBody(outer.body, content_type, (("Content-Disposition", SMIME_DISPOSITION),), True)


def unwrap_sdp(
    body: bytes,
    content_type: str | None,
    policy: MediaPolicy,
    *,
    hop_is_tls: bool,
    signer_address: str,
    now: dt.datetime,
) -> ReceivedSdp:
    """Open a received body down to its SDP; :class:`MediaOfferError` otherwise.

    ``signer_address`` is who must have signed an S/MIME body: the From of a
    request, the To of a response (RFC 3261 §23.4.1).
    """
    if not body:
        raise MediaOfferError("no SDP body (an offer in the ACK is not supported)", 488)
    try:
        media, _ = parse_params(content_type or SDP_TYPE)
    except SmimeError as exc:
        raise MediaOfferError(f"bad Content-Type: {exc.reason}", 400) from None
    encrypted, signer = False, None
    if media == SDP_TYPE:
        inner = body
    elif media in _SMIME_TYPES:
        inner, encrypted, signer = _open_smime(
            body, content_type or "", policy, signer_address, now
        )
    else:
        raise MediaOfferError(f"{media} is not a body this UA takes (application/sdp)", 415)
    problem = key_transport_problem(inner, hop_is_tls=hop_is_tls, body_encrypted=encrypted)
    if problem is not None:
        raise MediaOfferError(f"refused: {problem}", 488)
    try:
        sdp = parse_sdp(inner)
    except SdpError as exc:
        raise MediaOfferError(exc.reason, exc.status) from None
    return ReceivedSdp(sdp, encrypted, signer)


def _open_smime(
    body: bytes, content_type: str, policy: MediaPolicy, signer_address: str, now: dt.datetime
) -> tuple[bytes, bool, x509.Certificate | None]:
    if policy.trust is None:
        raise MediaOfferError("an S/MIME body arrived and no trust anchors are configured", 493)
    identity = policy.identity
    entity = MimeEntity([("Content-Type", content_type)], body)
    try:
        opened = open_body(
            entity,
            store=policy.trust,
            now=now,
            from_address=signer_address,
            cert=identity.certificate if identity is not None else None,
            key=identity.key if identity is not None else None,
            # §23.4.3, and no padding oracle: an envelope that is not inside a
            # verified signature is opened blind, so a forged CBC padding and
            # a missing signature get the same 403 (see open_body).
            require_signature=policy.require_signature,
        )
        inner_type, _ = opened.content.content_type()
        inner = opened.content.decoded_body()
    except SmimeError as exc:
        # §23.2: a body we hold no key for is undecipherable to us (493), not unsupported.
        no_key = identity is None and isinstance(exc, UnsupportedBody) and "no key" in exc.reason
        status = 493 if no_key else exc.status
        raise MediaOfferError(f"S/MIME: {exc.reason}", status) from None
    except CaError as exc:  # the expected signer address itself is not a SIP address
        raise MediaOfferError(f"S/MIME: cannot check the signer: {exc}", 400) from None
    if inner_type != SDP_TYPE:
        raise MediaOfferError(f"S/MIME content is {inner_type}, not {SDP_TYPE}", 415)
    return inner, opened.encrypted, opened.signer


# -- offer and answer ------------------------------------------------------------


def _random(random: Random | None) -> Random:
    return random if random is not None else secrets.token_bytes


def _crypto_to_k(sdp: SessionDescription) -> None:
    """Move each stream's single ``a=crypto`` key into ``k=`` (+ ``a=x-srtp-suite``)."""
    for media in sdp.media:
        found = crypto_attributes(media)
        if not found or media.port == 0:
            media.attributes = [a for a in media.attributes if a.name != "crypto"]
            continue
        key = found[0].key_params()[0]
        media.attributes = [a for a in media.attributes if a.name != "crypto"]
        media.key = key_field_for(key)
        if key.suite != DEFAULT_SUITE:
            media.add_attribute(SUITE_ATTRIBUTE, key.suite)


def _k_to_crypto(offer: SessionDescription) -> SessionDescription:
    """A copy of a ``k=`` offer with its keys as ``a=crypto:1``, for :func:`answer_offer`."""
    copy = parse_sdp(bytes(offer))
    for media in copy.media:
        key = key_from_field(copy, media)
        if media.proto == _SAVP and key is not None and not crypto_attributes(media):
            media.attributes.append(CryptoAttribute.from_params(1, [key]).attribute())
    return copy


def _uses_k(sdp: SessionDescription) -> bool:
    return not any(crypto_attributes(m) for m in sdp.media) and any(
        key_from_field(sdp, m) is not None for m in sdp.media
    )


def create_offer(
    address: str,
    port: int,
    policy: MediaPolicy,
    *,
    hop_is_tls: bool,
    recipient: x509.Certificate | None,
    now: dt.datetime,
    random: Random | None = None,
) -> LocalOffer:
    """An offer for one audio stream at ``address:port`` with fresh keys, wrapped."""
    try:
        sdp = build_offer(address, port, policy.capabilities(), random=_random(random))
        if policy.key_lines == "k":
            _crypto_to_k(sdp)
        data = bytes(sdp)
    except SdpError as exc:
        raise LocalProtocolError(f"cannot build the offer: {exc.reason}", 500) from None
    return LocalOffer(
        sdp, wrap_sdp(data, policy, hop_is_tls=hop_is_tls, recipient=recipient, now=now)
    )


def create_answer(
    offer: ReceivedSdp,
    address: str,
    port: int,
    policy: MediaPolicy,
    *,
    hop_is_tls: bool,
    now: dt.datetime,
    random: Random | None = None,
) -> tuple[NegotiatedMedia, SipBody]:
    """The answer to a received offer, in the offer's own form: ``k=`` to ``k=``,
    ``a=crypto`` to ``a=crypto``, S/MIME (to the offer's signer) to S/MIME."""
    try:
        k_mode = _uses_k(offer.sdp)
        taken = _k_to_crypto(offer.sdp) if k_mode else offer.sdp
        answer = answer_offer(taken, address, port, policy.capabilities(), random=_random(random))
        if k_mode:
            _crypto_to_k(answer)
        agreed = _negotiate(offer.sdp, answer, policy, "answerer", offer.encrypted)
        data = bytes(answer)
    except SdpError as exc:
        raise MediaOfferError(exc.reason, exc.status) from None
    recipient = offer.signer if offer.encrypted else None
    return agreed, wrap_sdp(data, policy, hop_is_tls=hop_is_tls, recipient=recipient, now=now)


def accept_answer(offer: LocalOffer, answer: ReceivedSdp, policy: MediaPolicy) -> NegotiatedMedia:
    """What our offer and the peer's answer agreed; :class:`MediaOfferError` if nothing."""
    try:
        return _negotiate(offer.sdp, answer.sdp, policy, "offerer", answer.encrypted)
    except SdpError as exc:
        raise MediaOfferError(exc.reason, exc.status) from None


def _negotiate(
    offer: SessionDescription,
    answer: SessionDescription,
    policy: MediaPolicy,
    role: str,
    smime: bool,
) -> NegotiatedMedia:
    audio = negotiated(offer, answer, local_role=role)
    send_key = receive_key = None
    if audio.secure:
        send_key, receive_key = audio.send_keys[0], audio.receive_keys[0]
        # With k= nothing ties the two suites together but x-srtp-suite.
        if send_key.suite != receive_key.suite:
            raise SdpError("the two directions name different SRTP suites", 488)
        if send_key.suite not in policy.suites:
            raise SdpError(f"SRTP suite {send_key.suite} was not offered", 488)
    elif policy.srtp:
        raise SdpError("plain RTP refused: this UA requires SRTP (RTP/SAVP)", 488)
    if audio.codec.payload_type not in _G711:
        # RFC 3551 §6: PCMU and PCMA have static types; the media engine runs those.
        raise SdpError(f"codec {audio.codec.name}/{audio.codec.payload_type} is not G.711", 488)
    # RFC 4566 §6: ptime is a wish; a silly one (1 s frames) falls back to ours.
    wished = audio.ptime if audio.ptime is not None and 10 <= audio.ptime <= 60 else None
    config = MediaConfig(
        payload_type=audio.codec.payload_type,
        ptime=(wished or policy.ptime) / 1000,
        rtcp_mux=audio.rtcp_mux,
    )
    return NegotiatedMedia(
        remote_rtp=(audio.remote_address, audio.remote_port),
        remote_rtcp=(audio.remote_address, audio.remote_rtcp_port),
        config=config,
        send=audio.send,
        receive=audio.receive,
        send_key=send_key,
        receive_key=receive_key,
        smime=smime,
    )
