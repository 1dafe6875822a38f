"""Issue 7, real peers: baresip at sipsec's registrar and proxy, and a hop to Kamailio.

``sipsec proxy`` serves atlanta.example as a subprocess with its users in
SQLite (added with ``sipsec user add``), offering MD5 only because baresip 1.0
fails on any other Digest algorithm (PEERS.md). baresip UAs register with it
using Digest and call each other through it (RFC 3261 §10, §16, §22); a call
to biloxi.example goes from sipsec's proxy to Kamailio through the static
hosts map (``--host``), as RFC 3263 would find it, over UDP or TLS (Kamailio's
certificate checked, RFC 5922); and sipsec's own UA completes the trapezoid
with TLS on every hop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .._pki import Pki
from ._helpers import (
    BARESIP_CLEAR_RTCP,
    assert_heard_tone,
    call_and_hang_up,
    call_summary,
    run_with_password,
    tls_args,
)
from .baresip_peer import Baresip, BaresipFactory, write_tone
from .kamailio_peer import Kamailio
from .peers import USERS, PeerGroup
from .sipsec_peer import SipsecProxy, add_users

# Start sipsec's proxy for atlanta.example with these ``--host`` entries.
StartAtlanta = Callable[..., SipsecProxy]

pytestmark = pytest.mark.interop

ATLANTA = "atlanta.example"


@pytest.fixture(scope="session")
def atlanta_users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice and bob of atlanta.example, added once with ``sipsec user add``."""
    db_path = tmp_path_factory.mktemp("atlanta-users") / "users.sqlite"
    add_users(db_path, ATLANTA, USERS)
    return db_path


@pytest.fixture
def start_atlanta(peers: PeerGroup, pki: Pki, tmp_path: Path, atlanta_users: Path) -> StartAtlanta:
    """Start ``sipsec proxy`` for atlanta.example (a copy of the users, the
    shared PKI's domain certificate) with the ``--host`` entries given."""

    def start(*hosts: str) -> SipsecProxy:
        proxy = peers.add(
            SipsecProxy(tmp_path / "atlanta", pki, ATLANTA, atlanta_users, hosts=hosts)
        )
        proxy.start()
        return proxy

    return start


@pytest.fixture
def atlanta(start_atlanta: StartAtlanta) -> SipsecProxy:
    return start_atlanta()


def digest_rounds(ua: Baresip) -> list[str]:
    """Status lines of the challenges baresip received, from its SIP trace."""
    return re.findall(r"SIP/2\.0 (40[17]) ", ua.process.log())


@pytest.mark.parametrize(
    ("transport", "mediaenc"), [("udp", None), ("tls", "srtp-mand")], ids=["udp-rtp", "tls-srtp"]
)
def test_baresip_calls_baresip_through_sipsec_proxy(
    atlanta: SipsecProxy, baresip: BaresipFactory, transport: str, mediaenc: str | None
) -> None:
    outbound = atlanta.outbound(transport)
    bob = baresip("bob", outbound, domain=ATLANTA, transport=transport, mediaenc=mediaenc)
    alice = baresip("alice", outbound, domain=ATLANTA, transport=transport, mediaenc=mediaenc)
    bob.wait_registered()
    alice.wait_registered()
    # Digest happened: the registrar's 401 before each 200 (RFC 3261 §22.2) …
    assert "401" in digest_rounds(bob)
    assert "algorithm=MD5" in bob.process.log()

    call_and_hang_up(alice, bob, f"sip:bob@{ATLANTA}")
    # … and the proxy's 407 before relaying alice's INVITE (§22.3).
    assert "407" in digest_rounds(alice)
    assert f"{transport.upper()} 127.0.0.1:" in alice.process.log()


