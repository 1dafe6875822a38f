"""Where SRTP keys sit in a body: ``k=`` lines and ``a=crypto``, and a guard for both.

``k=`` (RFC 4566 §5.12; obsolete in RFC 8866 §5.12, still parsed) has four
methods: ``clear:<key>``, ``base64:<encoded key>``, ``uri:<where>`` and
``prompt``. To carry an SRTP master key in ``k=`` sipsec writes
``k=base64:<base64 of master key || master salt>``: a key is arbitrary octets,
and RFC 4566 §5.12 says ``base64`` is the method for a key holding characters
SDP text cannot carry. On receipt ``k=clear:`` is accepted too, its text
taken as the UTF-8 octets of key||salt. A media-level ``k=`` overrides the
session's (§5.12). The suite is AES_CM_128_HMAC_SHA1_80 unless the media (or
else the session) has ``a=x-srtp-suite:<suite name>``, an attribute of ours
(``x-`` because no RFC defines one for ``k=``). ``uri:`` and ``prompt`` carry no
key in the body; they yield none.

:func:`carries_key_material` answers, for the UA, whether a body holds a key
at all: a key never travels in a cleartext body over a hop that is not TLS
(DESIGN.md, key transport). It scans lines, so it answers for bodies the
parser would refuse too, and errs on the side of "yes".
"""

from __future__ import annotations

import base64
import binascii

from sipsec.sdp.crypto import DEFAULT_SUITE, CryptoAttribute, SrtpKeyParams
from sipsec.sdp.errors import SdpError
from sipsec.sdp.lines import KeyField
from sipsec.sdp.session import MediaDescription, SessionDescription

__all__ = [
    "SUITE_ATTRIBUTE",
    "carries_key_material",
    "crypto_attributes",
    "key_field_for",
    "key_from_field",
    "key_material_lines",
    "key_transport_problem",
]

SUITE_ATTRIBUTE = "x-srtp-suite"


def key_field_for(params: SrtpKeyParams) -> KeyField:
    """The ``k=base64:`` line that carries ``params`` (its suite goes in ``a=x-srtp-suite``)."""
    return KeyField("base64", base64.b64encode(params.key_salt).decode("ascii"))


def key_from_field(
    session: SessionDescription, media: MediaDescription | None = None
) -> SrtpKeyParams | None:
    """The SRTP key of ``k=`` for ``media`` (or the session), or None if there is none."""
    key = media.key if media is not None and media.key is not None else session.key
    if key is None or key.method in ("uri", "prompt") or key.key is None:
        return None
    if key.method == "base64":
        try:
            key_salt = base64.b64decode(key.key, validate=True)
        except (binascii.Error, ValueError):
            raise SdpError("k=base64 key is not base64 (RFC 4566 §5.12)") from None
    elif key.method == "clear":
        key_salt = key.key.encode("utf-8")
    else:
        # A long "method" is a key without its method: never echoed.
        shown = key.method if len(key.method) <= 8 else "<unknown>"
        raise SdpError(f"k={shown} is not a key method of RFC 4566 §5.12", 488)
    suite = DEFAULT_SUITE
    for level in (session, media):  # the media's attribute, when it has one, wins
        found = level.attribute(SUITE_ATTRIBUTE) if level is not None else None
        if found is not None and found.value:
            suite = found.value
    return SrtpKeyParams(suite, key_salt)


def crypto_attributes(media: MediaDescription) -> list[CryptoAttribute]:
    """The media's ``a=crypto`` lines in the offerer's order of preference (§5.1.1).

    A line that does not parse raises :class:`SdpError`; a well-formed line
    with a suite or key method we cannot use is returned with ``usable`` False.
    """
    return [CryptoAttribute.parse(value) for value in media.attribute_values("crypto")]


def key_material_lines(body: bytes) -> list[str]:
    """Which key-bearing line types a body has: ``"k="`` and/or ``"a=crypto"``."""
    found: list[str] = []
    for raw in bytes(body).splitlines():
        line = raw.strip().lower()
        if line.startswith(b"k=") and "k=" not in found:
            found.append("k=")
        elif line.startswith(b"a=crypto") and "a=crypto" not in found:
            found.append("a=crypto")
    return found


def carries_key_material(body: bytes) -> bool:
    """True when ``body`` holds a ``k=`` or ``a=crypto`` line, parsed or not."""
    return bool(key_material_lines(body))


def key_transport_problem(body: bytes, *, hop_is_tls: bool, body_encrypted: bool) -> str | None:
    """Why ``body`` must not travel as it is, or None when it may.

    RFC 4568 §8.3 and RFC 4566 §5.12: keys in SDP need a confidential
    channel. sipsec's rule (DESIGN.md) is that a key travels only inside an
    S/MIME-encrypted body or over a TLS hop; the UA refuses with this reason.
    """
    if body_encrypted or hop_is_tls:
        return None
    found = key_material_lines(body)
    if not found:
        return None
    return (
        f"the SDP body carries an SRTP key ({' and '.join(found)}) and would cross a hop "
        "that is not TLS in cleartext; encrypt it with S/MIME or use sips:/TLS "
        "(RFC 4568 §8.3)"
    )
