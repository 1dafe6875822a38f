"""``sipsec demo --attack``: what an eavesdropper sees, and forgeries refused.

Every check here uses the real machinery with the real material of the
call that just ran: :class:`sipsec.srtp.SrtpContext` with the call's SRTP
master key (RFC 3711 §3.3 authentication, §3.3.2 replay list), and
:func:`sipsec.smime.open_body` on the very S/MIME body that crossed the
proxies (RFC 3261 §23.3: a proxy without the recipient's key cannot read it;
§23.4.1: a changed body fails the signature).

Sans-IO: bytes and keys in, :class:`Check` and :class:`View` values out; the
command renders them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from operator import mul
from typing import Any

from cryptography import x509

from sipsec.ca import CertificateStore, PrivateKey
from sipsec.rtp import ulaw_decode, ulaw_encode
from sipsec.rtp.packet import build_rtp
from sipsec.smime import MimeEntity, SmimeError, open_body
from sipsec.srtp import SrtpAuthError, SrtpContext, SrtpError, SrtpReplayError

__all__ = [
    "Check",
    "View",
    "body_view",
    "entropy",
    "media_view",
    "signalling_view",
    "smime_attacks",
    "srtp_attacks",
]

_FRAME = 160  # samples per 20 ms packet at 8 kHz
_KEY_TEXT = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")  # a base64 key (and salt)


@dataclass(frozen=True, slots=True)
class Check:
    """One thing the demo proves; any ``ok=False`` makes it exit non-zero."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class View:
    """What an eavesdropper at ``where`` sees with ``protection`` on and off."""

    where: str
    protection: str
    on: str
    off: str


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte: ciphertext is near 8, text near 4–5."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def _correlation(a: bytes, b: bytes) -> float:
    """Normalised correlation of two 16-bit PCM signals at lag 0."""
    x, y = array("h", a[: len(a) & ~1]), array("h", b[: len(b) & ~1])
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    den = math.sqrt(sum(map(mul, x, x)) * sum(map(mul, y, y)))
    return sum(map(mul, x, y)) / den if den else 0.0


def _packets(pcm: bytes, ssrc: int) -> list[bytes]:
    frames = [pcm[i : i + 2 * _FRAME] for i in range(0, len(pcm) - 2 * _FRAME + 1, 2 * _FRAME)]
    return [
        build_rtp(0, seq, seq * _FRAME, ssrc, ulaw_encode(frame), seq == 0)
        for seq, frame in enumerate(frames)
    ]


def srtp_attacks(suite: str, key_salt: bytes, *, audio: bytes) -> list[Check]:
    """Genuine, replayed, tampered and wrongly keyed packets against a receiver
    holding the call's key (``audio``: 16-bit PCM, at least 40 ms)."""
    packets = _packets(audio, ssrc=0x5EC0DE)[:2]
    if len(packets) < 2:
        raise ValueError("srtp_attacks needs at least 40 ms of audio")
    sender = SrtpContext(suite, key_salt)
    receiver = SrtpContext(suite, key_salt)
    first, second = (sender.protect(p) for p in packets)
    checks: list[Check] = []

    def expect(name: str, data: bytes, error: type[SrtpError] | None) -> None:
        try:
            plain = receiver.unprotect(data)
        except SrtpError as exc:
            ok = error is not None and isinstance(exc, error)
            checks.append(Check(name, ok, f"rejected: {type(exc).__name__}: {exc}"))
            return
        ok = error is None and plain in packets
        checks.append(Check(name, ok, "accepted" if ok else "accepted — it should not have been"))

    tampered = bytearray(second)
    tampered[14] ^= 0x01  # one bit of the encrypted payload
    expect("SRTP genuine packet accepted", first, None)
    expect("SRTP replayed packet rejected", first, SrtpReplayError)
    expect("SRTP tampered packet rejected", bytes(tampered), SrtpAuthError)
    forger = SrtpContext(suite, bytes(b ^ 0x5A for b in key_salt))
    expect("SRTP packet under a wrong key rejected", forger.protect(packets[1]), SrtpAuthError)
    expect("SRTP genuine packet after the attacks accepted", second, None)
    return checks


