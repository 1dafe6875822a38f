"""The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 rport; RFC 5118 §4.5
bracketed ``received``): one object per value, ``parse_via`` for a line.
"""

from __future__ import annotations

import re

from .errors import SipParseError
from .params import _PARAM, _TOKEN_CHARS, _split_simple, format_params, unquote

__all__ = ["Via", "parse_via"]

_VIA = re.compile(
    rf"[ \t]*([{_TOKEN_CHARS}]+)[ \t]*/[ \t]*([{_TOKEN_CHARS}]+)[ \t]*/[ \t]*([{_TOKEN_CHARS}]+)"
    r"[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)"
    r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)
_VIA_FAST = re.compile(
    rf"(SIP)/(2\.0)/([{_TOKEN_CHARS}]+) "
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)"
    # LWS before ";" is allowed here: a folded Via continues with " ;received=".
    rf"(?::([0-9]{{1,5}}))?((?:[ \t]*;[{_TOKEN_CHARS}]+(?:=[{_TOKEN_CHARS}\[\]:]+)?)*)"
)
_DIGITS = re.compile(r"[0-9]+")
_new = object.__new__


class Via:
    """One Via value (RFC 3261 §20.42, §18.2.1; RFC 3581 rport)."""

    __slots__ = ("_raw", "host", "params", "port", "protocol", "transport", "version")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        *,
        protocol: str = "SIP",
        version: str = "2.0",
        raw: str | None = None,
    ) -> None:
        self.protocol = protocol
        self.version = version
        self.transport = transport.upper()
        self.host = host
        self.port = port
        self.params: dict[str, str | None] = params if params is not None else {}
        self._raw = raw

    def _copy(self) -> Via:
        # Headers.copy(): the copy's parameters are its own.
        via: Via = _new(Via)
        via.protocol, via.version, via.transport = self.protocol, self.version, self.transport
        via.host, via.port, via._raw = self.host, self.port, self._raw
        via.params = self.params.copy()
        return via

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | bool | None:
        """None: absent; True: requested (no value); an int: filled in (RFC 3581)."""
        if "rport" not in self.params:
            return None
        value = self.params["rport"]
        if value is None or value == "":
            return True
        if not _DIGITS.fullmatch(value) or len(value) > 5:
            raise SipParseError(f"bad rport {value[:20]!r}")
        return int(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        if value is None:
            return None
        if not _DIGITS.fullmatch(value) or len(value) > 3 or int(value) > 255:
            raise SipParseError(f"bad ttl {value[:20]!r}")
        return int(value)

    def __str__(self) -> str:
        if self._raw is None:
            params = format_params(self.params)
            self._raw = f"{self.protocol}/{self.version}/{self.transport} {self.sent_by}{params}"
        return self._raw

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


def parse_via(text: str) -> list[Via]:
    """All Via values in one header line (a comma-separated list)."""
    m = _VIA_FAST.fullmatch(text)
    if m is not None:
        protocol, version, transport, host, port, ptext = m.groups()
        number = None if port is None else int(port)
        if number is None or number <= 65535:
            via = Via.__new__(Via)
            via.protocol, via.version, via.transport = protocol, version, transport.upper()
            via.host, via.port, via._raw = host, number, text
            via.params = _split_simple(ptext) if ptext else {}
            return [via]
    vias: list[Via] = []
    pos, end = 0, len(text)
    while True:
        m = _VIA.match(text, pos)
        if m is None:
            raise SipParseError(f"bad Via {text[pos : pos + 60]!r}")
        start = pos
        port = m.group(5)
        if port is not None and int(port) > 65535:
            raise SipParseError("bad Via port")
        pos = m.end()
        params: dict[str, str | None] = {}
        while pos < end:
            pm = _PARAM.match(text, pos)
            if pm is None:
                break
            value = pm.group(2)
            params[pm.group(1).lower()] = None if value is None else unquote(value)
            pos = pm.end()
        raw = text[start:pos].strip(" \t")
        vias.append(
            Via(
                m.group(3),
                m.group(4),
                None if port is None else int(port),
                params,
                protocol=m.group(1),
                version=m.group(2),
                raw=raw,
            )
        )
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos == end:
            return vias
        if text[pos] != ",":
            raise SipParseError(f"bad Via {text[pos : pos + 60]!r}")
        pos += 1
