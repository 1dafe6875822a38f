"""The demo orchestration: its PKI, its recording check, its taps, and one
whole run in process (the subprocess runs are in tests/cli/test_demo.py)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest

from sipsec.ca import Purpose, load_certificates
from sipsec.rtp import ulaw_decode, ulaw_encode, write_wav
from sipsec.rtp.quality import sweep_tone
from sipsec.transport.demo_trapezoid import (
    HOSTNAMES,
    DemoOptions,
    compare_recording,
    free_ports,
    make_pki,
    run_trapezoid,
)

NOW = dt.datetime.now(dt.UTC)


def test_pki_issues_the_four_certificates(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "ca", NOW)
    store = pki.store()
    assert sorted(pki.nodes) == ["alice", "alice-tls", "atlanta", "biloxi", "bob", "bob-tls"]
    for name, purpose in [
        ("alice", Purpose.SMIME),
        ("bob", Purpose.SMIME),
        ("atlanta", Purpose.TLS_SERVER),
        ("biloxi", Purpose.TLS_SERVER),
        ("alice-tls", Purpose.TLS_SERVER),
        ("bob-tls", Purpose.TLS_CLIENT),
    ]:
        cert = pki.nodes[name].cert()
        store.validate(cert, purpose=purpose, now=NOW)
        public = pki.nodes[name].key().public_key()
        assert public.public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert store.find("sip:bob@biloxi.example") == pki.nodes["bob"].cert()
    assert load_certificates(pki.ca_path)[0].subject.rfc4514_string() == "CN=sipsec demo CA"
    assert oct(pki.nodes["alice"].key_path.stat().st_mode & 0o777) == "0o600"


def test_recording_comparison(tmp_path: Path) -> None:
    tone = sweep_tone(2.0)
    # What Bob records: the tone through G.711 µ-law, starting 37 ms late.
    heard = bytes(2 * 296) + ulaw_decode(ulaw_encode(tone))
    write_wav(tmp_path / "good.wav", heard)
    snr, seconds = compare_recording(tone, tmp_path / "good.wav")
    assert snr > 30 and seconds == pytest.approx(2.037, abs=0.001)
    write_wav(tmp_path / "noise.wav", os.urandom(len(heard)))
    snr, _ = compare_recording(tone, tmp_path / "noise.wav")
    assert snr < 3
    (tmp_path / "broken.wav").write_bytes(b"RIFF....")
    assert compare_recording(tone, tmp_path / "broken.wav") == (float("-inf"), 0.0)
    assert compare_recording(tone, tmp_path / "missing.wav") == (float("-inf"), 0.0)


def test_free_ports_are_distinct_and_free_for_tcp_and_udp() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", port))


def test_uris_follow_the_transport() -> None:
    assert DemoOptions().uri("atlanta.example") == "sips:atlanta.example"
    assert DemoOptions().uri_plain("bob@biloxi.example") == "sips:bob@biloxi.example"
    udp = DemoOptions(transport="udp")
    assert udp.uri("atlanta.example") == "sip:atlanta.example;transport=udp"
    assert udp.uri_plain("bob@biloxi.example") == "sip:bob@biloxi.example"


async def test_one_whole_run_in_process(tmp_path: Path) -> None:
    """The real trapezoid over TLS: what the run hands to the report."""
    run = await run_trapezoid(DemoOptions(duration=1.0), tmp_path)
    assert run.error is None, run.steps
    assert all(step.ok for step in run.steps)
    assert {node for node, _ in run.traces} == {"alice", "atlanta", "biloxi", "bob"}
    assert all(record.transport == "tls" for _, record in run.traces)
    # The UAs proved their host names to whoever connected to them.
    peers = {record.tls_peer for node, record in run.traces if node == "biloxi"}
    assert HOSTNAMES["bob"] in peers and "atlanta.example" in peers
    events = {(w.transport, w.event) for w in run.wire}
    assert {("tls", "open"), ("tls", "data"), ("tls", "close"), ("udp", "data")} <= events
    media = [w for w in run.wire if w.transport == "udp"]
    assert len(media) >= 80  # 1 s of 20 ms packets each way, recorded as sent
    assert not any(b"SIP/2.0" in w.data for w in run.wire if w.transport == "tls")
    assert run.calls["alice"].ok and run.calls["bob"].ok
    # RFC 3261 Figure 1: Bob hangs up (F13 BYE Bob → Alice).
    assert run.calls["alice"].ended_by_remote and not run.calls["bob"].ended_by_remote
    byes = [(n, r.direction) for n, r in run.traces if r.data.startswith(b"BYE ")]
    assert ("bob", "out") in byes and ("alice", "in") in byes and ("alice", "out") not in byes
    assert run.calls["alice"].smime and run.calls["bob"].smime
    assert run.snr_db is not None and run.snr_db > 20
    assert set(run.media) == {"alice", "bob"}
    # Both directions, through the UAs' public media hook (on_media_wire).
    assert {w.local for w in media} == {run.media[n].local_rtp for n in ("alice", "bob")}
    assert all(w.direction == "out" for w in media)
