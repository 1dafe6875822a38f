"""TLS for SIP: contexts from one settings object, and RFC 5922 domain checks.

Chain and validity checks are OpenSSL's (through the stdlib :mod:`ssl`);
the *name* check is ours, because SIP does not follow the HTTPS rules
(RFC 5922 §7.1–7.3):

- a ``sip:`` URI in subjectAltName with no user part names a domain, and
  when there is any such URI only those count;
- otherwise the dNSName entries count;
- the subject's Common Name is never used here (§7.1 allows it only when
  the certificate has no subjectAltName at all, which our CA never issues
  and which we refuse rather than guess);
- wildcards are not matched (§7.2: "MUST NOT be used");
- an IP address is never a SIP domain, so it is never matched and never
  sent as SNI (RFC 6066 §3).

So contexts are built with ``check_hostname = False`` and the transport
calls :func:`check_peer_domain` after the handshake.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import KW_ONLY, dataclass, field

from cryptography import x509

from .errors import TlsVerificationError, TransportFailure

__all__ = [
    "TlsConfigurationError",
    "TlsSettings",
    "check_peer_domain",
    "classify_ssl_error",
    "client_context",
    "is_ip_literal",
    "peer_identities",
    "server_context",
]

StrPath = str | os.PathLike[str]


class TlsConfigurationError(TransportFailure):
    """The TLS settings cannot be loaded (missing file, wrong password …)."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Where the trust anchors, our certificate and its key are.

    ``cafile`` holds the trust anchors that peers are verified against
    (clients always verify unless ``verify`` is False; servers ask for a
    client certificate when a ``cafile`` is set and insist with
    ``require_client_cert``). ``certfile``/``keyfile`` are our chain and
    key: required to listen, optional for a client (mutual TLS).
    ``keylog_filename`` appends NSS key-log lines for Wireshark.
    ``key_password`` is never shown in a repr.
    """

    cafile: StrPath | None
    certfile: StrPath | None = None
    keyfile: StrPath | None = None
    _: KW_ONLY
    key_password: str | bytes | None = field(default=None, repr=False, compare=False)
    require_client_cert: bool = False
    keylog_filename: StrPath | None = None
    verify: bool = True


def _load(context: ssl.SSLContext, settings: TlsSettings, *, need_cert: bool) -> None:
    try:
        if settings.cafile is not None:
            context.load_verify_locations(cafile=os.fspath(settings.cafile))
        if settings.certfile is not None:
            context.load_cert_chain(
                os.fspath(settings.certfile),
                None if settings.keyfile is None else os.fspath(settings.keyfile),
                password=settings.key_password,
            )
        elif need_cert:
            raise TlsConfigurationError("a TLS listener needs a certificate (certfile)")
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigurationError(f"cannot load TLS files: {exc}") from None
    if settings.keylog_filename is not None:
        path = os.fspath(settings.keylog_filename)
        # The key log holds every session secret: create it 0600 before
        # OpenSSL opens it for appending (it would use the umask, 0644).
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        except OSError as exc:
            raise TlsConfigurationError(f"cannot create the TLS key log: {exc}") from None
        context.keylog_filename = path


def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """A client context: TLS 1.2+, the peer's chain verified against
    ``cafile`` (OpenSSL), the name left to :func:`check_peer_domain`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # RFC 5922 rules, not RFC 6125's: checked by us
    if settings.verify:
        context.verify_mode = ssl.CERT_REQUIRED
        if settings.cafile is None:
            raise TlsConfigurationError("verifying TLS peers needs trust anchors (cafile)")
    else:
        context.verify_mode = ssl.CERT_NONE
    _load(context, settings, need_cert=False)
    return context


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """A server context: our certificate; a client certificate asked for
    when there are trust anchors (mutual TLS, RFC 5922 §4), required with
    ``require_client_cert``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.require_client_cert:
        if settings.cafile is None:
            raise TlsConfigurationError("requiring client certificates needs a cafile")
        context.verify_mode = ssl.CERT_REQUIRED
    elif settings.cafile is not None and settings.verify:
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    _load(context, settings, need_cert=True)
    return context


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _san(certificate_der: bytes) -> tuple[list[str], list[str]] | None:
    """(SIP URIs, dNSNames) of the subjectAltName, or None without one."""
    try:
        cert = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        raise TlsVerificationError("the peer certificate cannot be parsed", "invalid") from None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        raise TlsVerificationError("the peer's subjectAltName is malformed", "invalid") from None
    uris = [
        u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if isinstance(u, str)
    ]
    dns = [d for d in san.get_values_for_type(x509.DNSName) if isinstance(d, str)]
    return uris, dns


def _sip_uri_host(uri: str) -> str | None:
    """The domain of ``sip:domain`` (no user part, RFC 5922 §7.1), else None."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() != "sip" or "@" in rest:
        return None
    host = rest.split(";", 1)[0].split("?", 1)[0]
    if host.startswith("["):
        return None  # an IP literal is not a domain
    host = host.split(":", 1)[0]
    return _normal(host) or None


