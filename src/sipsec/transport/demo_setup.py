"""Who takes part in ``sipsec demo`` and how each is set up: the names of
the two domains, their users and the UAs' hosts, the run's options, the
throw-away PKI (RFC 5922 domain certificates, RFC 3261 §23.3 user
certificates, the UAs' host certificates for TLS), and the settings of the
two proxies and the two UAs. Running them in order is
:mod:`.demo_trapezoid`'s, which re-exports the public names here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography import x509

from sipsec.ca import (
    CertificateAuthority,
    CertificateStore,
    PrivateKey,
    load_certificates,
    load_private_key,
)
from sipsec.proxy import ProxyConfig
from sipsec.transaction import TransportName
from sipsec.ua.media_offer import SmimeIdentity

from .proxy_app import ProxyServer, run_proxy
from .tls import TlsSettings
from .ua_app import UaSettings
from .ua_media import CallMedia

if TYPE_CHECKING:
    from .demo_trapezoid import DemoRun

__all__ = [
    "AORS",
    "DOMAINS",
    "HOSTNAMES",
    "DemoOptions",
    "Fault",
    "Node",
    "Pki",
    "keep_media",
    "listen_addresses",
    "make_pki",
    "start_proxies",
    "tls_settings",
    "ua_settings",
]

DOMAINS = {"alice": "atlanta.example", "bob": "biloxi.example"}
# The UAs' own host names: a UA that accepts TLS connections (the ACK and
# BYE come straight from the other UA, F12–F14) must prove a name, never an
# IP address (RFC 5922 §4), so each has a host certificate for this name and
# puts it in its Contact; every hosts map resolves it to 127.0.0.1.
HOSTNAMES = {"alice": "alice.atlanta.example", "bob": "bob.biloxi.example"}
AORS = {"alice": "alice@atlanta.example", "bob": "bob@biloxi.example"}
Fault = Literal["wrong-password", "wrong-peer-cert"]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    transport: TransportName = "tls"
    keys: Literal["k", "sdes"] = "k"  # k= (the seed's way) or a=crypto (SDES)
    smime: bool = True
    duration: float = 5.0
    keylog: Path | None = None
    fault: Fault | None = None  # break one thing on purpose: the demo must notice

    @property
    def scheme(self) -> str:
        return "sips" if self.transport == "tls" else "sip"

    def uri(self, host: str) -> str:
        """A proxy URI of this run's scheme; UDP/TCP name their transport
        (RFC 3261 §19.1.1), which the UA follows (RFC 3263 §4.1)."""
        suffix = "" if self.transport == "tls" else f";transport={self.transport}"
        return f"{self.scheme}:{host}{suffix}"

    def uri_plain(self, user_at_host: str) -> str:
        """An address of record of this run's scheme."""
        return f"{self.scheme}:{user_at_host}"


@dataclass(frozen=True, slots=True)
class Node:
    """A certificate, its key file and its name: one party of the demo."""

    name: str  # "alice", "atlanta", …
    subject: str  # "sip:alice@atlanta.example", "sip:atlanta.example"
    cert_path: Path
    key_path: Path

    def key(self) -> PrivateKey:
        return load_private_key(self.key_path)

    def cert(self) -> x509.Certificate:
        return load_certificates(self.cert_path)[0]


@dataclass(frozen=True, slots=True)
class Pki:
    directory: Path
    ca_path: Path
    nodes: dict[str, Node]

    def store(self) -> CertificateStore:
        return CertificateStore.from_directory(self.directory)


def make_pki(directory: Path, now: dt.datetime) -> Pki:
    """Step 1: the CA, the two domain and two user certificates, and the UAs'
    host certificates for TLS (EC P-256: fast to make)."""
    start = now - dt.timedelta(minutes=5)  # clocks of a loopback run agree; be lenient
    ca = CertificateAuthority.init(directory, now=start, common_name="sipsec demo CA", days=2)
    nodes: dict[str, Node] = {}
    for name, subject, domain in (
        ("atlanta", "sip:atlanta.example", True),
        ("biloxi", "sip:biloxi.example", True),
        ("alice", "sip:alice@atlanta.example", False),
        ("bob", "sip:bob@biloxi.example", False),
        ("alice-tls", f"sip:{HOSTNAMES['alice']}", True),
        ("bob-tls", f"sip:{HOSTNAMES['bob']}", True),
    ):
        _, path = ca.issue(subject, now=start, domain=domain, days=1)
        nodes[name] = Node(name, subject, path, path.with_suffix(".key"))
    return Pki(directory, directory / "ca.pem", nodes)


