"""RFC 3264 offer/answer for one audio stream, with SDES keys (RFC 4568 §7).

Three calls: :func:`build_offer`, :func:`answer_offer` (the answer, or
:class:`SdpError` 488 when no stream can be accepted) and :func:`negotiated`
(what the two bodies agreed: where to send, which codec, ptime, keys).

Rules applied, by section:

- RFC 3264 §6: the answer has one ``m=`` per offered ``m=``, in order; a
  stream is rejected with port 0 (its formats copied, §6 wants at least one),
  and an offered port 0 stays 0. Only the first acceptable audio stream is
  taken; ``t=`` is copied from the offer.
- §6.1: the answer lists the common codecs in the answerer's order, with the
  offer's payload types; telephone-event (RFC 4733) only when both have it.
  Direction: the answer sends only if the offer receives, and receives only if
  the offer sends, each also limited by the local direction.
- RFC 5761 §5.1.1: ``a=rtcp-mux`` in the answer only when offered and wanted.
- RFC 4568 §7.1.2: the answer takes the first offered ``a=crypto`` whose suite
  is wanted, keeps its tag and carries the answerer's own fresh key. A line
  with session parameters we do not run (KDR, FEC_KEY, unknown ones; the
  UNENCRYPTED/UNAUTHENTICATED flags unless allowed) is passed over, and the
  flags that are accepted are echoed (§6.3.5). ``RTP/SAVP`` without an
  acceptable line rejects the stream; plain ``RTP/AVP`` is refused when
  ``require_srtp`` (the default).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sipsec.sdp.attributes import DIRECTIONS, Codec, direction_of, fmtp_of, ptime_of, rtpmaps
from sipsec.sdp.crypto import DEFAULT_SUITE, SUITES, CryptoAttribute, SrtpKeyParams
from sipsec.sdp.errors import NOT_ACCEPTABLE_HERE, SdpError
from sipsec.sdp.keys import crypto_attributes, key_from_field
from sipsec.sdp.lines import Connection, Origin
from sipsec.sdp.session import MediaDescription, SessionDescription, TimeDescription

__all__ = [
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "AudioCapabilities",
    "NegotiatedAudio",
    "answer_offer",
    "build_offer",
    "negotiated",
]

PCMU = Codec("PCMU", 0)
PCMA = Codec("PCMA", 8)
TELEPHONE_EVENT = Codec("telephone-event", 101)
SAVP, AVP = "RTP/SAVP", "RTP/AVP"
# RFC 4568 §6.3: session parameters that change nothing we must support.
_HARMLESS = {"FEC_ORDER=FEC_SRTP"}
_FLAGS = ("UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP")
Random = Callable[[int], bytes]
_SENDS, _RECEIVES = ("sendrecv", "sendonly"), ("sendrecv", "recvonly")


@dataclass(slots=True)
class AudioCapabilities:
    """What this side can do, codecs and suites in order of preference."""

    codecs: tuple[Codec, ...] = (PCMU, PCMA)
    telephone_event: bool = True
    ptime: int | None = 20
    direction: str = "sendrecv"
    rtcp_mux: bool = True
    srtp_suites: tuple[str, ...] = (DEFAULT_SUITE,)
    require_srtp: bool = True
    allow_unencrypted: bool = False  # accept UNENCRYPTED_*/UNAUTHENTICATED_SRTP offers

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise SdpError(f"direction is one of {', '.join(DIRECTIONS)}", 500)
        for suite in self.srtp_suites:
            if suite not in SUITES:  # refused here, not on the wire
                raise SdpError(f"SRTP suite {suite!r} is not supported", 500)
        if self.ptime is not None and not 0 < self.ptime <= 1000:
            raise SdpError("ptime is 1..1000 ms", 500)


@dataclass(frozen=True, slots=True)
class NegotiatedAudio:
    """What an offer and its answer agreed, seen from ``local_role``'s side."""

    remote_address: str
    remote_port: int
    remote_rtcp_port: int
    rtcp_mux: bool
    codec: Codec
    telephone_event: int | None
    ptime: int | None  # what the peer asked to receive (RFC 4566 §6.4), None if unsaid
    send: bool
    receive: bool
    secure: bool
    send_keys: list[SrtpKeyParams] = field(default_factory=list)
    receive_keys: list[SrtpKeyParams] = field(default_factory=list)


def _session(address: str, session_id: int, version: int) -> SessionDescription:
    try:
        addrtype = "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        addrtype = "IP4"  # a host name (RFC 8866 §5.7 allows an FQDN)
    return SessionDescription(
        origin=Origin("-", str(session_id), str(version), address, "IN", addrtype),
        connection=Connection(address, addrtype),
    )


