"""SIP addresses as they appear in certificates (RFC 3261 §23.4.1, RFC 5922 §7.1).

A user certificate carries ``URI:sip:alice@atlanta.example`` in its
subjectAltName; a domain certificate carries ``URI:sip:atlanta.example`` and
``DNS:atlanta.example``.  This module reduces every spelling of such an
address (``sips:``, a name-addr with display name and ``;tag=``, upper case
host) to one canonical form so that "the SAN equals the From address" is a
plain string comparison.  It is deliberately independent of ``sipsec.sip``:
certificates need only the address-of-record, never a whole SIP URI grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509

from .errors import CaError

__all__ = ["SipAddress", "certificate_addresses", "parse_address"]

# RFC 3261 §25.1 "user" (unreserved / escaped / user-unreserved) minus a few
# characters never seen in an address-of-record; hosts are DNS names or IPv4.
_USER = r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?"
_AOR = re.compile(rf"(?:(?P<user>{_USER})@)?(?P<host>{_HOST})")


@dataclass(frozen=True, order=True)
class SipAddress:
    """An address-of-record: ``user@host`` for people, ``host`` for domains."""

    user: str | None
    host: str

    @property
    def uri(self) -> str:
        """``sip:alice@atlanta.example`` — the subjectAltName URI form."""
        return f"sip:{self.name}"

    @property
    def name(self) -> str:
        """``alice@atlanta.example`` or ``atlanta.example`` — file names, e-mail SAN."""
        return f"{self.user}@{self.host}" if self.user is not None else self.host

    @property
    def is_domain(self) -> bool:
        return self.user is None

    def __str__(self) -> str:
        return self.uri


def parse_address(text: str) -> SipAddress:
    """Canonical address of a URI, a bare ``user@host`` or a From header value.

    Accepts ``sip:``/``sips:`` (§19.1.4: the same resource for comparison of
    identities), a display name with ``<…>``, and drops URI parameters,
    header parameters and the port.  The host is lower-cased (§19.1.4); the
    user part stays case-sensitive.
    """
    value = text.strip()
    if "<" in value:
        start, end = value.find("<"), value.find(">")
        if end < start:
            raise CaError(f"not a SIP address: {text!r}")
        value = value[start + 1 : end].strip()
    else:
        # addr-spec without angle brackets: header parameters follow ';'
        # and belong to the header, not the URI (§20.10).
        value = value.split(";", 1)[0].strip()
    scheme, sep, rest = value.partition(":")
    if sep and scheme.lower() in {"sip", "sips"}:
        value = rest
    elif sep and "@" not in scheme and not rest.isdigit():
        # host:port without scheme is fine; any other scheme is not SIP.
        raise CaError(f"not a SIP address: {text!r}")
    value = value.split(";", 1)[0].split("?", 1)[0]
    if "@" in value:
        user, _, hostport = value.rpartition("@")
        user = user.split(":", 1)[0]  # a password never names anyone
    else:
        user, hostport = "", value
    host = hostport.split(":", 1)[0].lower()
    match = _AOR.fullmatch(f"{user}@{host}" if user else host)
    if match is None or not host:
        raise CaError(f"not a SIP address: {text!r}")
    return SipAddress(user or None, host)


def certificate_addresses(cert: x509.Certificate) -> set[SipAddress]:
    """Every SIP identity the certificate's subjectAltName vouches for.

    Only ``sip:``/``sips:`` URIs count (RFC 5922 §7.1 for domains, RFC 3261
    §23.4.1 for users); dNSName and rfc822Name are for TLS and e-mail.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    found: set[SipAddress] = set()
    for uri in san.value.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.lower().startswith(("sip:", "sips:")):
            try:
                found.add(parse_address(uri))
            except CaError:
                continue
    return found
