"""SDP (RFC 4566/8866), RFC 3264 offer/answer for audio, and the SRTP keys of
``k=`` (RFC 4566 §5.12) and ``a=crypto`` (SDES, RFC 4568). Sans-IO.

Wire API: ``parse_sdp(data) -> SessionDescription`` and ``bytes(sdp)``; for
every body that parses, ``bytes(parse_sdp(data)) == data``. Every failure is
an :class:`SdpError` (a :class:`sipsec.errors.ProtocolError`, status 400 or
488). Below :mod:`sipsec.srtp` in the layer order: keys come out as
:class:`SrtpKeyParams`, whose fields are the arguments of ``SrtpContext``.
"""

from __future__ import annotations

from sipsec.sdp.attributes import DIRECTIONS, Codec, direction_of, fmtp_of, ptime_of, rtpmaps
from sipsec.sdp.crypto import (
    DEFAULT_SUITE,
    SUITES,
    CryptoAttribute,
    KeyParam,
    SrtpKeyParams,
    suite_lengths,
)
from sipsec.sdp.errors import SdpError
from sipsec.sdp.keys import (
    SUITE_ATTRIBUTE,
    carries_key_material,
    crypto_attributes,
    key_field_for,
    key_from_field,
    key_material_lines,
    key_transport_problem,
)
from sipsec.sdp.lines import (
    Attribute,
    Bandwidth,
    Connection,
    KeyField,
    MediaLine,
    Origin,
    Repeat,
    Timing,
    ZoneAdjustments,
)
from sipsec.sdp.offer_answer import (
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    AudioCapabilities,
    NegotiatedAudio,
    answer_offer,
    build_offer,
    negotiated,
)
from sipsec.sdp.session import MediaDescription, SessionDescription, TimeDescription, parse_sdp

__all__ = [
    "DEFAULT_SUITE",
    "DIRECTIONS",
    "PCMA",
    "PCMU",
    "SUITES",
    "SUITE_ATTRIBUTE",
    "TELEPHONE_EVENT",
    "Attribute",
    "AudioCapabilities",
    "Bandwidth",
    "Codec",
    "Connection",
    "CryptoAttribute",
    "KeyField",
    "KeyParam",
    "MediaDescription",
    "MediaLine",
    "NegotiatedAudio",
    "Origin",
    "Repeat",
    "SdpError",
    "SessionDescription",
    "SrtpKeyParams",
    "TimeDescription",
    "Timing",
    "ZoneAdjustments",
    "answer_offer",
    "build_offer",
    "carries_key_material",
    "crypto_attributes",
    "direction_of",
    "fmtp_of",
    "key_field_for",
    "key_from_field",
    "key_material_lines",
    "key_transport_problem",
    "negotiated",
    "parse_sdp",
    "ptime_of",
    "rtpmaps",
    "suite_lengths",
]
