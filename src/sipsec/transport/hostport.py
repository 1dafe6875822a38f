"""The one parser for the addresses people type: ``HOST:PORT`` and
``TRANSPORT:HOST:PORT`` (command-line options, configuration files, the
static hosts map).

Sans-IO and pure: text in, ``(host, port)`` or ``(transport, host, port)``
out, or :class:`HostPortError` whose message names what is wrong — never
any other exception. The host follows RFC 3261 §25.1::

    hostport      = host [ ":" port ]
    host          = hostname / IPv4address / IPv6reference
    hostname      = *( domainlabel "." ) toplabel [ "." ]
    domainlabel   = alphanum / alphanum *( alphanum / "-" ) alphanum
    toplabel      = ALPHA / ALPHA *( alphanum / "-" ) alphanum
    IPv6reference = "[" IPv6address "]"
    port          = 1*DIGIT

- An IPv6 address goes in brackets (``[::1]:5060``) and comes back without
  them, as written (``Peer.host`` holds IPv6 unbracketed). Unbracketed, it
  is refused (RFC 5118 §4.3: ``2001:db8::10:5070`` is an address, not a
  port) unless the caller takes a bare one without a port (``bare_ipv6``,
  the hosts map's old form ``name=::1``).
- A port is ASCII digits only (``str.isdigit`` also takes '¹' and '٥'),
  1–65535; 0 only where the caller binds (``allow_zero_port``: any free port).
- A transport prefix is ``udp:``, ``tcp:`` or ``tls:`` (any case).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from sipsec.errors import SipsecError
from sipsec.transaction import TransportName

__all__ = [
    "TRANSPORTS",
    "HostPortError",
    "format_host_port",
    "parse_host_port",
    "parse_transport_address",
]

TRANSPORTS: tuple[TransportName, ...] = ("udp", "tcp", "tls")
_ASCII_DIGITS = frozenset("0123456789")
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class HostPortError(SipsecError, ValueError):
    """``text`` is not an address we accept; ``reason`` says why."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{_clip(text, 80)!r}: {reason}")
        self.text = text
        self.reason = reason


def format_host_port(host: str, port: int) -> str:
    """The inverse of :func:`parse_host_port`: IPv6 goes back in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_port(
    text: str,
    *,
    default_port: int | None = None,
    allow_zero_port: bool = False,
    bare_ipv6: bool = False,
) -> tuple[str, int]:
    """``"127.0.0.1:5060"`` → ``("127.0.0.1", 5060)``; ``"[::1]:5061"`` →
    ``("::1", 5061)``. Without a port, ``default_port`` (an error if None)."""
    host, port_text = _split(text, text, bare_ipv6)
    return host, _port(text, port_text, default_port, allow_zero_port)


def parse_transport_address(
    text: str,
    *,
    default_transport: TransportName | None = None,
    default_port: int | Mapping[str, int] | None = None,
    allow_zero_port: bool = False,
    bare_ipv6: bool = False,
) -> tuple[TransportName, str, int]:
    """``"tls:[::1]:5061"`` → ``("tls", "::1", 5061)``. Without a prefix,
    ``default_transport`` (an error if None); without a port, ``default_port``
    — one number, or one per transport (``{"udp": 5060, "tls": 5061, ...}``)."""
    transport, rest = _transport(text, default_transport)
    host, port_text = _split(rest, text, bare_ipv6)
    default = default_port.get(transport) if isinstance(default_port, Mapping) else default_port
    return transport, host, _port(text, port_text, default, allow_zero_port)


def _transport(text: str, default: TransportName | None) -> tuple[TransportName, str]:
    head, colon, rest = text.partition(":")
    name = head.lower()
    if colon and name in TRANSPORTS:
        return TRANSPORTS[TRANSPORTS.index(name)], rest
    word = head.isascii() and head.isalpha()
    if word and (":" in rest or rest.startswith("[")) and not _is_ipv6(text):
        # "sctp:1.2.3.4:5060": a prefix was meant, not a host with a port.
        raise HostPortError(text, f"unknown transport {_clip(head)!r} (udp, tcp or tls)")
    if default is None:
        raise HostPortError(text, "missing transport: start with udp:, tcp: or tls:")
    return default, text


def _split(text: str, shown: str, bare_ipv6: bool) -> tuple[str, str | None]:
    """(host without brackets, port text or None when there is no ':');
    ``shown`` is the whole input, for messages."""
    if not text:
        raise HostPortError(shown, "empty address")
    if text.startswith("["):
        inner, bracket, tail = text[1:].partition("]")
        if not bracket:
            raise HostPortError(shown, "'[' without its ']' (write [IPv6]:port)")
        if tail and not tail.startswith(":"):
            raise HostPortError(shown, f"{_clip(tail)!r} after ']' (only :port may follow)")
        if not _is_ipv6(inner):
            raise HostPortError(shown, _not_ipv6(f"[{_clip(inner)}] is not an IPv6 address", inner))
        return inner, tail[1:] if tail else None
    if text.count(":") > 1:
        if not _is_ipv6(text):
            reason = "more than one ':' (IPv6 goes in brackets: [::1]:5060)"
            raise HostPortError(shown, _not_ipv6(reason, text))
        if not bare_ipv6:
            raise HostPortError(shown, f"IPv6 goes in brackets: [{_clip(text)}] or [ADDRESS]:PORT")
        return text, None
    host, colon, port_text = text.partition(":")
    _check_host(shown, host)
    return host, port_text if colon else None


def _is_ipv6(text: str) -> bool:
    """An IPv6 address (RFC 4291 §2.2 text forms). Zone indexes (``%eth0``)
    are not in RFC 3261's grammar and are refused."""
    if not text.isascii() or "%" in text or ":" not in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _not_ipv6(reason: str, text: str) -> str:
    return "an IPv6 zone index (%...) is not supported" if "%" in text else reason


