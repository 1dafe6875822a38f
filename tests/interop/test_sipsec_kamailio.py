"""Issue 5, real peers: sipsec as a UA at Kamailio, calling and called by baresip.

Kamailio serves biloxi.example and requires Digest (401 for REGISTER, 407 for
INVITE). ``sipsec register``, ``sipsec call`` and ``sipsec answer`` run as
subprocesses, as a user would run them; the transport follows the proxy URI
(RFC 3261 §18, §26.2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .._pki import Pki
from ._helpers import (
    BARESIP_CLEAR_RTCP,
    assert_heard_tone,
    call_summary,
    password_args,
    run_with_password,
    tls_args,
)
from .baresip_peer import Baresip, BaresipFactory, write_tone
from .kamailio_peer import Kamailio
from .peers import DOMAIN, USERS, PeerGroup, PeerProcess
from .sipsec_peer import sipsec_argv

pytestmark = pytest.mark.interop

ALICE = "sip:alice@biloxi.example"
TRANSPORTS = ["udp", "tcp", "tls"]


def proxy_args(kamailio: Kamailio, pki: Pki, transport: str) -> list[str]:
    """Options that make sipsec (as alice) use Kamailio as its proxy over ``transport``."""
    if transport != "tls":
        return ["--proxy", kamailio.outbound(transport)]
    # alice's user certificate: Kamailio does not ask for one (mutual TLS);
    # test_sipsec_register_over_tls_without_a_client_certificate goes without.
    return tls_proxy_args(kamailio, pki, ALICE)


def tls_proxy_args(kamailio: Kamailio, pki: Pki, aor: str | None) -> list[str]:
    """Kamailio's TLS port as the sips: proxy, its certificate checked against
    the shared root; with ``aor``, that user's certificate offered."""
    return [
        "--proxy",
        "sips:biloxi.example",
        "--host",
        kamailio.host_entry("tls"),
        *tls_args(pki, aor),
    ]


def start_bob(baresip: BaresipFactory, kamailio: Kamailio, *, secure: bool) -> Baresip:
    """bob registered at Kamailio: over TLS insisting on SRTP, or over UDP."""
    transport = "tls" if secure else "udp"
    bob = baresip(
        "bob",
        kamailio.outbound(transport),
        transport=transport,
        mediaenc="srtp-mand" if secure else None,
    )
    bob.wait_registered()
    return bob


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sipsec_registers_at_kamailio(
    kamailio: Kamailio, pki: Pki, peers: PeerGroup, transport: str
) -> None:
    run = run_with_password(peers, "register", ALICE, *proxy_args(kamailio, pki, transport))
    assert run.returncode == 0, run.describe()
    assert f"registered {ALICE} (1 binding)" in run.stdout
    # Kamailio saw the challenge round: a REGISTER without, then with credentials,
    # over the transport the proxy URI names.
    seen = [(r.uri, r.transport) for r in kamailio.requests("REGISTER")]
    assert seen == [("sip:biloxi.example", transport)] * 2
    binding = re.search(r"binding: <sip:alice@127\.0\.0\.1:\d+;transport=(\w+)>", run.stdout)
    assert binding is not None and binding[1] == transport


def test_sipsec_answers_a_sha256_challenge_from_kamailio(
    pki: Pki, peers: PeerGroup, tmp_path: Path
) -> None:
    """Kamailio set to SHA-256 (RFC 7616); sipsec's Digest client follows it."""
    kamailio: Kamailio = peers.add(
        Kamailio(tmp_path / "kamailio", pki, DOMAIN, USERS, algorithm="SHA-256")
    )
    kamailio.start()
    run = run_with_password(peers, "register", ALICE, *proxy_args(kamailio, pki, "udp"), "-v")
    assert run.returncode == 0, run.describe()
    assert f"registered {ALICE} (1 binding)" in run.stdout
    assert re.search(r"WWW-Authenticate: Digest .*algorithm=SHA-256", run.stderr)
    authorization = re.search(r"Authorization: Digest .*", run.stderr)
    assert authorization is not None and "algorithm=SHA-256" in authorization[0]


def test_sipsec_wrong_password_is_refused_by_kamailio(
    kamailio: Kamailio, pki: Pki, peers: PeerGroup
) -> None:
    run = run_with_password(
        peers,
        "register",
        ALICE,
        *proxy_args(kamailio, pki, "udp"),
        password="not-" + USERS["alice"],
    )
    assert run.returncode == 3, run.describe()  # EXIT_AUTH of `sipsec register`
    assert "registered" not in run.stdout


