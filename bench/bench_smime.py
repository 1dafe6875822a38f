"""S/MIME speed: sign+encrypt and decrypt+verify of a typical SDP offer.

For RSA-2048 and EC P-256 it measures, in the same run:

- sipsec: ``sign_and_encrypt`` (RFC 3261 §23.4.3 shape: the signature around
  the enveloped SDP) and ``open_body`` (decrypt, verify the signature, the
  chain to the anchor and the signer's SAN against From);
- raw: the cryptographic operations those calls cannot avoid, done directly
  with ``cryptography`` — the signature, the key transport or key agreement,
  the content cipher, and on the receiving side the check of the leaf
  certificate's signature by the CA.

The ratio raw/sipsec is the share of time spent in cryptography; the rest is
our code (ASN.1 building and parsing, MIME, path validation policy).

    .venv/bin/python bench/bench_smime.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from sipsec.ca import (
    CertificateStore,
    KeyKind,
    PrivateKey,
    build_root,
    build_user,
    generate_key,
    parse_address,
)
from sipsec.smime import MimeEntity, open_body, sign_and_encrypt

NOW = dt.datetime.now(dt.UTC)
SDP = MimeEntity(
    [("Content-Type", "application/sdp")],
    (
        b"v=0\r\n"
        b"o=alice 2890844526 2890844526 IN IP4 atlanta.example\r\n"
        b"s=-\r\n"
        b"c=IN IP4 192.0.2.101\r\n"
        b"t=0 0\r\n"
        b"m=audio 49172 RTP/SAVP 0 8 101\r\n"
        b"a=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:8 PCMA/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
        b"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
        b"a=crypto:2 AES_CM_128_HMAC_SHA1_32 "
        b"inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:4\r\n"
        b"a=sendrecv\r\n"
    ),
)


def rate(func: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``func``, run for about ``seconds``."""
    func()  # warm up
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        func()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _cbc(key: bytes, data: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(padded) + enc.finalize()


def _uncbc(key: bytes, blob: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(blob[:16])).decryptor()
    padded = dec.update(blob[16:]) + dec.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def bench_kind(kind: KeyKind, ca: x509.Certificate, ca_key: PrivateKey, seconds: float) -> None:
    """Measure one key type; print its two rows."""
    payload = bytes(SDP)
    alice_key, bob_key = generate_key(kind), generate_key(kind)
    alice = build_user(
        ca, ca_key, alice_key.public_key(), parse_address("sip:alice@atlanta.example"), now=NOW
    )
    bob = build_user(
        ca, ca_key, bob_key.public_key(), parse_address("sip:bob@biloxi.example"), now=NOW
    )
    store = CertificateStore([ca])

    def ours_send() -> MimeEntity:
        return sign_and_encrypt(SDP, alice, alice_key, [bob], now=NOW)

    body = MimeEntity.parse(bytes(ours_send()))

    def ours_receive() -> None:
        opened = open_body(
            body,
            store=store,
            now=NOW,
            from_address="sip:alice@atlanta.example",
            cert=bob,
            key=bob_key,
        )
        assert opened.content.body == SDP.body

    ca_pub = ca_key.public_key()
    assert isinstance(ca_pub, ec.EllipticCurvePublicKey)
    tbs, ca_sig = alice.tbs_certificate_bytes, alice.signature

    if isinstance(alice_key, rsa.RSAPrivateKey) and isinstance(bob_key, rsa.RSAPrivateKey):
        a_priv, b_priv = alice_key, bob_key
        oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)

        def rsa_send() -> tuple[bytes, bytes, bytes]:
            cek = os.urandom(16)
            sealed = _cbc(cek, payload)
            wrapped = b_priv.public_key().encrypt(cek, oaep)
            sig = a_priv.sign(sealed, padding.PKCS1v15(), hashes.SHA256())
            return sealed, wrapped, sig

        sealed, wrapped, sig = rsa_send()

        def rsa_receive() -> None:
            a_priv.public_key().verify(sig, sealed, padding.PKCS1v15(), hashes.SHA256())
            ca_pub.verify(ca_sig, tbs, ec.ECDSA(hashes.SHA256()))
            _uncbc(b_priv.decrypt(wrapped, oaep), sealed)

        raw_send: Callable[[], object] = rsa_send
        raw_receive: Callable[[], object] = rsa_receive
    else:
        assert isinstance(alice_key, ec.EllipticCurvePrivateKey)
        assert isinstance(bob_key, ec.EllipticCurvePrivateKey)
        a_ec, b_ec = alice_key, bob_key

        def kek(shared: bytes) -> bytes:
            return X963KDF(hashes.SHA256(), 16, b"bench").derive(shared)

        def ec_send() -> tuple[bytes, bytes, bytes, ec.EllipticCurvePublicKey]:
            cek = os.urandom(16)
            sealed = _cbc(cek, payload)
            eph = ec.generate_private_key(ec.SECP256R1())
            wrapped = keywrap.aes_key_wrap(kek(eph.exchange(ec.ECDH(), b_ec.public_key())), cek)
            sig = a_ec.sign(sealed, ec.ECDSA(hashes.SHA256()))
            return sealed, wrapped, sig, eph.public_key()

        sealed, wrapped, sig, eph_pub = ec_send()

        def ec_receive() -> None:
            a_ec.public_key().verify(sig, sealed, ec.ECDSA(hashes.SHA256()))
            ca_pub.verify(ca_sig, tbs, ec.ECDSA(hashes.SHA256()))
            cek = keywrap.aes_key_unwrap(kek(b_ec.exchange(ec.ECDH(), eph_pub)), wrapped)
            _uncbc(cek, sealed)

        raw_send = ec_send
        raw_receive = ec_receive

    for label, ours, raw in (
        ("sign+encrypt", ours_send, raw_send),
        ("decrypt+verify", ours_receive, raw_receive),
    ):
        o, r = rate(ours, seconds), rate(raw, seconds)
        print(f"{kind:10} {label:16} {o:13.0f} {r:11.0f} {o / r:10.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    ca_key = generate_key("ec-p256")
    ca = build_root(ca_key, "bench CA", NOW)
    payload = bytes(SDP)
    print(f"SDP entity: {len(payload)} bytes; {args.seconds:.1f} s per figure\n")
    print(f"{'':10} {'operation':16} {'sipsec ops/s':>13} {'raw ops/s':>11} {'raw/sipsec':>11}")

    kinds: tuple[KeyKind, ...] = ("rsa-2048", "ec-p256")
    for kind in kinds:
        bench_kind(kind, ca, ca_key, args.seconds)
    print(
        "\nraw/sipsec: the share of sipsec's time that is unavoidable cryptography "
        "(100% = no overhead of our own)."
    )


if __name__ == "__main__":
    main()
