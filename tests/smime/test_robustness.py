"""Corrupted and truncated CMS and MIME never raise anything but our typed errors.

The h11 fuzzing invariant (STYLE.md): every input either succeeds or raises
:class:`SmimeError`; never an asn1crypto or cryptography exception.  The
inputs are mutations of real messages — truncations, flipped bytes, spliced
garbage — so that the parser gets deep into the structure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.smime import (
    MimeEntity,
    SmimeError,
    decrypt_entity,
    encrypt_entity,
    open_body,
    sign_and_encrypt,
    sign_entity,
    verify_entity,
)
from sipsec.smime.enveloped import decrypt, encrypt
from sipsec.smime.signed import sign, verify

from .._strategies import mutated
from .conftest import NOW

CONTENT = b"Content-Type: application/sdp\r\n\r\nv=0\r\ns=-\r\n"
# Run once by hand with SIPSEC_FUZZ_EXAMPLES=20000 for a deeper search.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "300"))


def _only_typed_errors(call: Callable[[], Any]) -> None:
    try:
        call()
    except SmimeError:
        pass


@pytest.fixture(scope="module")
def samples(pki) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return {
        "detached": sign(CONTENT, pki.alice.cert, pki.alice.key, now=NOW),
        "opaque": sign(CONTENT, pki.bob.cert, pki.bob.key, now=NOW, detached=False),
        "rsa-cbc": encrypt(CONTENT, [pki.alice.cert], cipher="aes128-cbc"),
        "ec-cbc": encrypt(CONTENT, [pki.bob.cert], cipher="aes256-cbc"),
        "rsa-gcm": encrypt(CONTENT, [pki.alice.cert], cipher="aes128-gcm", rsa_padding="pkcs1v15"),
        "ec-gcm": encrypt(CONTENT, [pki.bob.cert], cipher="aes256-gcm"),
    }


_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_SETTINGS
@given(data=st.data())
def test_signed_data(pki, samples, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    der = data.draw(mutated(samples[data.draw(st.sampled_from(["detached", "opaque"]))]))
    _only_typed_errors(lambda: verify(der, CONTENT))
    _only_typed_errors(lambda: verify(der))


@_SETTINGS
@given(data=st.data())
def test_enveloped_data(pki, samples, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    kind = data.draw(st.sampled_from(["rsa-cbc", "ec-cbc", "rsa-gcm", "ec-gcm"]))
    der = data.draw(mutated(samples[kind]))
    party = pki.alice if kind.startswith("rsa") else pki.bob
    _only_typed_errors(lambda: decrypt(der, party.cert, party.key))


@pytest.fixture(scope="module")
def bodies(pki) -> list[bytes]:  # type: ignore[no-untyped-def]
    sdp = MimeEntity.parse(CONTENT)
    return [
        bytes(sign_entity(sdp, pki.alice.cert, pki.alice.key, now=NOW)),
        bytes(sign_entity(sdp, pki.bob.cert, pki.bob.key, now=NOW, transfer="base64")),
        bytes(encrypt_entity(sdp, [pki.bob.cert], cipher="aes128-gcm")),
        bytes(sign_and_encrypt(sdp, pki.alice.cert, pki.alice.key, [pki.bob.cert], now=NOW)),
    ]


@_SETTINGS
@given(data=st.data())
def test_mime_bodies(pki, bodies, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    raw = data.draw(mutated(data.draw(st.sampled_from(bodies))))

    def everything() -> None:
        entity = MimeEntity.parse(raw)
        _only_typed_errors(lambda: verify_entity(entity, pki.store, now=NOW, from_address=None))
        _only_typed_errors(lambda: decrypt_entity(entity, pki.bob.cert, pki.bob.key))
        open_body(
            entity,
            store=pki.store,
            now=NOW,
            from_address="sip:alice@atlanta.example",
            cert=pki.bob.cert,
            key=pki.bob.key,
        )

    _only_typed_errors(everything)