def _add_codecs(
    media: MediaDescription, codecs: list[Codec], dtmf: Codec | None, fmtp: str | None
) -> None:
    for codec in codecs:
        media.add_attribute("rtpmap", codec.rtpmap())
    if dtmf is not None:
        media.add_attribute("rtpmap", dtmf.rtpmap())
        if fmtp is not None:
            media.add_attribute("fmtp", f"{dtmf.payload_type} {fmtp}")


def build_offer(
    address: str,
    port: int,
    caps: AudioCapabilities | None = None,
    *,
    random: Random = os.urandom,
    session_id: int | None = None,
    version: int = 1,
) -> SessionDescription:
    """An offer with one audio stream; one ``a=crypto`` per suite, each with a fresh key."""
    caps = caps or AudioCapabilities()
    if not caps.codecs:
        raise SdpError("an offer needs at least one codec", 500)
    sid = session_id if session_id is not None else int.from_bytes(random(4), "big")
    sdp = _session(address, sid, version)
    secure = bool(caps.srtp_suites)
    dtmf = TELEPHONE_EVENT if caps.telephone_event else None
    formats = [str(c.payload_type) for c in caps.codecs]
    formats += [str(dtmf.payload_type)] if dtmf else []
    media = MediaDescription("audio", port, SAVP if secure else AVP, formats)
    _add_codecs(media, list(caps.codecs), dtmf, "0-16")
    if caps.ptime is not None:
        media.add_attribute("ptime", str(caps.ptime))
    media.add_attribute(caps.direction)
    if caps.rtcp_mux:
        media.add_attribute("rtcp-mux")
    for tag, suite in enumerate(caps.srtp_suites, 1):
        key = SrtpKeyParams.generate(suite, random)
        media.attributes.append(CryptoAttribute.from_params(tag, [key]).attribute())
    sdp.media.append(media)
    return sdp


def _acceptable_crypto(media: MediaDescription, caps: AudioCapabilities) -> CryptoAttribute | None:
    offered = crypto_attributes(media)
    for crypto in offered:  # the offerer's order of preference (RFC 4568 §5.1.1)
        if not crypto.usable or crypto.suite not in caps.srtp_suites:
            continue
        params = set(crypto.session_params)
        flags = params & set(_FLAGS)
        if params - flags - _HARMLESS or (flags and not caps.allow_unencrypted):
            continue
        return crypto
    return None


def _directions(offered: str, local: str) -> str:
    send = offered in _RECEIVES and local in _SENDS
    recv = offered in _SENDS and local in _RECEIVES
    return {(True, True): "sendrecv", (True, False): "sendonly",
            (False, True): "recvonly", (False, False): "inactive"}[(send, recv)]  # fmt: skip


def answer_offer(
    offer: SessionDescription,
    address: str,
    port: int,
    caps: AudioCapabilities | None = None,
    *,
    random: Random = os.urandom,
    session_id: int | None = None,
    version: int = 1,
) -> SessionDescription:
    """The answer to ``offer``; :class:`SdpError` 488 when no stream is acceptable."""
    caps = caps or AudioCapabilities()
    sid = session_id if session_id is not None else int.from_bytes(random(4), "big")
    answer = _session(address, sid, version)
    answer.times = [TimeDescription(t.timing, list(t.repeats)) for t in offer.times]
    taken = False
    reasons: list[str] = []
    for offered in offer.media:
        reply = (
            None
            if taken
            else _answer_stream(offer, offered, port, caps, random=random, reasons=reasons)
        )
        if reply is None:
            reply = MediaDescription(offered.media, 0, offered.proto, list(offered.formats))
        taken = taken or reply.port != 0
        answer.media.append(reply)
    if not taken:
        why = "; ".join(reasons) or "no audio stream offered"
        raise SdpError(f"no acceptable audio stream: {why}", NOT_ACCEPTABLE_HERE)
    return answer


def _answer_stream(
    offer: SessionDescription,
    offered: MediaDescription,
    port: int,
    caps: AudioCapabilities,
    *,
    random: Random,
    reasons: list[str],
) -> MediaDescription | None:
    if offered.port == 0 or offered.media != "audio":
        return None
    if offered.proto not in (AVP, SAVP) or (offered.proto == AVP and caps.require_srtp):
        reasons.append(f"profile {offered.proto} refused")
        return None
    crypto = None
    if offered.proto == SAVP:
        crypto = _acceptable_crypto(offered, caps)
        if crypto is None:
            reasons.append("no acceptable a=crypto suite")
            return None
    theirs = rtpmaps(offered)
    common = [
        next(t for t in theirs if t.same_format(c))
        for c in caps.codecs
        if any(t.same_format(c) for t in theirs)
    ]
    if not common:
        reasons.append("no common codec")
        return None
    dtmf = next((t for t in theirs if t.same_format(TELEPHONE_EVENT)), None)
    dtmf = dtmf if caps.telephone_event else None
    formats = [str(c.payload_type) for c in common]
    formats += [str(dtmf.payload_type)] if dtmf else []
    reply = MediaDescription("audio", port, offered.proto, formats)
    _add_codecs(reply, common, dtmf, fmtp_of(offered, dtmf.payload_type) if dtmf else None)
    if caps.ptime is not None:
        reply.add_attribute("ptime", str(caps.ptime))
    reply.add_attribute(_directions(direction_of(offer, offered), caps.direction))
    if caps.rtcp_mux and offered.has_attribute("rtcp-mux"):
        reply.add_attribute("rtcp-mux")
    if crypto is not None:
        key = SrtpKeyParams.generate(crypto.suite, random)
        flags = tuple(p for p in crypto.session_params if p in _FLAGS)
        reply.attributes.append(CryptoAttribute.from_params(crypto.tag, [key], flags).attribute())
    return reply


