"""Certificates for the TLS tests: the suite's shared PKI (``tests/_pki.py``)
plus the deliberately wrong ones that only the peer checks of RFC 5922 need
(expired, from a root nobody trusts, and shapes sipsec.ca refuses to issue:
DNS-only, wildcard, no SAN, URI for another domain), made with the same
helpers and written as PEM files in the directory given."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from .._pki import NOW, Authority, Credentials, shared
from .._pki import Pki as SharedPki

Creds = Credentials


@dataclass(frozen=True)
class Pki(SharedPki):
    """The shared root, atlanta, biloxi, alice (and bob), and the odd ones."""

    expired: Credentials  # biloxi.example, expired yesterday
    stranger: Credentials  # biloxi.example, issued by an untrusted root
    dns_only: Credentials  # only dNSName biloxi.example
    wildcard: Credentials  # dNSName *.example
    uri_other: Credentials  # URI sip:other.example + dNSName biloxi.example (URI wins)
    no_san: Credentials  # CN biloxi.example only


def make_pki(directory: Path, base: SharedPki | None = None) -> Pki:
    """``base`` (the session's PKI when None) with the odd certificates, issued
    by its root (or, for ``stranger``, by another) into ``directory``."""
    base = shared() if base is None else base
    odd = base.authority.into(directory)
    other = Authority.create(directory / "other", "nobody trusts me")

    def custom(label: str, names: list[x509.GeneralName]) -> Credentials:
        return odd.custom(label, names, common_name="biloxi.example")

    return Pki(
        base.authority,
        base.atlanta,
        base.biloxi,
        base.alice,
        base.bob,
        expired=odd.domain(
            "biloxi.example", label="expired", now=NOW - dt.timedelta(days=10), days=2
        ),
        stranger=other.domain("biloxi.example", label="stranger"),
        dns_only=custom("dns-only", [x509.DNSName("biloxi.example")]),
        wildcard=custom("wildcard", [x509.DNSName("*.example")]),
        uri_other=custom(
            "uri-other",
            [x509.UniformResourceIdentifier("sip:other.example"), x509.DNSName("biloxi.example")],
        ),
        no_san=custom("no-san", []),
    )