def media_view(suite: str, key_salt: bytes, *, audio: bytes) -> View:
    """An eavesdropper on the media path decodes the RTP payloads as G.711."""
    packets = _packets(audio[: 2 * 8000], ssrc=0xEA5D)
    context = SrtpContext(suite, key_salt)
    protected = [context.protect(p) for p in packets]
    heard_plain = b"".join(ulaw_decode(p[12:]) for p in packets)
    heard_srtp = b"".join(ulaw_decode(p[12 : 12 + _FRAME]) for p in protected)
    reference = audio[: len(heard_plain)]
    srtp_corr = _correlation(reference, heard_srtp)
    plain_corr = _correlation(reference, heard_plain)
    payloads = b"".join(p[12:] for p in protected)
    return View(
        "media path (Alice ↔ Bob)",
        f"SRTP {suite}",
        f"noise: payload entropy {entropy(payloads):.2f} bits/byte, "
        f"correlation with the voice {srtp_corr:+.2f}",
        f"the voice: plain RTP decodes with correlation {plain_corr:+.2f}",
    )


def signalling_view(wire: bytes, clear: bytes, where: str) -> View:
    """``wire``: what crossed the hop (TLS records when TLS was on, else the
    message itself); ``clear``: the SIP message as the endpoints saw it."""
    head = clear.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").splitlines()
    visible = [line for line in head if line.split(":", 1)[0] in ("From", "To", "Call-ID")]
    leaked = b"SIP/2.0" in wire or b"sip:" in wire
    on = f"{len(wire)} bytes, entropy {entropy(wire):.2f} bits/byte; " + (
        "SIP text visible!" if leaked else "no SIP text"
    )
    return View(where, "TLS", on, f"{head[0] if head else ''} · " + " · ".join(visible))


def body_view(inner_sdp: bytes, where: str) -> View:
    """What a proxy reads of the SDP with S/MIME on (nothing) and off (the key)."""
    shown = []
    for line in inner_sdp.splitlines():
        if line.startswith((b"k=", b"a=crypto")):
            # Say that the key is there and how long, never print it (not even in part).
            text = line.decode("ascii", "replace")
            shown.append(_KEY_TEXT.sub(lambda m: f"<{len(m[0])} base64 characters of key>", text))
    shown = shown or ["(no key lines)"]
    return View(where, "S/MIME", "an enveloped blob: no SDP, no key", "; ".join(shown))


@dataclass(frozen=True, slots=True)
class Identity:
    """A certificate and its private key (never shown)."""

    name: str
    cert: x509.Certificate
    key: PrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"Identity({self.name!r})"


def _open(
    body: bytes, content_type: str, who: Identity, *, store: CertificateStore,
    now: dt.datetime, sender: str,
) -> bytes:  # fmt: skip
    entity = MimeEntity([("Content-Type", content_type)], body)
    opened = open_body(
        entity, store=store, now=now, from_address=sender, cert=who.cert, key=who.key
    )
    if not opened.encrypted:
        raise SmimeError("the body was not encrypted")
    return opened.content.decoded_body()


def smime_attacks(
    body: bytes,
    content_type: str,
    *,
    sender: str,
    recipient: Identity,
    proxies: list[Identity],
    store: CertificateStore,
    now: dt.datetime,
) -> tuple[list[Check], bytes | None]:
    """Open the real body as its recipient (must work), as each proxy (must
    fail) and after one changed byte (must fail).  Returns the checks and
    the SDP inside (None when even the recipient could not open it)."""
    checks: list[Check] = []
    where: dict[str, Any] = {"store": store, "now": now, "sender": sender}
    try:
        inner: bytes | None = _open(body, content_type, recipient, **where)
        checks.append(Check(f"{recipient.name} opens the S/MIME body", True, "signature ok"))
    except SmimeError as exc:
        inner = None
        checks.append(Check(f"{recipient.name} opens the S/MIME body", False, str(exc)))
    for proxy in proxies:
        name = f"{proxy.name} cannot decrypt the S/MIME body"
        try:
            _open(body, content_type, proxy, **where)
            checks.append(Check(name, False, "the proxy read the SDP!"))
        except SmimeError as exc:
            checks.append(Check(name, True, f"with its own key: {type(exc).__name__}: {exc}"))
    if not body:
        checks.append(Check("tampered S/MIME body rejected", False, "there is no body"))
        return checks, inner
    tampered = bytearray(body)
    # One bit inside the first MIME part's content (the signed, enveloped data).
    start = min(body.find(b"\r\n\r\n", max(body.find(b"--"), 0)) + 4, len(body) - 1)
    start = max(start, 0)
    tampered[start + (len(body) - 1 - start) // 4] ^= 0x01
    try:
        _open(bytes(tampered), content_type, recipient, **where)
        checks.append(Check("tampered S/MIME body rejected", False, "it was accepted!"))
    except SmimeError as exc:
        detail = f"{type(exc).__name__}: {exc} (SIP {exc.status})"
        checks.append(Check("tampered S/MIME body rejected", True, detail))
    return checks, inner
