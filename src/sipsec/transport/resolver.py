"""Locating SIP servers (RFC 3263 §4): a static hosts map first, then DNS.

For a URI the resolver returns the hops to try, in order, as
:class:`~sipsec.transaction.Peer` values whose ``server_name`` is the domain
a TLS peer must prove (RFC 5922 §4) — the URI's host (or ``maddr``), never
an address record's name and never an IP.

- §4.1 transport: an explicit ``transport`` parameter wins; an IP address
  or an explicit port means UDP (``sip:``) or TLS (``sips:``); otherwise
  NAPTR (``SIP+D2U``, ``SIP+D2T``, ``SIPS+D2T``), else SRV for each
  transport, else UDP/TLS.
- §4.2 address and port: an IP is used as is; an explicit port means A/AAAA
  only; otherwise SRV (RFC 2782 priority, then weighted random order),
  else A/AAAA on the default port (5060; 5061 for TLS).
- ``sips:`` only ever yields TLS (RFC 3261 §26.2.2, RFC 5630).

The hosts map (``biloxi.example=tls:127.0.0.1:5061``) stands in for DNS on
loopback: a name found there is not looked up.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from sipsec.errors import SipsecError
from sipsec.sip import SipUri
from sipsec.transaction import Peer, TransportName

from .hostport import HostPortError, parse_transport_address
from .routing import DEFAULT_PORTS, parse_ip

__all__ = ["HostsEntryError", "Resolver", "parse_hosts_entry"]

# RFC 3263 §4.1 NAPTR services and §4.2 SRV prefixes of the transports we speak.
_NAPTR_SERVICES: dict[str, TransportName] = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
_SRV_PREFIX: dict[TransportName, str] = {
    "udp": "_sip._udp",
    "tcp": "_sip._tcp",
    "tls": "_sips._tcp",
}


class HostsEntryError(SipsecError, ValueError):
    """A hosts-map entry that is not ``name=[transport:]ip[:port]``."""


def parse_hosts_entry(text: str) -> tuple[str, Peer]:
    """``"biloxi.example=tls:127.0.0.1:5061"`` → ``("biloxi.example",
    Peer("tls", "127.0.0.1", 5061, "biloxi.example"))``. The transport
    defaults to UDP, the port to its default; IPv6 goes in brackets (a bare
    one without a port is taken too). The address is read by
    :func:`~sipsec.transport.hostport.parse_transport_address`."""
    name, sep, target = text.strip().partition("=")
    name = name.strip().rstrip(".").lower()
    if not sep or not name or parse_ip(name) is not None:
        raise HostsEntryError(f"hosts entry {text!r} is not name=[transport:]ip[:port]")
    try:
        transport, host, port = parse_transport_address(
            target.strip(), default_transport="udp", default_port=DEFAULT_PORTS, bare_ipv6=True
        )
    except HostPortError as exc:
        raise HostsEntryError(f"hosts entry {text!r}: {exc.reason}") from None
    if parse_ip(host) is None:  # the map stands in for DNS: it holds addresses only
        raise HostsEntryError(f"hosts entry {text!r}: {host!r} is not an IP address")
    return name, Peer(transport, host, port, name)


def _uri_transport(uri: SipUri) -> TransportName | None:
    """The transport the URI names (``sips`` + ``tcp`` is TLS); None if none."""
    value = uri.transport
    if value is None:
        return None
    if uri.secure:
        return "tls" if value in ("tcp", "tls") else None
    return value if value in ("udp", "tcp", "tls") else None  # type: ignore[return-value]


class Resolver:
    """RFC 3263 server location with dnspython's asyncio resolver."""

    def __init__(
        self,
        hosts: Mapping[str, Sequence[Peer]] | None = None,
        *,
        use_dns: bool = True,
        nameservers: Sequence[tuple[str, int]] | None = None,
        timeout: float = 3.0,
        rng: random.Random | None = None,
    ) -> None:
        self.hosts = {k.rstrip(".").lower(): list(v) for k, v in (hosts or {}).items()}
        self.use_dns = use_dns
        self._rng = rng if rng is not None else random.Random()
        self._dns: dns.asyncresolver.Resolver | None = None
        if use_dns:
            if nameservers is None:
                try:
                    self._dns = dns.asyncresolver.Resolver()  # /etc/resolv.conf
                except dns.exception.DNSException:  # no configuration: names fail
                    self._dns = dns.asyncresolver.Resolver(configure=False)
            else:
                self._dns = dns.asyncresolver.Resolver(configure=False)
                self._dns.nameservers = [
                    dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers
                ]
            self._dns.lifetime = timeout

    # -- without DNS ----------------------------------------------------------------------------
    def resolve_static(self, uri: SipUri) -> list[Peer] | None:
        """The hops for an IP-literal target or a name in the hosts map;
        None when DNS is needed. An empty list: nothing can reach it (a
        ``sips:`` URI asking for UDP, say)."""
        target = (uri.maddr or uri.host).strip("[]").rstrip(".").lower()
        explicit = _uri_transport(uri)
        if uri.transport is not None and explicit is None:
            return []  # sips over UDP, or a transport we do not speak
        if parse_ip(target) is not None:
            transport = explicit or ("tls" if uri.secure else "udp")
            return [Peer(transport, target, uri.port or DEFAULT_PORTS[transport])]
        entries = self.hosts.get(target)
        if entries is None:
            return None
        peers = [p for p in entries if not uri.secure or p.transport == "tls"]
        if explicit is not None:
            chosen = [p for p in peers if p.transport == explicit]
            if not chosen:  # the map's address, the transport asked for
                chosen = [Peer(explicit, p.host, DEFAULT_PORTS[explicit]) for p in entries[:1]]
            peers = chosen
        if uri.port is not None:
            peers = [Peer(p.transport, p.host, uri.port) for p in peers]
        return [Peer(p.transport, p.host, p.port, p.server_name or target) for p in peers]

    # -- with DNS -------------------------------------------------------------------------------
    async def resolve(self, uri: SipUri) -> list[Peer]:
        """The hops to try for ``uri``, in order (empty when none is found)."""
        static = self.resolve_static(uri)
        if static is not None:
            return static
        if self._dns is None:
            return []
        target = (uri.maddr or uri.host).rstrip(".").lower()
        explicit = _uri_transport(uri)
        if uri.port is not None:  # §4.2: a port means no SRV
            transport = explicit or ("tls" if uri.secure else "udp")
            return await self._addresses(target, transport, uri.port, target)
        if explicit is not None:
            transports: list[TransportName] = [explicit]
        else:
            transports = await self._naptr(target, uri.secure)
        if not transports:
            transports = ["tls"] if uri.secure else ["udp", "tcp", "tls"]
        peers: list[Peer] = []
        for transport in transports:
            peers += await self._srv(f"{_SRV_PREFIX[transport]}.{target}", transport, target)
        if peers:
            return peers
        transport = explicit or ("tls" if uri.secure else "udp")  # §4.2: no SRV → A/AAAA
        return await self._addresses(target, transport, DEFAULT_PORTS[transport], target)

    async def _query(self, name: str, rdtype: str) -> list[object]:
        assert self._dns is not None
        try:
            answer = await self._dns.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.exception.DNSException, OSError, ValueError):
            return []
        return list(answer.rrset) if answer.rrset is not None else []

    async def _naptr(self, target: str, secure: bool) -> list[TransportName]:
        """§4.1: the NAPTR services we support, in order/preference order;
        the SRV names they point at are queried by :meth:`resolve`."""
        records = await self._query(target, "NAPTR")
        ranked: list[tuple[int, int, TransportName]] = []
        for record in records:
            service = getattr(record, "service", b"").decode("ascii", "replace").upper()
            flags = getattr(record, "flags", b"").decode("ascii", "replace").lower()
            transport = _NAPTR_SERVICES.get(service)
            if transport is None or flags != "s" or (secure and transport != "tls"):
                continue
            ranked.append(
                (int(getattr(record, "order", 0)), int(getattr(record, "preference", 0)), transport)
            )
        ranked.sort(key=lambda item: (item[0], item[1]))
        seen: list[TransportName] = []
        for _, _, transport in ranked:
            if transport not in seen:
                seen.append(transport)
        return seen

    async def _srv(self, name: str, transport: TransportName, domain: str) -> list[Peer]:
        records = await self._query(name, "SRV")
        targets: list[tuple[int, int, str, int]] = []
        for record in records:
            host = str(getattr(record, "target", ".")).rstrip(".")
            if host:  # "." means "not here" (RFC 2782)
                targets.append(
                    (
                        int(getattr(record, "priority", 0)),
                        int(getattr(record, "weight", 0)),
                        host,
                        int(getattr(record, "port", 0)),
                    )
                )
        peers: list[Peer] = []
        for _, host, port in self._srv_order(targets):
            peers += await self._addresses(host, transport, port, domain)
        return peers

    def _srv_order(self, records: list[tuple[int, int, str, int]]) -> list[tuple[int, str, int]]:
        """RFC 2782: by priority; within one, a weighted random order."""
        out: list[tuple[int, str, int]] = []
        for priority in sorted({r[0] for r in records}):
            group = [r for r in records if r[0] == priority]
            while group:
                total = sum(r[1] for r in group)
                pick = self._rng.uniform(0, total) if total else 0.0
                running = 0
                for i, record in enumerate(group):
                    running += record[1]
                    if total == 0 or running >= pick:
                        chosen = group.pop(i)
                        out.append((priority, chosen[2], chosen[3]))
                        break
        return out

    async def _addresses(
        self, host: str, transport: TransportName, port: int, domain: str
    ) -> list[Peer]:
        if parse_ip(host) is not None:
            return [
                Peer(
                    transport, host.strip("[]"), port, domain if parse_ip(domain) is None else None
                )
            ]
        found: list[Peer] = []
        for rdtype in ("A", "AAAA"):
            for record in await self._query(host, rdtype):
                address = str(getattr(record, "address", ""))
                if address:
                    found.append(Peer(transport, address, port, domain))
        return found
