"""A libpcap capture writer for what sipsec sent, as Wireshark expects to see it.

sipsec records the bytes it puts on a socket (``WireRecord``: UDP datagrams,
the TCP byte stream, TLS records exactly as encrypted) but not the IP and
transport headers the kernel adds.  This module synthesizes them — IPv4 or
IPv6, UDP, and TCP with a three-way handshake, sequence and acknowledgement
numbers per connection and FIN at the end — with correct checksums, so that
``tshark -r FILE`` reads the capture without a single malformed or
out-of-order complaint.

Formats: the classic libpcap file (https://wiki.wireshark.org/Development/LibpcapFileFormat,
also draft-ietf-opsawg-pcap), microsecond timestamps, little-endian, link
type ``LINKTYPE_RAW`` (101, a bare IP packet) or ``LINKTYPE_ETHERNET`` (1).
Checksums: RFC 1071 (IPv4 header, RFC 791), RFC 768 (UDP), RFC 9293 §3.1
(TCP), RFC 8200 §8.1 (IPv6 pseudo-header).

Sans-IO in spirit: the writer only needs a binary stream and the times come
in with the records.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from sipsec.errors import SipsecError

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "PcapError",
    "PcapWriter",
    "WireLike",
    "internet_checksum",
    "write_wire_records",
]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
_MAGIC = 0xA1B2C3D4  # microsecond timestamps
_SNAPLEN = 262144
_MSS = 1460  # TCP payload per segment, as on an Ethernet-sized path
_MAX_UDP_PAYLOAD = 65507  # 65535 - 20 (IPv4) - 8 (UDP); the socket refuses more
_TCP_WINDOW = 65535
_FIN, _SYN, _PSH, _ACK = 0x01, 0x02, 0x08, 0x10

Address = tuple[str, int]


class PcapError(SipsecError):
    """A record cannot be written (bad address, oversize datagram, mixed families)."""


class WireLike(Protocol):
    """What :func:`write_wire_records` needs of ``sipsec.transport.trace.WireRecord``."""

    @property
    def time(self) -> float: ...
    @property
    def direction(self) -> str: ...
    @property
    def transport(self) -> str: ...
    @property
    def local(self) -> tuple[str, int]: ...
    @property
    def remote(self) -> tuple[str, int]: ...
    @property
    def data(self) -> bytes: ...
    @property
    def event(self) -> str: ...


def internet_checksum(data: bytes) -> int:
    """RFC 1071: one's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(address: Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    host, port = address
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise PcapError(f"port out of range: {port!r}")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        raise PcapError(f"not an IP address: {host!r}") from None


def _check(time: float, src: Address, dst: Address) -> None:
    """Refuse a record before any state changes or any byte is written."""
    if not 0 <= time < 2**32 - 1:
        raise PcapError(f"timestamp {time} outside the 32-bit pcap range")
    if _ip(src).version != _ip(dst).version:
        raise PcapError(f"mixed address families: {src[0]} and {dst[0]}")


@dataclass(slots=True)
class _Flow:
    """One TCP connection: the next sequence number each way (RFC 9293 §3.4)."""

    client: Address
    server: Address
    next_seq: dict[Address, int]
    fin_sent: set[Address]


