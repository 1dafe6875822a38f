"""A minimal DER writer (X.690 §10) for the CMS structures we *produce*.

Reading stays with asn1crypto, which checks everything; writing through
its object model costs tens of milliseconds per message (every implicit
tag deep-copies a subtree), more than the RSA operation itself.  The
structures we emit are few and fixed, so they are written directly from
DER pieces: certificates and names come already DER-encoded from
``cryptography``.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "NULL",
    "bit_string",
    "explicit",
    "implicit",
    "integer",
    "octets",
    "oid",
    "seq",
    "set_of",
    "tlv",
    "utc_time",
]

NULL = b"\x05\x00"


def tlv(tag: int, content: bytes) -> bytes:
    """One element with a single-octet tag and a definite length (§8.1.3, §10.1)."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    # §11.6: the elements of a DER SET OF are sorted by their encodings.
    return tlv(0x31, b"".join(sorted(items)))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def bit_string(data: bytes) -> bytes:
    return tlv(0x03, b"\x00" + data)  # no unused bits


def integer(value: int) -> bytes:
    # Minimal two's complement (§8.3.2): one more octet than the magnitude
    # needs whenever the top bit would read as a sign.
    size = value.bit_length() // 8 + 1 if value >= 0 else (value + 1).bit_length() // 8 + 1
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def utc_time(when: dt.datetime) -> bytes:
    """UTCTime, as RFC 5652 §11.3 requires for 1950–2049."""
    return tlv(0x17, when.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ").encode("ascii"))


def explicit(number: int, inner: bytes) -> bytes:
    return tlv(0xA0 | number, inner)


def implicit(number: int, inner: bytes) -> bytes:
    """Replace the (single-octet) tag of ``inner`` by context tag ``number``,
    keeping its constructed bit."""
    constructed = inner[0] & 0x20
    return bytes((0x80 | constructed | number,)) + inner[1:]
