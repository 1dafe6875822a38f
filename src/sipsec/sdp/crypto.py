"""SDES: the ``a=crypto`` attribute (RFC 4568 §9.1) and the SRTP key it carries.

``a=crypto:<tag> <suite> <key-params> [<session-params>]`` where key-params
are ``inline:<base64 key||salt>[|<lifetime>][|<mki>:<mki length>]`` joined
by ``;`` (§6.1). Suites known here are the ones :mod:`sipsec.srtp` runs,
with the master key and salt lengths of RFC 4568 §6.2, RFC 6188 §3–5 and
RFC 7714 §12 (the AEAD suites use a 12-octet salt). A suite not in the table
still parses (an offer may list suites we cannot use: RFC 4568 §7.1.2 says
to pass over them); a known suite with the wrong key length is an error.

:class:`SrtpKeyParams` is what a context needs. Its fields map one to one
onto ``sipsec.srtp.SrtpContext(suite, key_salt, mki=mki)`` (``lifetime`` onto
``srtp_lifetime``); this module cannot import ``sipsec.srtp``, which sits
above it in the layer order. Key octets never appear in a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sipsec.sdp.errors import SdpError
from sipsec.sdp.lines import Attribute

__all__ = [
    "DEFAULT_SUITE",
    "SUITES",
    "CryptoAttribute",
    "KeyParam",
    "SrtpKeyParams",
    "suite_lengths",
]

DEFAULT_SUITE = "AES_CM_128_HMAC_SHA1_80"

# suite -> (master key octets, master salt octets)
SUITES: dict[str, tuple[int, int]] = {
    "AES_CM_128_HMAC_SHA1_80": (16, 14),  # RFC 4568 §6.2.1
    "AES_CM_128_HMAC_SHA1_32": (16, 14),  # RFC 4568 §6.2.2
    "AES_192_CM_HMAC_SHA1_80": (24, 14),  # RFC 6188 §3
    "AES_192_CM_HMAC_SHA1_32": (24, 14),
    "AES_256_CM_HMAC_SHA1_80": (32, 14),  # RFC 6188 §4
    "AES_256_CM_HMAC_SHA1_32": (32, 14),
    "AEAD_AES_128_GCM": (16, 12),  # RFC 7714 §12
    "AEAD_AES_256_GCM": (32, 12),
}

MAX_LIFETIME = 1 << 48  # RFC 3711 §9.2: an SRTP master key protects at most 2^48 packets
_SUITE = re.compile(r"[A-Za-z0-9_]+\Z")
_TAG = re.compile(r"[0-9]{1,9}\Z")
_WSP = re.compile(r"[ \t]+")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")
_LIFETIME = re.compile(r"(2\^)?([0-9]{1,20})\Z")
_MKI = re.compile(r"([0-9]{1,40}):([0-9]{1,3})\Z")
_VCHAR = re.compile(r"[\x21-\x7e]+\Z")


def suite_lengths(suite: str) -> tuple[int, int]:
    """(master key, master salt) octets of a suite, or :class:`SdpError` (488)."""
    try:
        return SUITES[suite]
    except KeyError:
        raise SdpError(f"SRTP suite {shown_suite(suite)} is not supported", 488) from None


def shown_suite(suite: str) -> str:
    """``suite`` for an error message, unless it could be a misplaced key.

    Every suite name of RFC 4568/6188/7714 has a ``_``, which the base64
    alphabet of an inline key (§6.1) has not; a field without one is not
    echoed, so a garbled line cannot carry its key into a log or a reason.
    """
    return repr(suite[:40]) if "_" in suite else "<not a suite name>"


def check_key_length(suite: str, key_salt: bytes) -> None:
    key_len, salt_len = suite_lengths(suite)
    if len(key_salt) != key_len + salt_len:
        raise SdpError(
            f"{suite} needs a {key_len}-octet master key and a {salt_len}-octet salt "
            f"({key_len + salt_len} octets of key||salt), got {len(key_salt)}"
        )


@dataclass(frozen=True, slots=True, eq=False)
class SrtpKeyParams:
    """One master key as ``SrtpContext(suite, key_salt, mki=mki)`` takes it.

    Equality compares the key in constant time; the hash leaves it out.
    """

    suite: str
    key_salt: bytes = field(repr=False)
    mki: bytes | None = None
    lifetime: int | None = None

    def __post_init__(self) -> None:
        check_key_length(self.suite, self.key_salt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SrtpKeyParams):
            return NotImplemented
        public = (self.suite, self.mki, self.lifetime) == (other.suite, other.mki, other.lifetime)
        return hmac.compare_digest(self.key_salt, other.key_salt) and public

    def __hash__(self) -> int:
        return hash((self.suite, self.mki, self.lifetime))

    def __repr__(self) -> str:
        mki = self.mki.hex() if self.mki is not None else None
        return (
            f"SrtpKeyParams({self.suite!r}, key_salt=<redacted>, mki={mki!r}, "
            f"lifetime={self.lifetime!r})"
        )

    @classmethod
    def generate(
        cls, suite: str, random: Callable[[int], bytes], *, mki: bytes | None = None
    ) -> SrtpKeyParams:
        """A fresh key for ``suite`` from ``random(n)`` (``os.urandom`` in production)."""
        key_len, salt_len = suite_lengths(suite)
        return cls(suite, random(key_len + salt_len), mki)


def _decode_key(text: str) -> bytes:
    if not _B64.match(text) or len(text.rstrip("=")) % 4 == 1:
        raise SdpError("inline key is not base64 (RFC 4568 §6.1)")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SdpError("inline key is not base64 (RFC 4568 §6.1)") from None


@dataclass(frozen=True, slots=True, eq=False)
class KeyParam:
    """One ``key-method:key-info`` (§9.1). For ``inline`` the fields are typed;
    another method keeps its text in ``info``. Keys compare in constant time."""

    key_salt: bytes = field(repr=False)
    lifetime: int | None = None
    mki_value: int | None = None
    mki_length: int | None = None
    method: str = "inline"
    info: str = field(default="", repr=False)

    @classmethod
    def parse(cls, text: str) -> KeyParam:
        method, sep, info = text.partition(":")
        if not sep or not _SUITE.match(method) or not info:
            raise SdpError("crypto key-param is not <method>:<info>")
        if method != "inline":
            return cls(b"", method=method, info=info)
        key_text, *rest = info.split("|")
        if len(rest) > 2:
            raise SdpError("inline key has more than lifetime and MKI after it")
        key_salt = _decode_key(key_text)
        lifetime = mki_value = mki_length = None
        for part in rest:
            mki = _MKI.match(part)
            if mki and mki_value is None:
                mki_value, mki_length = int(mki.group(1)), int(mki.group(2))
                if not 1 <= mki_length <= 128 or mki_value >= 256**mki_length:
                    raise SdpError("MKI length is 1..128 octets and must hold the MKI value")
                continue
            life = _LIFETIME.match(part)
            if not life or lifetime is not None or mki_value is not None:
                raise SdpError(
                    "bad lifetime or MKI after an inline key (RFC 4568 §6.1)"
                )  # may be key text
            exponent_or_value = int(life.group(2))
            if life.group(1):
                if exponent_or_value > 48:
                    raise SdpError("key lifetime above 2^48 (RFC 3711 §9.2)")
                exponent_or_value = 1 << exponent_or_value
            if not 0 < exponent_or_value <= MAX_LIFETIME:
                raise SdpError("key lifetime must be 1..2^48 packets")
            lifetime = exponent_or_value
        return cls(key_salt, lifetime, mki_value, mki_length)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyParam):
            return NotImplemented
        public = (self.lifetime, self.mki_value, self.mki_length, self.method)
        same_key = hmac.compare_digest(self.key_salt, other.key_salt)
        same_info = hmac.compare_digest(self.info.encode(), other.info.encode())
        others = (other.lifetime, other.mki_value, other.mki_length, other.method)
        return same_key and same_info and public == others

    def __hash__(self) -> int:
        return hash((self.lifetime, self.mki_value, self.mki_length, self.method))

    @property
    def mki(self) -> bytes | None:
        """The MKI as it goes into each packet: ``mki_length`` octets, big-endian."""
        if self.mki_value is None or self.mki_length is None:
            return None
        return self.mki_value.to_bytes(self.mki_length, "big")

    def text(self) -> str:
        if self.method != "inline":
            return f"{self.method}:{self.info}"
        out = "inline:" + base64.b64encode(self.key_salt).decode("ascii")
        if self.lifetime is not None:
            power = self.lifetime.bit_length() - 1
            exact = self.lifetime == 1 << power
            out += f"|2^{power}" if exact else f"|{self.lifetime}"
        if self.mki_value is not None:
            out += f"|{self.mki_value}:{self.mki_length}"
        return out


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """``a=crypto`` (RFC 4568 §9.1); ``value()`` gives the text after ``crypto:``."""

    tag: int
    suite: str
    keys: tuple[KeyParam, ...]
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> CryptoAttribute:
        parts = _WSP.split(value)
        if len(parts) < 3:
            raise SdpError("a=crypto needs <tag> <crypto-suite> <key-params> (RFC 4568 §9.1)")
        tag, suite, key_text, *params = parts
        if not _TAG.match(tag):
            raise SdpError("a=crypto tag is 1 to 9 digits")
        if not _SUITE.match(suite):
            raise SdpError("a=crypto suite is letters, digits and '_'")
        for param in params:
            if not _VCHAR.match(param):
                raise SdpError("a=crypto session parameter is visible characters only")
        keys = tuple(KeyParam.parse(k) for k in key_text.split(";"))
        crypto = cls(int(tag), suite, keys, tuple(params))
        crypto.validate()
        return crypto

    @classmethod
    def from_params(
        cls, tag: int, keys: list[SrtpKeyParams], session_params: tuple[str, ...] = ()
    ) -> CryptoAttribute:
        """The attribute that offers or answers ``keys`` (one suite, MKIs when several)."""
        if not keys or len({k.suite for k in keys}) != 1:
            raise SdpError("one a=crypto carries keys of one suite", 500)
        params = []
        for k in keys:
            mki_value = int.from_bytes(k.mki, "big") if k.mki is not None else None
            mki_length = len(k.mki) if k.mki is not None else None
            params.append(KeyParam(k.key_salt, k.lifetime, mki_value, mki_length))
        crypto = cls(tag, keys[0].suite, tuple(params), session_params)
        crypto.validate()
        return crypto

    def validate(self) -> None:
        """Key lengths for a known suite; MKIs when there are several keys (§6.1)."""
        if not 0 <= self.tag <= 999_999_999:
            raise SdpError("a=crypto tag is 1 to 9 digits")
        inline = [k for k in self.keys if k.method == "inline"]
        if self.suite in SUITES:
            for k in inline:
                check_key_length(self.suite, k.key_salt)
        if len(self.keys) > 1:
            mkis = [(k.mki_length, k.mki_value) for k in inline]
            if any(v is None for _, v in mkis) or len({n for n, _ in mkis}) > 1:
                raise SdpError("several keys need MKIs of one length (RFC 4568 §6.1)")
            if len(set(mkis)) != len(mkis):
                raise SdpError("two keys with the same MKI")

    @property
    def usable(self) -> bool:
        """A suite we run, inline keys only (RFC 4568 §7.1.2: others are passed over)."""
        return self.suite in SUITES and all(k.method == "inline" for k in self.keys)

    def key_params(self) -> list[SrtpKeyParams]:
        """The keys as contexts take them; :class:`SdpError` (488) when unusable."""
        if not self.usable:
            raise SdpError(
                f"a=crypto:{self.tag} {shown_suite(self.suite)} cannot be used here", 488
            )
        return [SrtpKeyParams(self.suite, k.key_salt, k.mki, k.lifetime) for k in self.keys]

    def value(self) -> str:
        keys = ";".join(k.text() for k in self.keys)
        return " ".join([str(self.tag), self.suite, keys, *self.session_params])

    def attribute(self) -> Attribute:
        return Attribute("crypto", self.value())