def test_sipsec_register_over_tls_without_a_client_certificate(
    kamailio: Kamailio, pki: Pki, peers: PeerGroup
) -> None:
    """`sipsec register --help` shows exactly this: sips: proxy, --host, --ca-file, no --cert."""
    run = run_with_password(peers, "register", ALICE, *tls_proxy_args(kamailio, pki, None))
    assert run.returncode == 0, run.describe()
    assert f"registered {ALICE} (1 binding)" in run.stdout


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sipsec_calls_baresip_through_kamailio(
    kamailio: Kamailio,
    pki: Pki,
    peers: PeerGroup,
    baresip: BaresipFactory,
    tmp_path: Path,
    transport: str,
) -> None:
    # SDES keys may only cross TLS (RFC 4568 §8.3): SRTP over TLS, plain RTP
    # otherwise, and bob insists on SRTP when his own hop is TLS.
    secure = transport == "tls"
    bob = start_bob(baresip, kamailio, secure=secure)
    tone = write_tone(tmp_path / "alice.wav", 3.0, frequency=1000.0)

    # SDES over TLS needs TLS on every hop, which only a sips: target asks
    # of the proxies (RFC 3261 §26.2.2).
    target = "sips:bob@biloxi.example" if secure else "sip:bob@biloxi.example"
    run = run_with_password(
        peers,
        "call",
        target,
        "--as",
        ALICE,
        *proxy_args(kamailio, pki, transport),
        "--duration",
        "1",
        "--media",
        "srtp" if secure else "rtp",
        "--play",
        str(tone),
        "-v",
    )
    assert run.returncode == 0, run.describe()
    clear_rtcp = BARESIP_CLEAR_RTCP if secure else 0
    summary = call_summary(run.stdout, run.describe(), clear_rtcp=clear_rtcp)
    assert int(summary["auth_failures"]) == 0
    if secure:
        assert summary["media"] != "plain RTP"
        assert "SDES" in summary["keys"]
    else:
        assert summary["media"] == "plain RTP"

    # Kamailio challenged the INVITE (407) and relayed the retry; bob saw the
    # call established and closed by sipsec's BYE.
    invites = [(r.uri, r.transport) for r in kamailio.requests("INVITE")]
    assert invites == [(target, transport)] * 2
    assert "SIP/2.0 407" in run.stderr
    bob.control.wait_event("CALL_ESTABLISHED", 5)
    bob.control.wait_event("CALL_CLOSED", 5)
    # bob decoded sipsec's 1 kHz tone (G.711 keeps its amplitude near 8000).
    assert_heard_tone(bob)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_baresip_calls_sipsec_answer_through_kamailio(
    kamailio: Kamailio,
    pki: Pki,
    peers: PeerGroup,
    baresip: BaresipFactory,
    tmp_path: Path,
    transport: str,
) -> None:
    """The other direction: sipsec answers (UAS) behind Kamailio, baresip calls."""
    secure = transport == "tls"
    # bob first: ``--wait`` counts from "answering as", so a baresip slow to
    # start and register under load must not eat into it (it could take up
    # to 2 × START_TIMEOUT, all of the old --wait 20).
    bob = start_bob(baresip, kamailio, secure=secure)
    options, env = password_args()
    argv = sipsec_argv(
        "answer",
        "--as",
        ALICE,
        *proxy_args(kamailio, pki, transport),
        *options,
        "--calls",
        "1",
        "--wait",
        "60",  # a bound for a broken run only: the call comes as soon as bob dials
        "--media",
        "srtp" if secure else "rtp",
        "--play",
        str(write_tone(tmp_path / "alice.wav", 5.0, frequency=1000.0)),
        "-v",
    )
    answerer: PeerProcess = peers.add(
        PeerProcess("sipsec answer", argv, tmp_path / "sipsec-answer.log", tmp_path)
    )
    answerer.start(env=env)
    # Printed once the REGISTER was answered: alice is reachable from here on.
    answerer.wait_until("'answering as'", lambda: "answering as" in answerer.log(), 30)
    bob.control.command("dial", ALICE)
    bob.control.wait_event("CALL_ESTABLISHED", 10, unless=["CALL_CLOSED"])
    bob.wait_decoded(0.5)
    bob.control.command("hangup")
    bob.control.wait_event("CALL_CLOSED", 10)

    assert answerer.wait_exit(30) == 0, answerer.log()
    clear_rtcp = BARESIP_CLEAR_RTCP if secure else 0
    summary = call_summary(answerer.log(), answerer.log(), clear_rtcp=clear_rtcp)
    assert (summary["media"] != "plain RTP") == secure
    assert_heard_tone(bob)  # sipsec's 1 kHz tone at amplitude 8000, through G.711
