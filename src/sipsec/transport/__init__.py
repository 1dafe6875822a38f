"""asyncio shells: the sockets, the clock and the one timer each driver runs.

Everything protocol-shaped lives in the sans-IO layers below; the modules
here only move datagrams and bytes between them and the network:

- SIP (RFC 3261 §18, RFC 3581, RFC 5922, RFC 3263): :class:`SipTransport`
  (UDP, TCP, TLS listeners and connections), :class:`SipEndpoint` (a
  transport, a :class:`~sipsec.transaction.TransactionLayer` and the TU on
  top, one timer), :class:`Resolver` (hosts map, then NAPTR/SRV/A/AAAA),
  :class:`TlsSettings` and the RFC 5922 domain check, :class:`TraceRecord`
  (cleartext messages) and :class:`WireRecord` (socket bytes) for traces;
- the applications: :class:`UaApp` (``sipsec register|call|answer``),
  :func:`run_proxy` (``sipsec proxy``), the demo's trapezoid, the load
  generator, media sessions (:mod:`.media`), pcap files (:mod:`.pcap`).

Names are imported on first use, so a media-only user does not load ssl
or dnspython.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connections import Limits
    from .endpoint import SipEndpoint
    from .errors import (
        ConnectFailed,
        ConnectionLimitReached,
        ConnectionLost,
        MessageTooLarge,
        NoListener,
        TlsNameMissing,
        TlsVerificationError,
        TransportFailure,
    )
    from .proxy_app import ProxyServer, run_proxy
    from .resolver import HostsEntryError, Resolver, parse_hosts_entry
    from .sip import SipTransport
    from .tls import TlsConfigurationError, TlsSettings, check_peer_domain
    from .trace import TraceRecord, WireRecord
    from .ua_app import UaApp
    from .ua_settings import CallSummary, UaAppError, UaSettings

_WHERE = {
    "Limits": "connections",
    "SipEndpoint": "endpoint",
    "ConnectFailed": "errors",
    "ConnectionLimitReached": "errors",
    "ConnectionLost": "errors",
    "MessageTooLarge": "errors",
    "NoListener": "errors",
    "TlsNameMissing": "errors",
    "TlsVerificationError": "errors",
    "TransportFailure": "errors",
    "ProxyServer": "proxy_app",
    "run_proxy": "proxy_app",
    "HostsEntryError": "resolver",
    "Resolver": "resolver",
    "parse_hosts_entry": "resolver",
    "SipTransport": "sip",
    "TlsConfigurationError": "tls",
    "TlsSettings": "tls",
    "check_peer_domain": "tls",
    "TraceRecord": "trace",
    "WireRecord": "trace",
    "UaApp": "ua_app",
    "CallSummary": "ua_settings",
    "UaAppError": "ua_settings",
    "UaSettings": "ua_settings",
}

__all__ = [
    "CallSummary",
    "ConnectFailed",
    "ConnectionLimitReached",
    "ConnectionLost",
    "HostsEntryError",
    "Limits",
    "MessageTooLarge",
    "NoListener",
    "ProxyServer",
    "Resolver",
    "SipEndpoint",
    "SipTransport",
    "TlsConfigurationError",
    "TlsNameMissing",
    "TlsSettings",
    "TlsVerificationError",
    "TraceRecord",
    "TransportFailure",
    "UaApp",
    "UaAppError",
    "UaSettings",
    "WireRecord",
    "check_peer_domain",
    "parse_hosts_entry",
    "run_proxy",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