def _check_host(shown: str, host: str) -> None:
    """A hostname or an IPv4 address (§25.1); raises with the reason."""
    if not host:
        raise HostPortError(shown, "empty host")
    if not host.isascii():
        raise HostPortError(
            shown, f"host {_clip(host)!r} is not ASCII (IDNs go in their xn-- form)"
        )
    if set(host) <= _ASCII_DIGITS | {"."} and host != "." * len(host):
        try:  # strict: four decimal octets, no leading zeros
            ipaddress.IPv4Address(host)
        except ValueError:
            raise HostPortError(shown, f"{_clip(host)!r} is not an IPv4 address") from None
        return
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(_label(label) for label in labels) or not labels[-1][0].isalpha():
        raise HostPortError(
            shown, f"{_clip(host)!r} is not a host name (RFC 3261 §25.1: letters, digits, '-', '.')"
        )


def _label(label: str) -> bool:
    # domainlabel: alphanum, inner hyphens only.
    return (
        bool(label)
        and set(label) <= _LABEL_CHARS
        and not label.startswith("-")
        and not label.endswith("-")
    )


def _port(text: str, port_text: str | None, default: int | None, allow_zero: bool) -> int:
    if port_text is None:
        if default is None:
            raise HostPortError(text, "missing port (HOST:PORT; IPv6 as [ADDRESS]:PORT)")
        return default
    if not port_text:
        raise HostPortError(text, "empty port after ':'")
    if not set(port_text) <= _ASCII_DIGITS:
        raise HostPortError(text, f"port {_clip(port_text)!r} is not a number (ASCII digits)")
    lowest = 0 if allow_zero else 1
    # Count digits before int(): a 5,000-digit "port" must not reach it
    # (CPython refuses int() of over 4,300 digits with ValueError).
    significant = port_text.lstrip("0") or "0"
    port = int(significant) if len(significant) <= 5 else 65536
    if not lowest <= port <= 65535:
        raise HostPortError(text, f"port {_clip(port_text)} is out of range {lowest}-65535")
    return port


def _clip(part: str, limit: int = 40) -> str:
    """A piece of the input, cut short for a message."""
    return part if len(part) <= limit else part[: limit - 3] + "..."