def peer_identities(certificate_der: bytes) -> list[str]:
    """The SIP domain identities of a certificate (RFC 5922 §7.1): the hosts
    of its ``sip:`` URIs without a user part, or, when there are none, its
    dNSNames. Users' certificates (``sip:alice@host``) name no domain; their
    URIs come back whole so a server can tell who connected."""
    sans = _san(certificate_der)
    if sans is None:
        return []
    uris, dns = sans
    domains = [h for h in (_sip_uri_host(u) for u in uris) if h is not None]
    if domains:
        return domains
    users = [u for u in uris if u.lower().startswith("sip:") and "@" in u]
    if users:
        return users
    return [_normal(d) for d in dns]


def check_peer_domain(certificate_der: bytes, domain: str) -> None:
    """Raise :class:`TlsVerificationError` unless the certificate speaks for
    ``domain`` (RFC 5922 §7.1 extraction, §7.2 comparison: exact, case
    insensitive, no wildcards, never an IP address)."""
    if is_ip_literal(domain):
        raise TlsVerificationError(
            f"{domain!r} is an IP address, not a SIP domain (RFC 5922 §4)", "name mismatch"
        )
    wanted = _normal(domain)
    sans = _san(certificate_der)
    if sans is None:
        raise TlsVerificationError(
            f"the certificate has no subjectAltName; cannot prove {wanted}", "name mismatch"
        )
    uris, dns = sans
    domains = [h for h in (_sip_uri_host(u) for u in uris) if h is not None]
    # §7.1: URIs win; dNSNames count only when there is no SIP URI at all.
    names = domains if domains else [_normal(d) for d in dns]
    if wanted in names:
        return
    if any("*" in n for n in names):
        raise TlsVerificationError(
            f"certificate for {', '.join(names)} has a wildcard; RFC 5922 §7.2 forbids "
            f"matching it for {wanted}",
            "wildcard",
        )
    shown = ", ".join(names) if names else "no SIP domain"
    raise TlsVerificationError(f"certificate is for {shown}, not {wanted}", "name mismatch")


# OpenSSL X509_V_ERR_* codes (x509_vfy.h) grouped into our reasons.
_EXPIRED = {10, 12}  # CERT_HAS_EXPIRED, CRL_HAS_EXPIRED
_NOT_YET = {9, 11}  # CERT_NOT_YET_VALID, CRL_NOT_YET_VALID
_UNTRUSTED = {2, 18, 19, 20, 21, 27, 28}  # unknown issuer, self-signed, untrusted, rejected


def classify_ssl_error(exc: ssl.SSLError) -> TlsVerificationError:
    """A handshake failure as a :class:`TlsVerificationError` naming why."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        text = exc.verify_message or str(exc)
        if code in _EXPIRED:
            return TlsVerificationError(f"peer certificate expired: {text}", "expired")
        if code in _NOT_YET:
            return TlsVerificationError(f"peer certificate not yet valid: {text}", "not yet valid")
        if code in _UNTRUSTED:
            return TlsVerificationError(f"peer certificate not trusted: {text}", "untrusted")
        return TlsVerificationError(f"peer certificate rejected: {text}", "invalid")
    reason = exc.reason or str(exc)
    if "CERTIFICATE_REQUIRED" in reason.upper() or "PEER DID NOT RETURN" in reason.upper():
        return TlsVerificationError(f"TLS peer sent no certificate: {reason}", "no certificate")
    if "UNKNOWN_CA" in reason.upper():
        return TlsVerificationError(f"TLS peer does not trust us: {reason}", "untrusted")
    if "CERTIFICATE_EXPIRED" in reason.upper():
        return TlsVerificationError(f"TLS peer says our certificate expired: {reason}", "expired")
    return TlsVerificationError(f"TLS handshake failed: {reason}", "handshake")
