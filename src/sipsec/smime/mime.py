"""MIME entities: headers, an empty line, a body (RFC 2045, RFC 2046 §5.1).

Not a SIP message: an S/MIME body is a MIME entity of its own (RFC 3261
§23.4), and its signature covers the exact bytes of that entity.  So this
codec keeps header values as written, serializes with CRLF only (the
canonical form of RFC 8551 §3.1.1), and hands out the raw bytes of each
part of a multipart body as the sender framed them.  Input from mail tools
may end lines with a bare LF; headers and multipart framing accept it.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from dataclasses import dataclass, field

from .errors import MalformedBody

__all__ = [
    "MimeEntity",
    "build_multipart",
    "canonical_crlf",
    "format_params",
    "parse_multipart",
    "parse_params",
]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Unquoted values: RFC 2045 tokens, plus "/" because senders commonly write
# protocol=application/pkcs7-signature unquoted (liberal in what we accept).
_VALUE = re.compile(r"[!#$%&'*+\-./^_`|~0-9A-Za-z]+")
_NAME = re.compile(rb"[!-9;-~]+")  # RFC 5322 §3.6.8 field-name: printable, no colon
_LONE_LF = re.compile(rb"(?<!\r)\n")


def canonical_crlf(data: bytes) -> bytes:
    """Every bare LF as CRLF (RFC 8551 §3.1.1 canonical text)."""
    return _LONE_LF.sub(b"\r\n", data)


def parse_params(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; a=b; c="d"`` → (``"type/subtype"`` lower-cased, {a: b, c: d}).

    Parameter names are case-insensitive (RFC 2045 §5.1) and lower-cased.
    """
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        while pos < len(rest) and rest[pos] in " \t;":
            pos += 1
        if pos >= len(rest):
            break
        name = _TOKEN.match(rest, pos)
        if name is None or not rest.startswith("=", name.end()):
            raise MalformedBody(f"bad MIME parameter in {value!r}")
        pos = name.end() + 1
        if rest.startswith('"', pos):
            chars: list[str] = []
            pos += 1
            while True:
                if pos >= len(rest):
                    raise MalformedBody(f"unterminated quoted string in {value!r}")
                ch = rest[pos]
                if ch == "\\" and pos + 1 < len(rest):
                    chars.append(rest[pos + 1])
                    pos += 2
                elif ch == '"':
                    pos += 1
                    break
                else:
                    chars.append(ch)
                    pos += 1
            params[name.group().lower()] = "".join(chars)
        else:
            token = _VALUE.match(rest, pos)
            if token is None:
                raise MalformedBody(f"bad MIME parameter value in {value!r}")
            params[name.group().lower()] = token.group()
            pos = token.end()
        while pos < len(rest) and rest[pos] in " \t":
            pos += 1
        if pos < len(rest) and rest[pos] != ";":
            raise MalformedBody(f"bad MIME parameter list in {value!r}")
    return head.strip().lower(), params


def format_params(head: str, params: dict[str, str]) -> str:
    parts = [head]
    for name, value in params.items():
        if _TOKEN.fullmatch(value):
            parts.append(f"{name}={value}")
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{name}="{escaped}"')
    return "; ".join(parts)


@dataclass
class MimeEntity:
    """Header fields in order (values unfolded, as written) and the raw body."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> MimeEntity:
        """Split at the first empty line; a missing one is a :class:`MalformedBody`."""
        if data.startswith((b"\r\n", b"\n")):
            return cls([], data[2:] if data.startswith(b"\r\n") else data[1:])
        ends = [(i, n) for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0]
        # "\r\n\n" (CRLF line then a bare LF empty line) also ends the headers.
        mixed = data.find(b"\r\n\n")
        if mixed >= 0:
            ends.append((mixed + 1, 2))
        if not ends:
            raise MalformedBody("MIME entity has no empty line after its headers")
        end, size = min(ends)
        head, body = data[:end], data[end + size :]
        headers: list[tuple[str, str]] = []
        for raw in head.replace(b"\r\n", b"\n").split(b"\n"):
            if raw[:1] in (b" ", b"\t"):
                if not headers:
                    raise MalformedBody("MIME headers start with a continuation line")
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {_ascii(raw).strip()}")
                continue
            name_b, colon, value_b = raw.partition(b":")
            if not colon or _NAME.fullmatch(name_b.rstrip(b" \t")) is None:
                raise MalformedBody(f"bad MIME header line {raw[:60]!r}")
            headers.append((_ascii(name_b).rstrip(), _ascii(value_b).strip()))
        return cls(headers, body)

    def __bytes__(self) -> bytes:
        head = b"".join(f"{n}: {v}\r\n".encode("ascii") for n, v in self.headers)
        return head + b"\r\n" + self.body

    def get(self, name: str, default: str | None = None) -> str | None:
        lower = name.lower()
        for n, v in self.headers:
            if n.lower() == lower:
                return v
        return default

    def content_type(self) -> tuple[str, dict[str, str]]:
        """The media type and its parameters; RFC 2045 §5.2 default text/plain."""
        return parse_params(self.get("Content-Type", "text/plain") or "text/plain")

    def decoded_body(self) -> bytes:
        """The body with its Content-Transfer-Encoding removed (RFC 2045 §6)."""
        encoding = (self.get("Content-Transfer-Encoding") or "binary").strip().lower()
        if encoding in {"binary", "7bit", "8bit"}:
            return self.body
        if encoding == "base64":
            text = re.sub(rb"\s+", b"", self.body)
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedBody("body is not valid base64") from None
        raise MalformedBody(f"unsupported Content-Transfer-Encoding {encoding!r}")


def _ascii(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedBody("MIME header is not ASCII") from None


def parse_multipart(body: bytes, boundary: str) -> list[bytes]:
    """The raw bytes of each body part, exactly as framed (RFC 2046 §5.1.1).

    The CRLF (or LF) before each delimiter belongs to the delimiter, not to
    the part — which matters because the first part of multipart/signed is
    hashed byte for byte (RFC 1847 §2.1).
    """
    if not boundary or len(boundary) > 70:
        raise MalformedBody("multipart boundary missing or longer than 70 characters")
    dash = b"--" + boundary.encode("ascii", "replace")
    lines = re.compile(rb"(?:^|\r?\n)" + re.escape(dash) + rb"(--)?[ \t]*(?=\r?\n|$)")
    delimiters = list(lines.finditer(body))
    if not delimiters:
        raise MalformedBody("multipart body has no boundary line")
    parts: list[bytes] = []
    closed = False
    for this, following in itertools.pairwise(delimiters):
        if this.group(1):
            closed = True
            break
        start = this.end()
        start += 2 if body.startswith(b"\r\n", start) else 1
        parts.append(body[start : following.start()])
    if not closed and not delimiters[-1].group(1):
        raise MalformedBody("multipart body is truncated (no closing boundary)")
    if not parts:
        raise MalformedBody("multipart body has no parts")
    return parts


def build_multipart(parts: list[bytes], boundary: str) -> bytes:
    dash = f"--{boundary}".encode("ascii")
    out = b"".join(dash + b"\r\n" + part + b"\r\n" for part in parts)
    return out + dash + b"--\r\n"
