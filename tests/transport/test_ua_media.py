"""One call's media in the UA app: the wire hook and RTCP from a peer without rtcp-mux."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp import MediaConfig
from sipsec.transport.media import MediaSession
from sipsec.transport.media_crypto import MediaCrypto
from sipsec.transport.trace import WireRecord
from sipsec.transport.ua_media import CallMedia, tone
from sipsec.ua.media_offer import NegotiatedMedia

PLAIN_NO_MUX = MediaConfig(rtcp_mux=False)


def _agreed(peer: MediaSession) -> NegotiatedMedia:
    return NegotiatedMedia(
        remote_rtp=peer.local_rtp,
        remote_rtcp=peer.local_rtcp,
        config=PLAIN_NO_MUX,
        send=True,
        receive=True,
        send_key=None,
        receive_key=None,
        smime=False,
    )


async def test_rtcp_of_a_peer_that_refused_mux_arrives_on_port_plus_one() -> None:
    """RFC 5761 §5.1.3: without mux the peer's RTCP (here its BYE) goes to
    our RTP port + 1, where CallMedia now listens."""
    wire: list[WireRecord] = []
    ours = await CallMedia.bind("127.0.0.1", on_wire=wire.append)
    peer = await MediaSession.bind(PLAIN_NO_MUX, "127.0.0.1")
    try:
        ours.start(_agreed(peer), audio=tone(0.2))
        assert await ours.open_rtcp_port()
        assert await ours.open_rtcp_port()  # once is enough
        host, port = ours.local_rtp
        peer.start((host, port), MediaCrypto.plain(), audio=tone(0.2), remote_rtcp=(host, port + 1))
        stream = ours.session.stream
        assert stream is not None
        async with asyncio.timeout(5):
            while stream.stats is None or stream.stats.received < 3:
                await asyncio.sleep(0.01)
            peer.close("done")  # an RTCP BYE, to port + 1
            while not stream.bye_received:
                await asyncio.sleep(0.01)
        assert ours.rtcp_received >= 1
        # The hook saw our RTP leave, from our RTP socket to the peer's.
        assert wire and all(w.local == ours.local_rtp for w in wire)
        assert {w.remote for w in wire} <= {peer.local_rtp, peer.local_rtcp}
    finally:
        peer.close()
        ours.close()


async def test_junk_on_the_rtcp_port_is_counted_not_raised() -> None:
    ours = await CallMedia.bind("127.0.0.1")
    peer = await MediaSession.bind(PLAIN_NO_MUX, "127.0.0.1")
    try:
        ours.rtcp_datagram(b"\x80", ("127.0.0.1", 9))  # before start: ignored
        ours.start(_agreed(peer), audio=b"")
        ours.rtcp_datagram(b"\x80\xc8", peer.local_rtcp)
        stream = ours.session.stream
        assert stream is not None and stream.drops.malformed == 1
        assert ours.rtcp_received == 1  # plain RTP: nothing to authenticate, then refused
    finally:
        peer.close()
        ours.close()


async def test_any_datagram_on_the_rtcp_port_is_refused_or_taken_never_raised() -> None:
    ours = await CallMedia.bind("127.0.0.1")
    peer = await MediaSession.bind(PLAIN_NO_MUX, "127.0.0.1")
    tried = 0
    try:
        ours.start(_agreed(peer), audio=b"")
        stream = ours.session.stream
        assert stream is not None

        @settings(max_examples=500, deadline=None)
        @given(st.binary(max_size=200), st.booleans())
        def arrive(data: bytes, from_peer: bool) -> None:
            nonlocal tried
            tried += 1
            ours.rtcp_datagram(data, peer.local_rtcp if from_peer else ("192.0.2.9", 5))

        arrive()
        assert tried >= 500
        assert stream.drops.malformed + stream.drops.foreign_address > 0
    finally:
        peer.close()
        ours.close()