def listen_addresses(transport: TransportName, port: int) -> list[tuple[TransportName, str, int]]:
    """Over UDP, TCP on the same port too: a request over 1300 bytes (an S/MIME
    offer is about 3 kB) goes over TCP (RFC 3261 §18.1.1), and every element
    must implement both (§18)."""
    listen: list[tuple[TransportName, str, int]] = [(transport, "127.0.0.1", port)]
    if transport == "udp":
        listen.append(("tcp", "127.0.0.1", port))
    return listen


def tls_settings(run: DemoRun, node: Node) -> TlsSettings | None:
    """Mutual TLS with the demo CA; None unless the run is over TLS."""
    if run.options.transport != "tls" or run.pki is None:
        return None
    return TlsSettings(
        run.pki.ca_path, node.cert_path, node.key_path, keylog_filename=run.options.keylog
    )


async def start_proxies(run: DemoRun, pki: Pki) -> list[ProxyServer]:
    """Both proxies on ports chosen first, so each hosts map names the other."""
    transport = run.options.transport
    ports = {name: run.addresses[name].port for name in ("atlanta", "biloxi")}
    servers: list[ProxyServer] = []
    for name, other in (("biloxi", "atlanta"), ("atlanta", "biloxi")):
        config = ProxyConfig(
            f"{name}.example",
            # As in the figure: ACK and BYE go straight between the UAs.
            record_route=False,
            local={transport: ("127.0.0.1", ports[name])},
            hosts={
                f"{other}.example": [run.addresses[other]],
                **{HOSTNAMES[ua]: [run.addresses[ua]] for ua in AORS},
            },
            # The peer proxy authenticated its own users; over TLS its
            # certificate proves its domain (RFC 5922 §7), so it is not challenged.
            trusted_domains=frozenset({f"{other}.example"}),
        )
        servers.append(
            await run_proxy(
                config,
                listen=listen_addresses(transport, ports[name]),
                tls=tls_settings(run, pki.nodes[name]),
                database=str(run.workdir / f"{name}.example.db"),
                redis_url=None,
                on_trace=run.trace_callback(name),
                on_wire=run.wire_callback(),
                use_dns=False,
            )
        )
    return servers


def ua_settings(run: DemoRun, pki: Pki, name: str, passwords: dict[str, str]) -> UaSettings:
    options = run.options
    node = pki.nodes[name]
    proxy = "atlanta" if name == "alice" else "biloxi"
    other = "bob" if name == "alice" else "alice"
    peer = None
    if name == "alice" and options.fault == "wrong-peer-cert":
        peer = pki.nodes["biloxi"].cert()  # encrypted for the wrong party: Bob cannot open it
    return UaSettings(
        options.uri_plain(AORS[name]),
        proxy=options.uri(f"{proxy}.example"),
        username=name,
        password=passwords[name],
        listen=("127.0.0.1", run.addresses[name].port),
        # Contact and Via name the UA's host, which its TLS certificate proves.
        contact_host=HOSTNAMES[name],
        tls=tls_settings(run, pki.nodes[f"{name}-tls"]),
        hosts={
            f"{proxy}.example": [run.addresses[proxy]],
            HOSTNAMES[other]: [run.addresses[other]],
        },
        use_dns=False,
        media="srtp",
        keys="smime" if options.smime else "sdes",
        key_lines="crypto" if options.keys == "sdes" else "k",
        identity=SmimeIdentity(node.cert(), node.key()),
        trust=pki.store(),
        peer_certificate=peer,
        play=run.workdir / "alice.wav" if name == "alice" else None,
        record=run.recording if name == "bob" else None,
        timeout=10.0,
        on_trace=run.trace_callback(name),
        on_wire=run.wire_callback(),
        # Each UA's SRTP as it leaves its socket: the pcap holds both directions.
        on_media_wire=run.wire_callback(),
        on_media=keep_media(run, name),
    )


def keep_media(run: DemoRun, name: str) -> Callable[[CallMedia], None]:
    """Keep each call's media: its agreed keys and counters, for the report."""

    def bound(media: CallMedia) -> None:
        run.media[name] = media

    return bound