def _keys(
    session: SessionDescription, media: MediaDescription, tag: int | None
) -> list[SrtpKeyParams]:
    if tag is not None:
        for crypto in crypto_attributes(media):
            if crypto.tag == tag:
                return crypto.key_params()
        raise SdpError(f"the answer's a=crypto tag {tag} was not offered", NOT_ACCEPTABLE_HERE)
    key = key_from_field(session, media)
    return [key] if key is not None else []


def negotiated(
    offer: SessionDescription, answer: SessionDescription, *, local_role: str = "offerer"
) -> NegotiatedAudio:
    """The agreed audio stream of ``offer`` + ``answer``, seen by ``local_role``."""
    if local_role not in ("offerer", "answerer"):
        raise SdpError("local_role is 'offerer' or 'answerer'", 500)
    if len(answer.media) != len(offer.media):
        raise SdpError("the answer has another number of m= lines than the offer (RFC 3264 §6)")
    for index, (o, a) in enumerate(zip(offer.media, answer.media, strict=True)):
        if a.port == 0 or o.port == 0 or a.media != "audio":
            continue
        if a.proto != o.proto or a.media != o.media:
            raise SdpError(f"m= line {index + 1}: the answer changed the media or profile")
        return _agreed(offer, o, answer, a, local_role == "offerer")
    raise SdpError("the answer accepted no audio stream", NOT_ACCEPTABLE_HERE)


def _agreed(
    offer: SessionDescription,
    o: MediaDescription,
    answer: SessionDescription,
    a: MediaDescription,
    we_offered: bool,
) -> NegotiatedAudio:
    remote, remote_media = (answer, a) if we_offered else (offer, o)
    local, local_media = (offer, o) if we_offered else (answer, a)
    connection = remote.connection_for(remote_media)
    if connection is None:
        raise SdpError("no c= line for the stream (RFC 8866 §5.7)")
    offered = rtpmaps(o)
    chosen = [c for c in rtpmaps(a) if not c.same_format(TELEPHONE_EVENT)]
    if not chosen or not any(c.payload_type == chosen[0].payload_type for c in offered):
        raise SdpError("the answer chose no codec from the offer", NOT_ACCEPTABLE_HERE)
    dtmf = next((c for c in rtpmaps(a) if c.same_format(TELEPHONE_EVENT)), None)
    mux = o.has_attribute("rtcp-mux") and a.has_attribute("rtcp-mux")
    # RFC 3264 §6.1: each side sends only if it said so and the other said it receives.
    ours, theirs = direction_of(local, local_media), direction_of(remote, remote_media)
    secure = a.proto == "RTP/SAVP"
    send_keys: list[SrtpKeyParams] = []
    receive_keys: list[SrtpKeyParams] = []
    if secure:
        answered = crypto_attributes(a)
        tag = answered[0].tag if answered else None
        if answered and len(answered) != 1:
            raise SdpError("an answer carries exactly one a=crypto (RFC 4568 §7.1.2)")
        offer_keys, answer_keys = _keys(offer, o, tag), _keys(answer, a, tag)
        if answered:
            answer_suite = answered[0].suite
            if any(k.suite != answer_suite for k in offer_keys):
                raise SdpError(
                    "the answer's suite differs from the offer's tag", NOT_ACCEPTABLE_HERE
                )
        send_keys, receive_keys = (
            (offer_keys, answer_keys) if we_offered else (answer_keys, offer_keys)
        )
        if not send_keys or not receive_keys:
            raise SdpError("RTP/SAVP without keys on both sides", NOT_ACCEPTABLE_HERE)
    return NegotiatedAudio(
        remote_address=connection.address,
        remote_port=remote_media.port,
        remote_rtcp_port=remote_media.port if mux else remote_media.port + 1,
        rtcp_mux=mux,
        codec=chosen[0],
        telephone_event=dtmf.payload_type if dtmf else None,
        ptime=ptime_of(remote_media),
        send=ours in _SENDS and theirs in _RECEIVES,
        receive=ours in _RECEIVES and theirs in _SENDS,
        secure=secure,
        send_keys=send_keys,
        receive_keys=receive_keys,
    )
