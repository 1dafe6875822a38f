"""What one domain's proxy and registrar are told: :class:`ProxyConfig`.

A frozen value, checked once when made, so the core never meets a nonsense
setting in the middle of a transaction. Every limit that keeps memory
bounded under a flood (pending transactions, response contexts, forking
width) lives here with a default an operator can raise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field

from sipsec.auth import Algorithm, Qop
from sipsec.errors import LocalProtocolError
from sipsec.proxy.location import BindingPolicy
from sipsec.transaction import Peer, TimerConfig, TransportName

__all__ = ["ProxyConfig"]

_TRANSPORTS = ("udp", "tcp", "tls")


@dataclass(frozen=True)
class ProxyConfig:
    """One domain's proxy (RFC 3261 §16) and registrar (§10).

    ``local`` names the address the proxy listens on per transport; it goes
    into Via and Record-Route and is how the proxy recognises its own Route
    entries (§16.4). ``hosts`` is the static hosts map (RFC 3263 stand-in)
    that the driver resolves foreign domains with. Requests from
    ``trusted_domains`` (a peer proxy whose TLS certificate proved that
    domain, RFC 5922) or from ``trusted_addresses`` are never challenged:
    they were authenticated by the proxy of their own domain.
    """

    domain: str
    _: KW_ONLY
    record_route: bool = True
    algorithms: Sequence[str] = ("SHA-512-256", "SHA-256", "MD5")
    qops: Sequence[str] = ("auth", "auth-int")
    authenticate_invites: bool = True
    local: Mapping[TransportName, tuple[str, int]] = field(default_factory=dict)
    hosts: Mapping[str, Sequence[Peer]] = field(default_factory=dict)
    timer_c: float = 180.0
    trusted_domains: frozenset[str] = frozenset()
    trusted_addresses: frozenset[str] = frozenset()
    # Registrar (§10.3 step 7) policy: default/min/max expiry, bindings per AOR.
    bindings: BindingPolicy = field(default_factory=BindingPolicy)
    # Bounded memory: at most this many response contexts (§16.7) and live
    # transactions; beyond that new requests get 503 with Retry-After.
    max_contexts: int = 10_000
    # Transactions, counted apart by the full path's layer and by the fast
    # relay (which declines new requests at the cap: the full path answers
    # them). A relayed call leaves two behind for 64*T1 (32 s: Timers L and
    # J absorb retransmissions, RFC 6026, §17.2.2), so R calls/s need 64*R:
    # 50,000 capped the relay at 780 calls/s. 200,000 lets 3,125 calls/s
    # through, above one core's rate, for at most 340 MB (a relayed call
    # holds 3.4 KB while it lingers: tracemalloc, bench_proxy_core's call).
    # The full path holds ~9 KB a transaction (36 KB a call of four), but
    # what it forwards is capped by max_contexts first, and what it answers
    # itself by its CPU (each lingers 32 s as well).
    max_transactions: int = 200_000
    max_branches: int = 16
    # Requests per second (and burst) one source IP may start; None: no limit.
    # Off by default: a benchmark generator is one source.
    source_rate: float | None = None
    source_burst: float = 200.0
    nonce_lifetime: float = 300.0
    purge_interval: float = 60.0
    timers: TimerConfig = field(default_factory=TimerConfig)
    user_agent: str = "sipsec-proxy/0.1"
    # UDP requests the byte-level relay can take (one UDP target, no
    # challenge, plain shape) skip the parser and the full path
    # (sipsec.proxy.relay); everything else goes the full path as before.
    fast_relay: bool = True

    def __post_init__(self) -> None:
        domain = self.domain.strip().rstrip(".").lower()
        if not domain or any(c in domain for c in ' \t\r\n;@:<>"') or len(domain) > 253:
            raise LocalProtocolError(f"bad domain {self.domain!r}")
        object.__setattr__(self, "domain", domain)
        known = {a.value for a in Algorithm if not a.value.endswith("-sess")}
        algorithms = tuple(a.upper() for a in self.algorithms)
        if not algorithms or any(a not in known for a in algorithms):
            raise LocalProtocolError(f"algorithms must be some of {', '.join(sorted(known))}")
        object.__setattr__(self, "algorithms", algorithms)
        qops = tuple(q.lower() for q in self.qops)
        if not qops or any(q not in {x.value for x in Qop} for q in qops):
            raise LocalProtocolError("qops must be some of auth, auth-int")
        object.__setattr__(self, "qops", qops)
        for transport, (host, port) in self.local.items():
            if transport not in _TRANSPORTS or not host or not 0 < int(port) < 65536:
                raise LocalProtocolError(f"bad local address {transport}:{host}:{port}")
        object.__setattr__(self, "local", dict(self.local))
        object.__setattr__(
            self, "hosts", {k.lower().rstrip("."): list(v) for k, v in self.hosts.items()}
        )
        object.__setattr__(
            self, "trusted_domains", frozenset(d.lower() for d in self.trusted_domains)
        )
        object.__setattr__(self, "trusted_addresses", frozenset(self.trusted_addresses))
        # §16.6 step 11: Timer C "MUST be set to be larger than 3 minutes"; a
        # test or a lab may want it shorter, but never zero or negative.
        positive = (self.timer_c, self.nonce_lifetime, self.purge_interval)
        if min(positive) <= 0:
            raise LocalProtocolError("timer_c, nonce_lifetime and purge_interval must be > 0")
        if self.source_rate is not None and (self.source_rate <= 0 or self.source_burst < 1):
            raise LocalProtocolError("source_rate must be > 0 and source_burst >= 1")
        limits = (self.max_contexts, self.max_transactions, self.max_branches)
        if min(limits) < 1:
            raise LocalProtocolError("max_contexts, max_transactions, max_branches must be >= 1")

    @property
    def digest_algorithms(self) -> tuple[Algorithm, ...]:
        return tuple(Algorithm.parse(a) for a in self.algorithms)

    @property
    def digest_qops(self) -> tuple[Qop, ...]:
        return tuple(q for q in Qop if q.value in self.qops)
