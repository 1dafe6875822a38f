"""A tiny authoritative DNS responder on 127.0.0.1 for the resolver tests:
an asyncio UDP server answering from a dict with dns.message (the network
is closed; nothing else could answer)."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[tuple[str, str], list[str]]


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        answers = self.zone.get((name, rdtype))
        if answers:
            rrset = dns.rrset.from_text_list(question.name, 300, "IN", rdtype, answers)
            response.answer.append(rrset)
        elif not any(key[0] == name for key in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


class DnsServer:
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self._protocol: _Responder | None = None
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    @property
    def queries(self) -> list[tuple[str, str]]:
        assert self._protocol is not None
        return self._protocol.queries

    async def __aenter__(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Responder(self.zone), local_addr=("127.0.0.1", 0)
        )
        self._protocol = protocol
        name = transport.get_extra_info("sockname")
        self.address = (name[0], name[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._protocol is not None and self._protocol.transport is not None
        self._protocol.transport.close()
        await asyncio.sleep(0)