@pytest.mark.parametrize("hop", ["udp", "tls"])
def test_sipsec_proxy_forwards_to_kamailio_domain(
    start_atlanta: StartAtlanta, kamailio: Kamailio, baresip: BaresipFactory, hop: str
) -> None:
    """alice@atlanta.example (sipsec's proxy) calls bob@biloxi.example (Kamailio)."""
    atlanta = start_atlanta(kamailio.host_entry(hop))
    bob = baresip("bob", kamailio.outbound("udp"))
    alice = baresip("alice", atlanta.outbound("udp"), domain=ATLANTA)
    bob.wait_registered()
    alice.wait_registered()

    call_and_hang_up(alice, bob, "sip:bob@biloxi.example")
    # Kamailio got the INVITE and BYE from sipsec's proxy over the hop the hosts
    # map names; a UDP hop becomes TCP for requests over 1300 bytes (RFC 3261
    # §18.1.1), which an INVITE with the proxy's Via and Record-Route is.
    invites = kamailio.requests("INVITE")
    byes = kamailio.requests("BYE")
    allowed = {"udp", "tcp"} if hop == "udp" else {"tls"}
    assert len(invites) == 1 and invites[0].transport in allowed
    assert invites[0].uri == "sip:bob@biloxi.example"
    assert len(byes) == 1 and byes[0].transport in allowed


def test_sipsec_proxy_refuses_a_certificate_for_another_domain(
    start_atlanta: StartAtlanta, kamailio: Kamailio, baresip: BaresipFactory
) -> None:
    """RFC 5922 §7: the hosts map sends chicago.example to Kamailio's TLS port,
    whose certificate names biloxi.example; sipsec's proxy must not send the
    INVITE over that connection."""
    wrong = kamailio.host_entry("tls").replace("biloxi.example=", "chicago.example=", 1)
    atlanta = start_atlanta(wrong)
    alice = baresip("alice", atlanta.outbound("udp"), domain=ATLANTA)
    alice.wait_registered()

    alice.control.command("dial", "sip:bob@chicago.example")
    closed = alice.control.wait_event("CALL_CLOSED", 10, unless=["CALL_ESTABLISHED"])
    # A transport error counts as a 503, which the proxy answers as 500
    # (RFC 3261 §16.9, §16.7 step 6).
    assert str(closed.get("param")).startswith("500 "), closed
    assert kamailio.requests("INVITE") == []
    assert re.search(r"certificate .*biloxi\.example.*chicago\.example", atlanta.process.log())


def test_sipsec_ua_calls_baresip_through_sipsec_proxy_and_kamailio(
    start_atlanta: StartAtlanta,
    peers: PeerGroup,
    pki: Pki,
    tmp_path: Path,
    kamailio: Kamailio,
    baresip: BaresipFactory,
) -> None:
    """The trapezoid with real peers on the far side, TLS on every hop and SRTP:
    sipsec call (alice@atlanta) -> sipsec proxy -> Kamailio (biloxi) -> baresip."""
    atlanta = start_atlanta(kamailio.host_entry("tls"))
    bob = baresip("bob", kamailio.outbound("tls"), transport="tls", mediaenc="srtp-mand")
    bob.wait_registered()
    run = run_with_password(
        peers,
        "call",
        "sips:bob@biloxi.example",  # SDES keys: TLS on every hop (RFC 3261 §26.2.2)
        "--as",
        f"sip:alice@{ATLANTA}",
        "--proxy",
        f"sips:{ATLANTA}",
        "--host",
        f"{ATLANTA}=tls:127.0.0.1:{atlanta.ports['tls']}",
        *tls_args(pki, f"sip:alice@{ATLANTA}"),
        "--duration",
        "1",
        "--media",
        "srtp",
        "--play",
        str(write_tone(tmp_path / "alice.wav", 3.0, frequency=1000.0)),
    )
    assert run.returncode == 0, run.describe()
    summary = call_summary(run.stdout, run.describe(), clear_rtcp=BARESIP_CLEAR_RTCP)
    assert summary["media"] != "plain RTP"
    bob.control.wait_event("CALL_ESTABLISHED", 5)
    bob.control.wait_event("CALL_CLOSED", 5)
    assert_heard_tone(bob)
    invites = [(r.uri, r.transport) for r in kamailio.requests("INVITE")]
    assert invites == [("sips:bob@biloxi.example", "tls")]
