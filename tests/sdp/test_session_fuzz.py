"""Hypothesis: every input parses and round-trips exactly, or raises SdpError — never
anything else — through the parser, the typed readings and offer/answer."""

from __future__ import annotations

import base64
import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.sdp import (
    AudioCapabilities,
    Connection,
    CryptoAttribute,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    answer_offer,
    carries_key_material,
    crypto_attributes,
    direction_of,
    key_from_field,
    negotiated,
    parse_sdp,
    ptime_of,
    rtpmaps,
)

from .conftest import DOCUMENTS, vector

CAPS = AudioCapabilities(
    srtp_suites=("AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"), require_srtp=False
)
# Counts kept moderate for a suite on 2 shared cores; SDP_FUZZ_EXAMPLES=20000 for a long run.
EXAMPLES = int(os.environ.get("SDP_FUZZ_EXAMPLES", "500"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def random(n: int) -> bytes:
    return bytes(range(n))


def exercise(data: bytes) -> str:
    """Parse and use ``data``; returns what happened. Any non-SdpError fails the test."""
    carries_key_material(data)  # the guard never raises
    try:
        sdp = parse_sdp(data)
    except SdpError:
        return "rejected"
    assert bytes(sdp) == data
    try:
        negotiated(sdp, sdp)
    except SdpError:
        pass
    try:
        for media in sdp.media:
            direction_of(sdp, media)
            rtpmaps(media)
            ptime_of(media)
            crypto_attributes(media)
            key_from_field(sdp, media)
        answer = answer_offer(sdp, "192.0.2.9", 6000, CAPS, random=random)
    except SdpError:
        return "parsed"
    agreed = negotiated(sdp, parse_sdp(bytes(answer)))  # our own answer always negotiates
    assert agreed == negotiated(sdp, answer)
    negotiated(sdp, answer, local_role="answerer")
    return "negotiated"


# Pieces of real lines, so that the generator reaches deep into the parser.
KEY = base64.b64encode(bytes(30)).decode()
PIECES = [
    "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "i=x", "u=http://x", "e=a@b", "p=+1",
    "c=IN IP4 192.0.2.1", "c=IN IP6 ::1/2", "c=IN IP4 224.2.1.1/127/3", "b=AS:64", "t=0 0",
    "r=7d 1h 0 25h", "z=2882844526 -1h", "k=prompt", f"k=base64:{KEY}", "k=clear:x",
    "a=recvonly", "a=sendonly", "a=inactive", "a=sendrecv", "a=rtcp-mux", "a=ptime:20",
    "a=ptime:0", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
    "a=rtpmap:96 x/0", "a=fmtp:101 0-16", "a=x-srtp-suite:AEAD_AES_128_GCM",
    "m=audio 4000 RTP/AVP 0 8 101", "m=audio 4000 RTP/SAVP 0", "m=audio 0 RTP/SAVP 0",
    "m=video 4002 RTP/AVP 31", "m=audio 4000/2 RTP/SAVP 96",
    f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4",
    f"a=crypto:2 AEAD_AES_128_GCM inline:{base64.b64encode(bytes(28)).decode()}",
    f"a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:{KEY} UNENCRYPTED_SRTP",
    f"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|1:4;inline:{KEY}|2:4",
    "a=crypto:5 AES_256_CM_HMAC_SHA1_80 inline:AAAA",
]  # fmt: skip
HEAD = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0"]
ORDER = "vosiuepcbtrzkam"
M_LINES = [p for p in PIECES if p.startswith("m=")]
MEDIA_LINES = [p for p in PIECES if p[0] in "cbka"]
noise = st.text(alphabet=st.sampled_from("aco=:/ 0123456789|;^\t\r\nx-IP4AES_+"), max_size=20)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Mostly well-ordered bodies of real pieces, then a few lines of noise or a swap."""
    lines = list(HEAD) if draw(st.integers(0, 9)) else []
    extra = draw(st.lists(st.sampled_from([p for p in PIECES if p[0] in "bzka"]), max_size=3))
    lines += sorted(extra, key=lambda p: ORDER.index(p[0]))
    for _ in range(draw(st.integers(0, 3))):
        lines.append(draw(st.sampled_from(M_LINES)))
        section = draw(st.lists(st.sampled_from(MEDIA_LINES), max_size=6))
        lines += sorted(section, key=lambda p: ORDER.index(p[0]))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        at = draw(st.integers(0, len(lines)))
        lines[at:at] = [draw(st.one_of(noise, st.sampled_from(PIECES)))]
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    text = eol.join(lines) + draw(st.sampled_from([eol, ""]))
    return text.encode()


def run(strategy: st.SearchStrategy[bytes]) -> Counter[str]:
    counts: Counter[str] = Counter()

    @SETTINGS
    @given(strategy)
    def check(data: bytes) -> None:
        counts[exercise(data)] += 1

    check()
    return counts


def test_line_soup_parses_exactly_or_raises_sdp_error() -> None:
    counts = run(bodies())
    # The generator must reach every outcome, or the property would say little.
    assert counts["rejected"] and counts["parsed"] and counts["negotiated"]
    assert sum(counts.values()) >= EXAMPLES


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(vector(draw(st.sampled_from(DOCUMENTS))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.integers(0, 255))
        if action == "insert":
            data[at:at] = bytes([byte])
        elif at < len(data):
            data[at : at + 1] = b"" if action == "delete" else bytes([byte])
    return bytes(data)


def test_mutated_rfc_documents_parse_exactly_or_raise_sdp_error() -> None:
    counts = run(mutated())
    assert counts["rejected"] and counts["parsed"] and sum(counts.values()) >= EXAMPLES


def test_arbitrary_bytes_raise_only_sdp_error() -> None:
    counts = run(st.binary(max_size=300))
    assert counts["rejected"] >= EXAMPLES


crypto_text = st.text(alphabet=st.sampled_from("0123456789 \tAES_CM12HAinle:|^;/+=xyzAB"))


def test_crypto_values_parse_to_a_fixed_point_or_raise_sdp_error() -> None:
    seen: Counter[str] = Counter()

    @SETTINGS
    @given(st.one_of(crypto_text, st.sampled_from(PIECES).map(lambda p: p[9:]), st.text()))
    def check(value: str) -> None:
        try:
            crypto = CryptoAttribute.parse(value)
        except SdpError:
            seen["rejected"] += 1
            return
        assert CryptoAttribute.parse(crypto.value()) == crypto
        seen["parsed"] += 1

    check()
    assert seen["rejected"] and seen["parsed"]


addresses = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))
names = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=20,
)


MEDIA_KINDS = st.sampled_from(["audio", "video", "text"])
PORTS = st.integers(0, 65535)
PROTOS = st.sampled_from(["RTP/AVP", "RTP/SAVP", "udp"])
FORMATS = st.lists(st.integers(0, 127).map(str), min_size=1, max_size=4)
ATTRIBUTES = st.lists(
    st.tuples(st.sampled_from(["x", "rtcp-mux", "ptime"]), st.none() | names), max_size=4
)


@st.composite
def built(draw: st.DrawFn) -> SessionDescription:
    address = draw(addresses)
    kind = "IP6" if ":" in address else "IP4"
    sdp = SessionDescription(
        origin=Origin("u", str(draw(st.integers(0, 2**64))), "1", address, "IN", kind),
        name=draw(names),
        connection=Connection(address, kind),
        eol=draw(st.sampled_from(["\r\n", "\n"])),
    )
    for _ in range(draw(st.integers(0, 3))):
        media = MediaDescription(draw(MEDIA_KINDS), draw(PORTS), draw(PROTOS), draw(FORMATS))
        for name, value in draw(ATTRIBUTES):
            media.add_attribute(name, value)
        sdp.media.append(media)
    return sdp


def test_built_descriptions_serialize_and_parse_back_equal() -> None:
    count = 0

    @SETTINGS
    @given(built())
    def check(sdp: SessionDescription) -> None:
        nonlocal count
        count += 1
        assert parse_sdp(bytes(sdp)) == sdp

    check()
    assert count >= EXAMPLES
