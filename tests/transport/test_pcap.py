"""The pcap writer: headers, checksums and TCP sequence numbers read back.

A small independent reader below parses what the writer produced and checks
every checksum the way a receiver does (the one's complement sum over the
header and its checksum field is all ones); ``tshark``, when installed, reads
the same files as the reference.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.transport.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    PcapError,
    PcapWriter,
    internet_checksum,
    write_wire_records,
)

Address = tuple[str, int]
A: Address = ("127.0.0.1", 40001)
B: Address = ("127.0.0.1", 5061)
A6: Address = ("::1", 40001)
B6: Address = ("::1", 5061)

OPTIONS = (
    b"OPTIONS sip:bob@biloxi.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bKx1\r\n"
    b"Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example>\r\n"
    b"From: <sip:alice@atlanta.example>;tag=1\r\nCall-ID: c1\r\n"
    b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


# -- an independent reader -------------------------------------------------


@dataclass
class Packet:
    time: float
    src: Address
    dst: Address
    protocol: str  # "udp" | "tcp"
    payload: bytes
    seq: int = 0
    ack: int = 0
    flags: int = 0


def _ones_complement_ok(data: bytes) -> bool:
    # RFC 1071 §1: the receiver's sum over data including the checksum is all ones.
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def read_pcap(data: bytes) -> tuple[int, list[Packet]]:
    import ipaddress

    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor) == (0xA1B2C3D4, 2, 4)
    assert snaplen >= 65535
    packets: list[Packet] = []
    offset = 24
    while offset < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, offset)
        assert incl == orig and usec < 1_000_000
        frame = data[offset + 16 : offset + 16 + incl]
        assert len(frame) == incl
        offset += 16 + incl
        if linktype == LINKTYPE_ETHERNET:
            assert frame[:12] == bytes(12)
            ethertype = struct.unpack_from("!H", frame, 12)[0]
            frame = frame[14:]
            assert ethertype == (0x0800 if frame[0] >> 4 == 4 else 0x86DD)
        if frame[0] >> 4 == 4:
            assert frame[0] == 0x45
            assert _ones_complement_ok(frame[:20]), "IPv4 header checksum"
            total, proto = struct.unpack_from("!H", frame, 2)[0], frame[9]
            assert total == len(frame)
            src_ip, dst_ip = frame[12:16], frame[16:20]
            body = frame[20:]
            pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, proto, len(body))
        else:
            length, proto = struct.unpack_from("!H", frame, 4)[0], frame[6]
            src_ip, dst_ip = frame[8:24], frame[24:40]
            body = frame[40:]
            assert length == len(body)
            pseudo = src_ip + dst_ip + struct.pack("!I3xB", len(body), proto)
        assert _ones_complement_ok(pseudo + body), "transport checksum"
        src_host = str(ipaddress.ip_address(src_ip))
        dst_host = str(ipaddress.ip_address(dst_ip))
        sport, dport = struct.unpack_from("!HH", body)
        when = sec + usec / 1e6
        if proto == 17:
            assert struct.unpack_from("!H", body, 4)[0] == len(body)
            packets.append(Packet(when, (src_host, sport), (dst_host, dport), "udp", body[8:]))
        else:
            assert proto == 6
            seq, ack, off_flags = struct.unpack_from("!IIH", body, 4)
            hlen = (off_flags >> 12) * 4
            packets.append(
                Packet(
                    when,
                    (src_host, sport),
                    (dst_host, dport),
                    "tcp",
                    body[hlen:],
                    seq,
                    ack,
                    off_flags & 0x3F,
                )
            )
    return linktype, packets


def tcp_streams(packets: list[Packet]) -> dict[tuple[Address, Address], bytes]:
    """Reassemble each direction, asserting the sequence numbers are contiguous
    and every ACK acknowledges exactly what the peer has sent so far."""
    nxt: dict[tuple[Address, Address], int] = {}
    out: dict[tuple[Address, Address], bytes] = {}
    for p in packets:
        if p.protocol != "tcp":
            continue
        key, back = (p.src, p.dst), (p.dst, p.src)
        if p.flags & 0x02:  # SYN
            assert key not in nxt or p.flags & 0x10
            nxt[key] = (p.seq + 1) & 0xFFFFFFFF
            out.setdefault(key, b"")
            if p.flags & 0x10:
                assert p.ack == nxt[back]
            continue
        assert p.seq == nxt[key], "sequence numbers contiguous"
        assert p.flags & 0x10 and p.ack == nxt[back], "ACK acknowledges the peer's bytes"
        out[key] += p.payload
        nxt[key] = (nxt[key] + len(p.payload) + (1 if p.flags & 0x01 else 0)) & 0xFFFFFFFF
    return out


def write(fn: object, linktype: int = LINKTYPE_RAW) -> bytes:
    buffer = io.BytesIO()
    writer = PcapWriter(buffer, linktype=linktype)
    fn(writer)  # type: ignore[operator]
    return buffer.getvalue()


# -- checksums -------------------------------------------------------------


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; checksum is its complement.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert internet_checksum(b"\x01") == 0xFFFF - 0x0100  # odd length padded with zero


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_internet_checksum_verifies(data: bytes) -> None:
    padded = data + b"\x00" * (len(data) % 2)
    assert _ones_complement_ok(padded + struct.pack("!H", internet_checksum(data)))


# -- UDP and TCP read back -------------------------------------------------


@pytest.mark.parametrize("linktype", [LINKTYPE_RAW, LINKTYPE_ETHERNET])
@pytest.mark.parametrize(("a", "b"), [(A, B), (A6, B6)])
def test_udp_and_tcp_read_back(linktype: int, a: Address, b: Address) -> None:
    def run(w: PcapWriter) -> None:
        w.udp(1000.25, a, b, OPTIONS)
        w.tcp_open(1001.0, a, b)
        w.tcp_data(1001.5, a, b, bytes(range(256)) * 13)  # three segments
        w.tcp_data(1002.0, b, a, b"SIP/2.0 200 OK\r\n\r\n")
        w.tcp_close(1003.0, a, b)
        w.tcp_close(1003.5, b, a)

    kind, packets = read_pcap(write(run, linktype))
    assert kind == linktype
    assert packets[0] == Packet(1000.25, a, b, "udp", OPTIONS)
    flags = [p.flags for p in packets[1:]]
    assert flags[:3] == [0x02, 0x12, 0x10]  # SYN, SYN-ACK, ACK
    assert flags[-4:] == [0x11, 0x10, 0x11, 0x10]  # FIN-ACK, ACK each way
    assert max(len(p.payload) for p in packets[1:]) == 1460
    streams = tcp_streams(packets)
    assert streams == {(a, b): bytes(range(256)) * 13, (b, a): b"SIP/2.0 200 OK\r\n\r\n"}
    assert [p.time for p in packets] == sorted(p.time for p in packets)


def test_data_before_open_synthesizes_the_handshake() -> None:
    def run(w: PcapWriter) -> None:
        w.tcp_data(5.0, A, B, b"x")
        assert w.has_connection(A, B) and w.has_connection(B, A)
        w.tcp_open(5.1, B, A)  # already open: nothing new
        w.tcp_close(6.0, A, B)
        w.tcp_close(6.1, A, B)  # second FIN from the same side: ignored
        w.tcp_close(6.2, B, A)
        assert not w.has_connection(A, B)
        w.tcp_close(6.3, B, A)  # no connection any more: ignored

    _, packets = read_pcap(write(run))
    assert [p.flags for p in packets] == [0x02, 0x12, 0x10, 0x18, 0x11, 0x10, 0x11, 0x10]
    assert packets[0].src == A  # the sender of the first data is taken as the client
    assert tcp_streams(packets) == {(A, B): b"x", (B, A): b""}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["udp", "ab", "ba"]), st.binary(min_size=1, max_size=4000)),
        max_size=12,
    )
)
def test_any_conversation_reads_back_exactly(ops: list[tuple[str, bytes]]) -> None:
    def run(w: PcapWriter) -> None:
        for i, (op, payload) in enumerate(ops):
            if op == "udp":
                w.udp(float(i), A, B, payload)
            else:
                src, dst = (A, B) if op == "ab" else (B, A)
                w.tcp_data(float(i), src, dst, payload)

    _, packets = read_pcap(write(run))
    assert [p.payload for p in packets if p.protocol == "udp"] == [
        payload for op, payload in ops if op == "udp"
    ]
    streams = tcp_streams(packets)
    for key, op in (((A, B), "ab"), ((B, A), "ba")):
        expected = b"".join(payload for o, payload in ops if o == op)
        assert streams.get(key, b"") == expected


# -- bad input: PcapError, never anything else -----------------------------


@pytest.mark.parametrize(
    "bad",
    [
        lambda w: w.udp(1.0, ("atlanta.example", 5060), B, b"x"),
        lambda w: w.udp(1.0, A, ("127.0.0.1", 70000), b"x"),
        lambda w: w.udp(1.0, A, B6, b"x"),
        lambda w: w.udp(1.0, A, B, bytes(65508)),
        lambda w: w.udp(-1.0, A, B, b"x"),
        lambda w: w.udp(2.0**33, A, B, b"x"),
        lambda w: w.tcp_open(1.0, A, A),
        lambda w: w.tcp_data(1.0, A6, B, b"x"),
    ],
)
def test_bad_records_raise_pcap_error(bad: object) -> None:
    writer = PcapWriter(io.BytesIO())
    with pytest.raises(PcapError):
        bad(writer)  # type: ignore[operator]


def test_unknown_link_type_refused() -> None:
    with pytest.raises(PcapError, match="link type"):
        PcapWriter(io.BytesIO(), linktype=113)


hosts = st.one_of(
    st.sampled_from(["127.0.0.1", "::1", "10.0.0.1", "fe80::1"]),
    st.text(max_size=20),
)
ports = st.one_of(st.integers(0, 65535), st.integers(-(2**20), 2**20))


@settings(max_examples=600)
@given(
    st.sampled_from(["udp", "open", "data", "close"]),
    st.tuples(hosts, ports),
    st.tuples(hosts, ports),
    st.binary(max_size=64),
    st.floats(allow_nan=False, min_value=-10.0, max_value=2.0**34),
)
def test_any_record_is_written_or_refused_with_pcap_error(
    op: str, src: Address, dst: Address, payload: bytes, when: float
) -> None:
    writer = PcapWriter(io.BytesIO())
    try:
        if op == "udp":
            writer.udp(when, src, dst, payload)
        elif op == "open":
            writer.tcp_open(when, src, dst)
        elif op == "data":
            writer.tcp_data(when, src, dst, payload)
        else:
            writer.tcp_close(when, src, dst)
    except PcapError:
        pass


# -- wire records from both ends of a loopback run -------------------------


@dataclass(frozen=True)
class Wire:
    time: float
    direction: str
    transport: str
    local: Address
    remote: Address
    data: bytes = b""
    event: str = "data"


def both_sides() -> list[Wire]:
    """What A and B each recorded: a UDP datagram, a TLS connection chunked
    differently by sender and receiver, and its close."""
    hello = bytes(range(200)) * 10
    return [
        Wire(1.0, "out", "udp", A, ("127.0.0.1", 5060), OPTIONS),
        Wire(1.001, "in", "udp", ("127.0.0.1", 5060), A, OPTIONS),
        Wire(1.002, "in", "udp", ("127.0.0.1", 5060), ("127.0.0.1", 9), b"from a stranger"),
        Wire(2.0, "out", "tls", A, B, event="open"),
        Wire(2.001, "in", "tls", B, A, event="open"),
        Wire(2.1, "out", "tls", A, B, hello),
        Wire(2.101, "in", "tls", B, A, hello[:1000]),
        Wire(2.102, "in", "tls", B, A, hello[1000:]),
        Wire(2.2, "in", "tls", A, B, b"answer"),  # B's own record of this is missing
        Wire(3.0, "out", "tls", A, B, event="close"),
        Wire(3.001, "in", "tls", B, A, event="close"),
    ]


def test_wire_records_written_once() -> None:
    buffer = io.BytesIO()
    count = write_wire_records(PcapWriter(buffer), reversed(both_sides()))
    _, packets = read_pcap(buffer.getvalue())
    assert count == len(packets)
    udp = [p for p in packets if p.protocol == "udp"]
    assert [p.payload for p in udp] == [OPTIONS, b"from a stranger"]
    assert udp[1].src == ("127.0.0.1", 9)
    assert tcp_streams(packets) == {(A, B): bytes(range(200)) * 10, (B, A): b"answer"}
    assert sum(1 for p in packets if p.flags & 0x01) == 2  # one FIN each way


def test_unknown_transport_refused() -> None:
    with pytest.raises(PcapError, match="sctp"):
        write_wire_records(PcapWriter(io.BytesIO()), [Wire(1.0, "out", "sctp", A, B, b"x")])


# -- the reference reader ---------------------------------------------------


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("linktype", [LINKTYPE_RAW, LINKTYPE_ETHERNET])
def test_tshark_reads_it_cleanly(tmp_path: Path, linktype: int) -> None:
    path = tmp_path / "capture.pcap"
    with PcapWriter(path.open("wb"), linktype=linktype) as writer:
        write_wire_records(writer, both_sides())
    fields = [
        "frame.number",
        "ip.checksum.status",
        "udp.checksum.status",
        "tcp.checksum.status",
        "_ws.expert.severity",
        "sip.Method",
    ]
    result = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields"]
        + [arg for f in fields for arg in ("-e", f)]
        + ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
        + ["-o", "tcp.check_checksum:TRUE", "-o", "tcp.analyze_sequence_numbers:TRUE"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == 12  # 2 UDP, 3 handshake, 2+1 data, 2×(FIN, ACK)
    assert all(row[1] == "1" for row in rows), "IPv4 header checksums good"
    assert [row[2] for row in rows[:2]] == ["1", "1"], "UDP checksums good"
    assert all(row[3] == "1" for row in rows[2:]), "TCP checksums good"
    # Expert info at "warning" (6291456) or "error" (8388608) means a malformed
    # or out-of-order segment; SYN/FIN chat (2097152) is fine.
    severities = {int(s) for row in rows for s in row[4].split(",") if s}
    assert max(severities) < 6291456, result.stdout
    assert rows[0][5] == "OPTIONS"
