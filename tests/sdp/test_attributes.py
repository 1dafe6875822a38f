"""Typed readings of rtpmap, fmtp, ptime, direction (RFC 8866 §6) and the capabilities check."""

from __future__ import annotations

import pytest

from sipsec.sdp import (
    PCMA,
    PCMU,
    AudioCapabilities,
    Codec,
    MediaDescription,
    SdpError,
    SessionDescription,
    direction_of,
    fmtp_of,
    ptime_of,
    rtpmaps,
)


def audio(
    *attributes: tuple[str, str | None], formats: tuple[str, ...] = ("0",)
) -> MediaDescription:
    media = MediaDescription("audio", 4000, "RTP/AVP", list(formats))
    for name, value in attributes:
        media.add_attribute(name, value)
    return media


def test_static_payload_types_need_no_rtpmap_and_unknown_ones_are_skipped() -> None:
    media = audio(("rtpmap", "96 opus/48000/2"), formats=("0", "8", "96", "97", "x"))
    assert rtpmaps(media) == [PCMU, PCMA, Codec("opus", 96, 48000, 2)]
    # An rtpmap for a static type wins over the RFC 3551 default (the name may vary in case).
    assert rtpmaps(audio(("rtpmap", "0 pcmu/8000"))) == [Codec("pcmu", 0)]


@pytest.mark.parametrize(
    "value", ["0", "0 PCMU", "0 PCMU/", "0 PCMU/0", "0 PCMU/8000/0", "128 X/8000", "0 P U/8000"]
)
def test_bad_rtpmap(value: str) -> None:
    with pytest.raises(SdpError):
        rtpmaps(audio(("rtpmap", value)))


def test_fmtp_for_one_payload_type() -> None:
    media = audio(("fmtp", "96 mode=30"), ("fmtp", "101 0-15"))
    assert fmtp_of(media, 101) == "0-15" and fmtp_of(media, 1) is None


@pytest.mark.parametrize(("value", "ms"), [("20", 20), ("30.0", 30), ("160", 160)])
def test_ptime(value: str, ms: int) -> None:
    assert ptime_of(audio(("ptime", value))) == ms
    assert ptime_of(audio()) is None


@pytest.mark.parametrize("value", ["0", "x", "20.5", "", "-20"])
def test_bad_ptime(value: str) -> None:
    with pytest.raises(SdpError):
        ptime_of(audio(("ptime", value)))


def test_direction_media_then_session_then_default() -> None:
    session = SessionDescription()
    assert direction_of(session, audio()) == "sendrecv"
    session.add_attribute("sendonly")
    assert direction_of(session, audio()) == "sendonly"
    assert direction_of(session, audio(("inactive", None))) == "inactive"
    with pytest.raises(SdpError, match="more than one"):
        direction_of(session, audio(("inactive", None), ("recvonly", None)))


@pytest.mark.parametrize(
    "caps",
    [{"direction": "both"}, {"srtp_suites": ("F8_128_HMAC_SHA1_80",)}, {"ptime": 0}],
)
def test_capabilities_are_checked_when_made(caps: dict[str, object]) -> None:
    with pytest.raises(SdpError) as info:
        AudioCapabilities(**caps)  # type: ignore[arg-type]
    assert info.value.status == 500
