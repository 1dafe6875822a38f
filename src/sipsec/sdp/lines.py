"""The value of each SDP line type, parsed and formatted (RFC 8866 §5, grammar §9).

Each class has ``parse(value)`` for the text after ``x=`` and ``value()``
for the way back. Every field keeps exactly what is needed to rebuild the
text, so ``X.parse(v).value() == v`` for every ``v`` that parses: the few
spellings the grammar allows twice (a port or bandwidth with leading zeros)
are refused instead of silently rewritten. Typed readings (seconds, address
ranges) are properties on top.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field

from sipsec.sdp.errors import SdpError

__all__ = [
    "Attribute",
    "Bandwidth",
    "Connection",
    "KeyField",
    "MediaLine",
    "Origin",
    "Repeat",
    "Timing",
    "ZoneAdjustments",
]

# §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+\Z")
# §9: non-ws-string = 1*(VCHAR / %x80-FF); in text, anything above SP except DEL.
_NON_WS = re.compile(r"[^\x00-\x20\x7f]+\Z")
_CANON_INT = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
# §9: typed-time = 1*DIGIT [fixed-len-time-unit]
_TYPED_TIME = re.compile(r"([0-9]+)([dhms]?)\Z")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def token(text: str, what: str, *, echo: bool = True) -> str:
    """``text`` when it is an RFC 8866 §9 token; ``echo=False`` keeps it out of
    the error, for fields a key may have slid into (``k=<key>``, ``a=<key>``)."""
    if not _TOKEN.match(text):
        shown = f": {text[:40]!r}" if echo else ""
        raise SdpError(f"{what} is not a token{shown}")
    return text


def non_ws(text: str, what: str) -> str:
    if not _NON_WS.match(text):
        raise SdpError(f"{what} must be a non-empty string without spaces")
    return text


MAX_ADDRESSES = 256  # a multicast range (§5.7) larger than this is no real session
MAX_DIGITS = 30  # int() of thousands of digits is slow, and Python refuses beyond 4300


def canonical_int(text: str, what: str, limit: int | None = None) -> int:
    """A decimal without leading zeros (so that it formats back the same)."""
    if len(text) > MAX_DIGITS:
        raise SdpError(f"{what} has too many digits")
    if not _CANON_INT.match(text):
        raise SdpError(f"{what} is not a decimal number without leading zeros: {text[:20]!r}")
    number = int(text)
    if limit is not None and number > limit:
        raise SdpError(f"{what} {number} is above {limit}")
    return number


def fields(value: str, what: str, count: int | None = None, minimum: int = 1) -> list[str]:
    """Split on single SP as the grammar says; two spaces in a row are an error."""
    parts = value.split(" ")
    if any(not p for p in parts):
        raise SdpError(f"{what}: fields are separated by exactly one space")
    if (count is not None and len(parts) != count) or len(parts) < minimum:
        raise SdpError(f"{what}: expected {count or minimum} fields, got {len(parts)}")
    return parts


def typed_seconds(text: str, what: str) -> int:
    """``7d`` → 604800 (§5.10: d, h, m, s units)."""
    match = _TYPED_TIME.match(text)
    if not match or len(text) > MAX_DIGITS:
        raise SdpError(f"{what} is not a time like 3600 or 1h: {text[:20]!r}")
    return int(match.group(1)) * _UNIT[match.group(2)]


@dataclass(slots=True)
class Origin:
    """``o=`` (§5.2). Session id and version stay digit strings: RFC 4568's
    example carries a version above 2^32, and they are compared, not added."""

    username: str = "-"
    session_id: str = "0"
    session_version: str = "0"
    address: str = "127.0.0.1"
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Origin:
        user, sid, version, nettype, addrtype, address = fields(value, "o=", 6)
        for text, what in ((sid, "o= sess-id"), (version, "o= sess-version")):
            if not _DIGITS.match(text):
                raise SdpError(f"{what} must be digits")
        return cls(
            non_ws(user, "o= username"),
            sid,
            version,
            non_ws(address, "o= address"),
            token(nettype, "o= nettype"),
            token(addrtype, "o= addrtype"),
        )

    def value(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(slots=True)
class Connection:
    """``c=`` (§5.7): ``address[/ttl][/count]`` for IP4, ``address[/count]`` for IP6."""

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"
    ttl: int | None = None
    count: int | None = None

    @classmethod
    def parse(cls, value: str) -> Connection:
        nettype, addrtype, spec = fields(value, "c=", 3)
        token(nettype, "c= nettype")
        token(addrtype, "c= addrtype")
        if addrtype not in ("IP4", "IP6"):
            # An address type we do not know: keep its address whole (§5.7 extension).
            return cls(non_ws(spec, "c= address"), addrtype, nettype)
        parts = spec.split("/")
        address = non_ws(parts[0], "c= address")
        ttl = count = None
        if addrtype == "IP4" and len(parts) in (2, 3):
            ttl = canonical_int(parts[1], "c= TTL", 255)
            if len(parts) == 3:
                count = canonical_int(parts[2], "c= address count", MAX_ADDRESSES)
        elif addrtype == "IP6" and len(parts) == 2:
            count = canonical_int(parts[1], "c= address count", MAX_ADDRESSES)
        elif len(parts) != 1:
            raise SdpError(f"c= {addrtype} address has too many '/' parts")
        if count == 0:
            raise SdpError("c= address count must be at least 1")
        return cls(address, addrtype, nettype, ttl, count)

    def value(self) -> str:
        spec = self.address
        if self.ttl is not None:
            spec += f"/{self.ttl}"
        if self.count is not None:
            spec += f"/{self.count}"
        return f"{self.nettype} {self.addrtype} {spec}"

    def addresses(self) -> list[str]:
        """The ``count`` consecutive addresses of a multicast range (§5.7)."""
        import ipaddress

        if self.count is None:
            return [self.address]
        try:
            first = ipaddress.ip_address(self.address)
        except ValueError:
            raise SdpError("an address range needs a numeric address") from None
        if self.count > MAX_ADDRESSES:
            raise SdpError(f"more than {MAX_ADDRESSES} addresses in a range")
        try:
            return [str(first + i) for i in range(self.count)]
        except ValueError:  # ipaddress: the range runs past the last address
            raise SdpError("the address range runs past the end of the address space") from None


@dataclass(slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (§5.8), kilobits per second for CT and AS."""

    bwtype: str
    bandwidth: int

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        bwtype, sep, amount = value.partition(":")
        if not sep:
            raise SdpError("b= needs <bwtype>:<bandwidth>")
        return cls(token(bwtype, "b= bwtype"), canonical_int(amount, "b= bandwidth"))

    def value(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(slots=True)
class Timing:
    """``t=<start> <stop>`` (§5.9), NTP seconds; ``t=0 0`` is a permanent session."""

    start: int = 0
    stop: int = 0

    @classmethod
    def parse(cls, value: str) -> Timing:
        start, stop = fields(value, "t=", 2)
        return cls(canonical_int(start, "t= start"), canonical_int(stop, "t= stop"))

    def value(self) -> str:
        return f"{self.start} {self.stop}"


@dataclass(slots=True)
class Repeat:
    """``r=<interval> <duration> <offsets>...`` (§5.10), units kept as written."""

    times: tuple[str, ...]

    @classmethod
    def parse(cls, value: str) -> Repeat:
        parts = fields(value, "r=", minimum=3)
        for part in parts:
            typed_seconds(part, "r= time")
        if typed_seconds(parts[0], "r= interval") == 0:
            raise SdpError("r= repeat interval must be positive")
        return cls(tuple(parts))

    def value(self) -> str:
        return " ".join(self.times)

    @property
    def interval_s(self) -> int:
        return typed_seconds(self.times[0], "r= interval")

    @property
    def duration_s(self) -> int:
        return typed_seconds(self.times[1], "r= duration")

    @property
    def offsets_s(self) -> list[int]:
        return [typed_seconds(t, "r= offset") for t in self.times[2:]]


@dataclass(slots=True)
class ZoneAdjustments:
    """``z=<time> <offset> ...`` (§5.11), pairs kept as written."""

    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, value: str) -> ZoneAdjustments:
        parts = fields(value, "z=", minimum=2)
        if len(parts) % 2:
            raise SdpError("z= needs <adjustment time> <offset> pairs")
        pairs = tuple(zip(parts[::2], parts[1::2], strict=True))
        for when, offset in pairs:
            canonical_int(when, "z= time")
            typed_seconds(offset.removeprefix("-"), "z= offset")
        return cls(pairs)

    def value(self) -> str:
        return " ".join(f"{when} {offset}" for when, offset in self.pairs)

    @property
    def adjustments(self) -> list[tuple[int, int]]:
        out = []
        for when, offset in self.pairs:
            seconds = typed_seconds(offset.removeprefix("-"), "z= offset")
            out.append((int(when), -seconds if offset.startswith("-") else seconds))
        return out


