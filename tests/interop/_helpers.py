"""What the interop tests do and check again and again: run ``sipsec`` with a
password, call and hang up between two baresips, read a call's summary line,
hear the other side's tone."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._pki import Pki
from .baresip_peer import Baresip, wav_peak
from .peers import USERS, PeerGroup
from .sipsec_peer import SUMMARY, SipsecRun, run_sipsec

# The variable ``sipsec … --password-env`` reads the Digest password from.
PASSWORD_ENV = "SIPSEC_TEST_PASSWORD"


def password_args(password: str = USERS["alice"]) -> tuple[list[str], Mapping[str, str]]:
    """(options, environment) that hand ``password`` to a ``sipsec`` command."""
    return ["--password-env", PASSWORD_ENV], {PASSWORD_ENV: password}


def run_with_password(peers: PeerGroup, *args: str, password: str = USERS["alice"]) -> SipsecRun:
    """``sipsec ARGS --password-env …``, its output kept for a failure report."""
    options, env = password_args(password)
    return peers.record(run_sipsec(*args, *options, env=env))


def tls_args(pki: Pki, aor: str | None = None) -> list[str]:
    """``--ca-file`` (the shared root) and, with ``aor``, that user's certificate and key."""
    args = ["--ca-file", str(pki.ca)]
    if aor is not None:
        creds = pki.user(aor)
        args += ["--cert", str(creds.cert), "--key", str(creds.key)]
    return args


# On an SRTP call without rtcp-mux, baresip 1.0 sends two RTCP packets in
# clear to the RTCP port (RTP + 1): an APP "PING" as its stream starts, before
# its SRTP hooks are on, and its BYE as it hangs up, after they are off
# (seen in a capture). sipsec rightly rejects unauthenticated RTCP (RFC 3711
# §3.4) when its RTCP port is open as one arrives; whether it is open yet (or
# still) is a race between two processes, lost now and then under load.
BARESIP_CLEAR_RTCP = 2


def call_summary(output: str, describe: str, *, clear_rtcp: int = 0) -> re.Match[str]:
    """The summary line of an answered call with media both ways and nothing
    rejected but, at most, the ``clear_rtcp`` packets the peer sent in clear."""
    summary = SUMMARY.search(output)
    assert summary is not None, describe
    assert summary["status"] == "200"
    assert int(summary["sent"]) > 0
    assert int(summary["received"]) > 0
    assert int(summary["rejected"]) <= clear_rtcp, describe
    return summary


def assert_heard_tone(ua: Baresip) -> None:
    """``ua`` decoded the other side's tone: generated at amplitude 8000, a peak
    above 7000 survives G.711, over at least half a second at 8 kHz."""
    frames, peak = wav_peak(ua.decoded())
    assert frames >= 4000
    assert peak > 7000


def call_and_hang_up(caller: Baresip, callee: Baresip, target: str) -> None:
    """caller dials, callee auto-answers, audio flows both ways (half a second
    decoded on each side), caller hangs up; both heard the other's tone."""
    caller.control.command("dial", target)
    caller.control.wait_event("CALL_ESTABLISHED", 10, unless=["CALL_CLOSED"])
    callee.control.wait_event("CALL_ESTABLISHED", 10, unless=["CALL_CLOSED"])
    caller.wait_decoded(0.5)
    callee.wait_decoded(0.5)
    caller.control.command("hangup")
    caller.control.wait_event("CALL_CLOSED", 10)
    callee.control.wait_event("CALL_CLOSED", 10)
    for ua in (caller, callee):
        assert_heard_tone(ua)