class PcapWriter:
    """Packets into a libpcap stream; UDP and TCP headers synthesized.

    Use ``with PcapWriter(open(path, "wb")) as pcap:``; the header is written
    at once, each packet as it comes, nothing is buffered here.
    """

    def __init__(self, stream: BinaryIO, *, linktype: int = LINKTYPE_RAW) -> None:
        if linktype not in (LINKTYPE_RAW, LINKTYPE_ETHERNET):
            raise PcapError(f"unsupported link type {linktype}")
        self._stream = stream
        self.linktype = linktype
        self.packets = 0
        self._ident = 0
        self._flows: dict[frozenset[Address], _Flow] = {}
        stream.write(struct.pack("<IHHiIII", _MAGIC, 2, 4, 0, 0, _SNAPLEN, linktype))

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()

    # -- UDP (RFC 768) --------------------------------------------------

    def udp(self, time: float, src: Address, dst: Address, payload: bytes) -> None:
        """One datagram as it left ``src`` for ``dst``."""
        _check(time, src, dst)
        if len(payload) > _MAX_UDP_PAYLOAD:
            raise PcapError(f"UDP payload of {len(payload)} bytes exceeds {_MAX_UDP_PAYLOAD}")
        length = 8 + len(payload)
        header = struct.pack("!HHHH", src[1], dst[1], length, 0)
        checksum = internet_checksum(self._pseudo(src, dst, 17, length) + header + payload)
        # RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        header = header[:6] + struct.pack("!H", checksum or 0xFFFF)
        self._packet(time, src, dst, 17, header + payload)

    # -- TCP (RFC 9293) -------------------------------------------------

    def has_connection(self, a: Address, b: Address) -> bool:
        """Whether a connection between ``a`` and ``b`` is open (not both FINs)."""
        return frozenset((a, b)) in self._flows

    def tcp_open(self, time: float, client: Address, server: Address) -> None:
        """SYN, SYN-ACK, ACK; a connection already open is left alone."""
        _check(time, client, server)
        self._flow(time, client, server)

    def tcp_data(self, time: float, src: Address, dst: Address, payload: bytes) -> None:
        """Bytes of the stream from ``src``, in segments of at most one MSS.

        A connection not yet seen is opened first with ``src`` as the client
        (the capture began after the handshake, or the open was not recorded).
        """
        _check(time, src, dst)
        flow = self._flow(time, src, dst)
        for start in range(0, len(payload), _MSS):
            chunk = payload[start : start + _MSS]
            self._segment(time, flow, src, _PSH | _ACK, payload=chunk)
            flow.next_seq[src] = (flow.next_seq[src] + len(chunk)) & 0xFFFFFFFF

    def tcp_close(self, time: float, src: Address, dst: Address) -> None:
        """``src`` closes its side: FIN (and the peer's ACK of it)."""
        _check(time, src, dst)
        flow = self._flows.get(frozenset((src, dst)))
        if flow is None or src in flow.fin_sent:
            return
        self._segment(time, flow, src, _FIN | _ACK)
        flow.next_seq[src] = (flow.next_seq[src] + 1) & 0xFFFFFFFF  # FIN takes one
        flow.fin_sent.add(src)
        self._segment(time, flow, dst, _ACK)
        if len(flow.fin_sent) == 2:
            del self._flows[frozenset((src, dst))]

    def _flow(self, time: float, client: Address, server: Address) -> _Flow:
        key = frozenset((client, server))
        flow = self._flows.get(key)
        if flow is not None:
            return flow
        if len(key) != 2:
            raise PcapError(f"a TCP connection needs two endpoints, got {client} twice")
        # Initial sequence numbers derived from the ports: stable, and distinct
        # per direction so a reader never confuses the two.
        isn_c = (client[1] * 0x10001 + 0x1000) & 0xFFFFFFFF
        isn_s = (server[1] * 0x10001 + 0x8000) & 0xFFFFFFFF
        flow = _Flow(client, server, {client: isn_c, server: isn_s}, set())
        self._flows[key] = flow
        self._segment(time, flow, client, _SYN, ack=False)
        flow.next_seq[client] = (isn_c + 1) & 0xFFFFFFFF
        self._segment(time, flow, server, _SYN | _ACK, seq=isn_s)
        flow.next_seq[server] = (isn_s + 1) & 0xFFFFFFFF
        self._segment(time, flow, client, _ACK)
        return flow

    def _segment(
        self,
        time: float,
        flow: _Flow,
        src: Address,
        flags: int,
        *,
        payload: bytes = b"",
        seq: int | None = None,
        ack: bool = True,
    ) -> None:
        dst = flow.server if src == flow.client else flow.client
        seq = flow.next_seq[src] if seq is None else seq
        ack_number = flow.next_seq[dst] if ack else 0
        offset_flags = (5 << 12) | flags  # 20-byte header, no options
        header = struct.pack(
            "!HHIIHHHH", src[1], dst[1], seq, ack_number, offset_flags, _TCP_WINDOW, 0, 0
        )
        pseudo = self._pseudo(src, dst, 6, len(header) + len(payload))
        checksum = internet_checksum(pseudo + header + payload)
        header = header[:16] + struct.pack("!H", checksum) + header[18:]
        self._packet(time, src, dst, 6, header + payload)

    # -- IP and the file ------------------------------------------------

    def _pseudo(self, src: Address, dst: Address, protocol: int, length: int) -> bytes:
        a, b = _ip(src), _ip(dst)
        if a.version == 4:  # RFC 768 / RFC 9293 §3.1
            return a.packed + b.packed + struct.pack("!BBH", 0, protocol, length)
        return a.packed + b.packed + struct.pack("!IxxxB", length, protocol)  # RFC 8200 §8.1

    def _packet(self, time: float, src: Address, dst: Address, protocol: int, body: bytes) -> None:
        a, b = _ip(src), _ip(dst)
        if a.version == 4:
            self._ident = (self._ident + 1) & 0xFFFF
            flags = 0x4000 if protocol == 6 else 0  # DF on TCP, as Linux does
            header = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), self._ident, flags, 64, protocol, 0,
                a.packed, b.packed,
            )  # fmt: skip
            header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
            ethertype = 0x0800
        else:
            header = struct.pack("!IHBB", 6 << 28, len(body), protocol, 64) + a.packed + b.packed
            ethertype = 0x86DD
        packet = header + body
        if self.linktype == LINKTYPE_ETHERNET:
            # Zero MACs, as Linux shows the loopback interface.
            packet = bytes(12) + struct.pack("!H", ethertype) + packet
        seconds, micros = divmod(round(time * 1_000_000), 1_000_000)
        self._stream.write(struct.pack("<IIII", seconds, micros, len(packet), len(packet)))
        self._stream.write(packet)
        self.packets += 1


