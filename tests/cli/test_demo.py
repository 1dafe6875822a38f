"""``sipsec demo`` end to end, each run in a subprocess as a user runs it.

Every run is the real trapezoid on 127.0.0.1: CA, two proxies with SQLite
registrars, two UAs, Digest, S/MIME, SRTP audio and Bob's recording.
"""

from __future__ import annotations

import re
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

LABELS = [f"F{i}" for i in range(1, 15)]
Run = tuple[subprocess.CompletedProcess[str], Path]


def run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-bb", "-m", "sipsec", "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONWARNINGS": "error"},
    )


def ladder_labels(output: str) -> set[str]:
    return set(re.findall(r" ms (F\d+) ", output))


@pytest.fixture(scope="module")
def tls_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    where = tmp_path_factory.mktemp("demo")
    result = run_demo(
        "--pcap",
        str(where / "demo.pcap"),
        "--keylog",
        str(where / "keys.log"),
        "--attack",
        cwd=where,
    )
    return result, where


def test_default_run_passes_every_check(tls_run: Run) -> None:
    result, _ = tls_run
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert ladder_labels(out) >= set(LABELS), out
    assert "401 Unauthorized" in out  # the registration challenge is shown
    assert "S/MIME signed + encrypted" in out
    assert "all " in out and "checks passed" in out
    # RFC 3261 Figure 1: Bob hangs up; the ladder draws F13 right to left.
    assert "Bob hangs up as in Figure 1" in out and "F13 bob→alice" in out
    f13 = next(line for line in out.splitlines() if " ms F13 " in line)
    assert "◄" in f13 and "BYE" in f13
    assert "(In RFC 3261 Figure 1 Bob hangs up" not in out
    # What each proxy could not read, proved with its own key.
    assert re.search(r"atlanta\.example\s.*(NotForUs|DecryptionFailed)", out), out
    # --attack: forgeries refused by the real SRTP context and S/MIME code.
    for line in (
        "SRTP replayed packet rejected",
        "SRTP tampered packet rejected",
        "tampered S/MIME body rejected",
    ):
        assert line in out
    assert "✗" not in out


@pytest.mark.interop  # tshark reads the capture, when it is installed
def test_pcap_and_keylog(tls_run: Run) -> None:
    result, where = tls_run
    pcap = (where / "demo.pcap").read_bytes()
    magic, major, minor = struct.unpack_from("<IHH", pcap)
    assert (magic, major, minor) == (0xA1B2C3D4, 2, 4)
    keylog = (where / "keys.log").read_text()
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog or "CLIENT_RANDOM" in keylog
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed: only the header was checked")
    # The demo prints how to read its capture: the ports to decode as TLS and
    # SIP, the key log, the media ports to decode as RTP.
    hint = next(line for line in result.stdout.splitlines() if "read it with:" in line)
    tshark = shlex.split(hint.split("read it with:", 1)[1])
    assert tshark[:3] == ["tshark", "-r", str(where / "demo.pcap")]
    assert f"tls.keylog_file:{where / 'keys.log'}" in tshark
    fields = ["-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code"]
    shown = subprocess.run(
        [*tshark, "-n", "-Y", "sip", *fields],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = shown.stdout.split()
    # With the key log, tshark decrypts the TLS hops and finds the SIP inside.
    assert "INVITE" in seen and "REGISTER" in seen and "BYE" in seen, shown.stdout
    media = subprocess.run(
        [*tshark, "-n", "-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ssrcs = media.stdout.split()
    assert len(ssrcs) > 400 and len(set(ssrcs)) == 2  # 5 s each way, 50 packets a second


@pytest.mark.parametrize(
    ("args", "seen"),
    [
        (["--transport", "udp", "--duration", "1"], "UDP"),
        # a=crypto (SDES) lines inside the S/MIME body, over TCP.
        (["--transport", "tcp", "--keys", "sdes", "--duration", "1"], "TCP"),
    ],
)
def test_other_transports(tmp_path: Path, args: list[str], seen: str) -> None:
    result = run_demo(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ladder_labels(result.stdout) >= set(LABELS)
    assert f" {seen} · " in result.stdout
    assert "TLS" not in result.stdout.split("Every hop")[0]  # no hop claims TLS


@pytest.mark.parametrize(
    ("fault", "evidence"),
    [
        ("wrong-password", "Alice registered with Digest"),  # a 401 again, then nothing
        ("wrong-peer-cert", "Bob opens the S/MIME body"),  # Bob answers 493
    ],
)
def test_an_injected_fault_fails_the_demo(tmp_path: Path, fault: str, evidence: str) -> None:
    result = run_demo("--fault", fault, "--duration", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checks failed" in result.stdout
    failed = [line for line in result.stdout.splitlines() if "✗" in line]
    assert any(evidence in line for line in failed), result.stdout


def test_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    result = run_demo("--transport", "sctp", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--transport'" in result.stderr
