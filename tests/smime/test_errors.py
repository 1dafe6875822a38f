"""Every S/MIME failure carries the SIP status of RFC 3261 §23 and a distinct reason."""

from __future__ import annotations

import pytest

from sipsec.errors import RemoteProtocolError
from sipsec.smime import (
    BadSignature,
    DecryptionFailed,
    FromMismatch,
    MalformedBody,
    NotForUs,
    SignerExpired,
    SignerRevoked,
    SignerUntrusted,
    SmimeError,
    UnsupportedAlgorithm,
    UnsupportedBody,
)

TABLE = [
    (MalformedBody, 400, "malformed"),
    (BadSignature, 400, "bad-signature"),
    (UnsupportedBody, 415, "unsupported-body"),
    (NotForUs, 493, "not-for-us"),
    (DecryptionFailed, 493, "undecipherable"),
    (UnsupportedAlgorithm, 493, "unsupported-algorithm"),
    (SignerUntrusted, 403, "untrusted"),
    (SignerExpired, 403, "expired"),
    (SignerRevoked, 403, "revoked"),
    (FromMismatch, 403, "from-mismatch"),
]


@pytest.mark.parametrize(("cls", "status", "code"), TABLE)
def test_status_and_reason(cls: type[SmimeError], status: int, code: str) -> None:
    error = cls("why")
    assert isinstance(error, RemoteProtocolError)
    assert (error.status, error.reason_code) == (status, code)
    if cls is not DecryptionFailed:
        assert error.reason == "why"
        assert repr(error) == f"{cls.__name__}('why', status={status})"


def test_decryption_failures_all_read_alike() -> None:
    # No padding oracle: the cause never shows (RFC 3218 §2.3).
    assert DecryptionFailed("bad CBC padding").reason == DecryptionFailed("GCM tag").reason


def test_reasons_are_distinct() -> None:
    assert len({code for _, _, code in TABLE}) == len(TABLE)