def write_wire_records(writer: PcapWriter, records: Iterable[WireLike]) -> int:
    """Write wire records in time order; returns how many packets came out.

    On a loopback run every endpoint records both what it sent and what it
    received, so the same bytes may appear twice; a capture on the wire sees
    them once.  A received datagram equal to a sent one (same addresses, same
    bytes) is therefore skipped, and of a TCP stream only the bytes beyond
    those already written in that direction are written, whichever side
    recorded them.  Records of one side only (a peer that is not sipsec)
    still give the whole conversation.  ``open``/``close`` events shape the
    connection: its opener is the side that recorded the open going ``out``.
    """
    ordered = sorted(records, key=lambda r: r.time)
    sent: Counter[tuple[Address, Address, bytes]] = Counter(
        (r.local, r.remote, r.data)
        for r in ordered
        if r.transport == "udp" and r.event == "data" and r.direction == "out"
    )
    # Per (src, dst): bytes recorded going out by src, coming in at dst, written.
    streams: dict[tuple[Address, Address], dict[str, int]] = {}
    before = writer.packets
    for record in ordered:
        local, remote = record.local, record.remote
        src, dst = (local, remote) if record.direction == "out" else (remote, local)
        if record.transport == "udp":
            if record.event != "data":
                continue
            if record.direction != "out" and sent[(src, dst, record.data)]:
                sent[(src, dst, record.data)] -= 1
                continue
            writer.udp(record.time, src, dst, record.data)
            continue
        if record.transport not in ("tcp", "tls"):
            raise PcapError(f"unknown transport {record.transport!r}")
        if record.event == "close":
            writer.tcp_close(record.time, local, remote)
            continue
        if not writer.has_connection(src, dst):  # a new connection: counts restart
            streams.pop((src, dst), None)
            streams.pop((dst, src), None)
        if record.event == "open":
            writer.tcp_open(record.time, src, dst)
            continue
        counts = streams.setdefault((src, dst), {"out": 0, "in": 0, "written": 0})
        side = "out" if record.direction == "out" else "in"
        counts[side] += len(record.data)
        fresh = counts[side] - counts["written"]
        if fresh > 0:
            writer.tcp_data(record.time, src, dst, record.data[len(record.data) - fresh :])
            counts["written"] = counts[side]
    return writer.packets - before