@dataclass(slots=True)
class MediaLine:
    """``m=<media> <port>[/<count>] <proto> <fmt> ...`` (§5.14)."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None

    @classmethod
    def parse(cls, value: str) -> MediaLine:
        media, ports, proto, *formats = fields(value, "m=", minimum=4)
        port_text, slash, count_text = ports.partition("/")
        port = canonical_int(port_text, "m= port", 65535)
        count = canonical_int(count_text, "m= port count") if slash else None
        if count == 0:
            raise SdpError("m= port count must be at least 1")
        for part in proto.split("/"):
            token(part, "m= proto")
        for fmt in formats:
            token(fmt, "m= format")
        return cls(token(media, "m= media"), port, proto, formats, count)

    def value(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else f"{self.port}"
        return " ".join([self.media, port, self.proto, *self.formats])


@dataclass(slots=True)
class Attribute:
    """``a=<name>`` or ``a=<name>:<value>`` (§5.13); unknown names are kept as they are.

    The value of ``a=crypto`` holds a key: it never appears in a ``repr``.
    """

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        name, sep, value = text.partition(":")
        return cls(token(name, "a= attribute name", echo=False), value if sep else None)

    def text(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"

    def __repr__(self) -> str:
        shown = self.value
        if shown is not None and self.name.lower() in _SECRET_ATTRIBUTES:
            # Keep what helps debugging (tag and suite of a=crypto), never the key.
            public = _SECRET_ATTRIBUTES[self.name.lower()]
            shown = " ".join([*shown.split()[:public], "<redacted>"])
        elif shown is not None and "inline:" in shown:
            shown = re.sub(r"inline:[^|;\s]*", "inline:<redacted>", shown)
        return f"Attribute({self.name!r}, {shown!r})"

    def __eq__(self, other: object) -> bool:
        # a=crypto and a=key-mgmt values hold keys: compared in constant time.
        if not isinstance(other, Attribute):
            return NotImplemented
        return self.name == other.name and _same_secret(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was


def _same_secret(a: str | None, b: str | None) -> bool:
    """``a == b`` without an early exit on the first differing character."""
    if a is None or b is None:
        return a is b
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


# Attributes whose value holds key material -> how many leading words are public:
# RFC 4568 SDES (tag, suite), RFC 4567 MIKEY (protocol id).
_SECRET_ATTRIBUTES = {"crypto": 2, "key-mgmt": 1}


# RFC 4566 §5.12 key methods; ``prompt`` alone takes no key.
KEY_METHODS = ("clear", "base64", "uri", "prompt")


@dataclass(slots=True)
class KeyField:
    """``k=<method>[:<key>]`` (RFC 4566 §5.12, obsolete in RFC 8866 §5.12 but parsed).

    ``key`` is the text after the colon; it never appears in a ``repr``.
    """

    method: str
    key: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str) -> KeyField:
        method, sep, key = text.partition(":")
        token(method, "k= method", echo=False)  # a malformed line may start with the key
        if method == "prompt" and sep:
            raise SdpError("k=prompt takes no key")
        if method in ("clear", "base64", "uri") and not (sep and key):
            raise SdpError(f"k={method} needs ':' and a key")
        if method == "base64" and not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", key):
            raise SdpError("k=base64 key is not base64")
        return cls(method, key if sep else None)

    def text(self) -> str:
        return self.method if self.key is None else f"{self.method}:{self.key}"

    def __repr__(self) -> str:
        return f"KeyField({self.method!r}, key=<redacted>)"

    def __eq__(self, other: object) -> bool:
        # The key in constant time: an early return at the first differing
        # character would time-leak how much of a guessed key is right.
        if not isinstance(other, KeyField):
            return NotImplemented
        return self.method == other.method and _same_secret(self.key, other.key)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was
