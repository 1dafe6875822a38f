"""Self-check of the fixtures: the real peers work together on this machine.

baresip registers at Kamailio with Digest and calls another baresip through
it; if this fails, the sipsec interop tests cannot tell anything.
"""

from __future__ import annotations

import pytest

from ._helpers import call_and_hang_up
from .baresip_peer import BaresipFactory
from .kamailio_peer import Kamailio

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("transport", "mediaenc"), [("udp", None), ("tls", "srtp-mand")], ids=["udp-rtp", "tls-srtp"]
)
def test_baresip_calls_baresip_through_kamailio(
    kamailio: Kamailio, baresip: BaresipFactory, transport: str, mediaenc: str | None
) -> None:
    outbound = kamailio.outbound(transport)
    bob = baresip("bob", outbound, transport=transport, mediaenc=mediaenc)
    alice = baresip("alice", outbound, transport=transport, mediaenc=mediaenc)
    bob.wait_registered()
    alice.wait_registered()

    # Half a second of audio decoded on each side before hanging up; each
    # heard the other side's 440 Hz tone at amplitude 8000 through G.711.
    call_and_hang_up(alice, bob, "sip:bob@biloxi.example")

    # Kamailio challenged the INVITE (407) and relayed the retry with credentials.
    invites = kamailio.requests("INVITE")
    assert len(invites) == 2
    for invite in invites:
        assert invite.uri.split(";")[0] == "sip:bob@biloxi.example"
        assert invite.transport == transport
    offer = alice.process.log()
    assert ("a=crypto:" in offer and "RTP/SAVP" in offer) == (mediaenc is not None)
    assert f"{transport.upper()} 127.0.0.1:" in offer  # baresip's trace of its own sends
