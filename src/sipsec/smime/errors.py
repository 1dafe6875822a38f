"""S/MIME errors, each with the SIP status a UAS answers (RFC 3261 §23).

- 400 Bad Request: the body is not a well-formed MIME entity or CMS structure
  (truncated, corrupted) or its signature does not verify — the bytes are bad.
- 415 Unsupported Media Type: not an S/MIME type we handle (§23.2 lets a UAS
  that does not understand a body answer 415).
- 493 Undecipherable (§21.4.26, §23.2): not encrypted for us, or we cannot
  decrypt it (unknown algorithm, wrong key, failed integrity tag).
- 403 Forbidden: the signature is intact but its signer is not acceptable —
  expired, revoked, untrusted, or not the From address (§23.4.1 asks the UA
  to tell the user; §23 names no code, 403 is the one that says "valid
  request, refused").  ``reason_code`` distinguishes the four.
"""

from __future__ import annotations

from sipsec.errors import RemoteProtocolError

__all__ = [
    "BadSignature",
    "DecryptionFailed",
    "FromMismatch",
    "MalformedBody",
    "NotForUs",
    "SignerExpired",
    "SignerRevoked",
    "SignerUntrusted",
    "SmimeError",
    "UnsupportedAlgorithm",
    "UnsupportedBody",
]


class SmimeError(RemoteProtocolError):
    """Root of every S/MIME failure; ``status`` is the SIP answer to give."""

    status_hint = 400
    reason_code = "smime"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, self.status_hint)


class MalformedBody(SmimeError):
    """Truncated or corrupted MIME or CMS."""

    reason_code = "malformed"


class BadSignature(SmimeError):
    """The signature or the message digest does not match the content."""

    reason_code = "bad-signature"


class UnsupportedBody(SmimeError):
    status_hint = 415
    reason_code = "unsupported-body"


class NotForUs(SmimeError):
    """No recipient of the enveloped data is our certificate."""

    status_hint = 493
    reason_code = "not-for-us"


class DecryptionFailed(SmimeError):
    """A recipient entry is ours but the content did not decrypt.

    Every cause (RSA padding, key unwrap, CBC padding, GCM tag, lengths)
    gives the same message: telling them apart would hand an attacker the
    padding oracle that RFC 3218 warns about.
    """

    status_hint = 493
    reason_code = "undecipherable"

    def __init__(self, reason: str = "") -> None:
        super().__init__("the body does not decrypt with our key (wrong key or corrupted)")


class UnsupportedAlgorithm(SmimeError):
    status_hint = 493
    reason_code = "unsupported-algorithm"


class SignerUntrusted(SmimeError):
    status_hint = 403
    reason_code = "untrusted"


class SignerExpired(SignerUntrusted):
    reason_code = "expired"


class SignerRevoked(SignerUntrusted):
    reason_code = "revoked"


class FromMismatch(SignerUntrusted):
    reason_code = "from-mismatch"
