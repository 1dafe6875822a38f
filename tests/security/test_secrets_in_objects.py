"""Keys, passwords, HA1 and nonce secrets never show in a repr, str or error,
and objects holding them are never compared with an early-exit ``==``.

Every secret is checked in the forms a leak takes: raw (as ``bytes`` repr
escapes), hex (both cases), base64 and base64url (with and without padding),
and the text itself for passwords.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.auth import DigestClient, DigestServer
from sipsec.auth.nonce import NonceFactory
from sipsec.sdp import Attribute, KeyField, SdpError, SrtpKeyParams, key_from_field, parse_sdp
from sipsec.sdp.crypto import CryptoAttribute, KeyParam
from sipsec.srtp import SrtpContext

SUITE = "AES_CM_128_HMAC_SHA1_80"
keys30 = st.binary(min_size=30, max_size=30)
# A random hex head makes each password unmistakable; any text may follow.
passwords = st.builds(
    lambda head, tail: head.hex() + tail, st.binary(min_size=8, max_size=8), st.text(max_size=24)
)


def forms(secret: bytes | str) -> list[str]:
    """Every text a leak of ``secret`` would contain (long enough to be no accident)."""
    raw = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
    b64 = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    out = [raw.hex(), raw.hex().upper(), b64, b64.rstrip("="), url.rstrip("="), repr(raw)[2:-1]]
    if isinstance(secret, str):
        out += [secret, repr(secret)[1:-1]]
    return [f for f in out if len(f) >= 12]


def assert_hidden(secret: bytes | str, texts: Iterable[str]) -> None:
    for text in texts:
        for form in forms(secret):
            assert form not in text, f"secret leaked as {form!r} in {text!r}"


def generated_eq(cls: type) -> bool:
    """True when ``cls.__eq__`` is the one :func:`dataclasses.dataclass` wrote."""
    eq = cls.__dict__.get("__eq__")
    return (
        eq is not None
        and getattr(eq, "__code__", None) is not None
        and (eq.__code__.co_filename == "<string>")
    )


@settings(max_examples=300, deadline=None)
@given(key=keys30)
def test_srtp_objects_hide_the_master_key(key: bytes) -> None:
    context = SrtpContext(SUITE, key)
    params = SrtpKeyParams(SUITE, key)
    inline = base64.b64encode(key).decode()
    crypto = CryptoAttribute.parse(f"1 {SUITE} inline:{inline}|2^20")
    attribute = Attribute("crypto", f"1 {SUITE} inline:{inline}")
    field = KeyField("base64", inline)
    texts = [repr(o) for o in (context, params, crypto, crypto.keys[0], attribute, field)]
    texts += [str(o) for o in (context, params, attribute, field)]
    assert_hidden(key, texts)


@settings(max_examples=300, deadline=None)
@given(key=keys30)
def test_a_parsed_sdp_hides_its_keys(key: bytes) -> None:
    inline = base64.b64encode(key).decode()
    body = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"k=base64:{inline}\r\n"
        "m=audio 4000 RTP/SAVP 0\r\n"
        f"a=crypto:1 {SUITE} inline:{inline}|2^20|1:4\r\n"
        f"a=crypto:2 {SUITE} inline:{inline};inline:{inline}|2^20\r\n"
    ).encode()
    sdp = parse_sdp(body)
    assert bytes(sdp) == body  # the key is all there, only hidden from repr
    assert_hidden(key, [repr(sdp), repr(sdp.media[0]), repr(sdp.media[0].attributes)])


@settings(max_examples=300, deadline=None)
@given(password=passwords, secret=st.binary(min_size=16, max_size=48))
def test_auth_objects_hide_passwords_and_secrets(password: str, secret: bytes) -> None:
    client = DigestClient("alice", password)
    factory = NonceFactory(secret, "atlanta.example")
    server = DigestServer(secret, "atlanta.example", lambda *_: None)
    texts = [repr(client), str(client), repr(factory), repr(server), str(server)]
    assert_hidden(password, texts[:2])
    assert_hidden(secret, texts[2:])


# -- equality that would leak by its timing -----------------------------------------------


@pytest.mark.parametrize(
    ("cls", "field"),
    [(DigestClient, "password"), (NonceFactory, "secret"), (SrtpKeyParams, "key_salt"),
     (KeyParam, "key_salt"), (KeyField, "key")],
)  # fmt: skip
def test_dataclasses_with_secrets_have_no_generated_eq(cls: type, field: str) -> None:
    """A dataclass-generated ``==`` compares fields as tuples, secret
    included, exiting at the first difference; each of these compares in
    constant time itself or keeps identity equality."""
    assert field in {f.name for f in dataclasses.fields(cls)}
    names = {f.name: f for f in dataclasses.fields(cls)}
    assert not generated_eq(cls) or not names[field].compare, cls
    assert not names[field].repr, cls


def test_key_equality_still_means_equal_keys() -> None:
    a, b = KeyField("base64", "QUFB"), KeyField("base64", "QUFC")
    assert a == KeyField("base64", "QUFB") and a != b
    assert Attribute("crypto", "1 S inline:QUFB") != Attribute("crypto", "1 S inline:QUFC")
    assert Attribute("crypto", "1 S inline:QUFB") == Attribute("crypto", "1 S inline:QUFB")
    assert Attribute("sendrecv") == Attribute("sendrecv") != Attribute("sendrecv", "")
    assert Attribute("tool", "\u00e9t\u00e9") == Attribute("tool", "\u00e9t\u00e9")


def test_the_generated_eq_detector_works() -> None:
    @dataclasses.dataclass
    class Plain:
        secret: bytes

    assert generated_eq(Plain)
    assert not generated_eq(KeyParam)


# -- errors ---------------------------------------------------------------------------------

_TEMPLATES = [
    "k=base64:{k}",
    "k=base64 {k}",
    "k={k}",
    "k={k}:x",
    "a=crypto:1 {s} inline:{k}|2^99",
    "a=crypto:1 {s} inline:{k}|2^20|0:0",
    "a=crypto:1 {k} {s}",
    "a=crypto:1 {k} inline:{k}",
    "a=crypto:x {s} inline:{k}",
    "a=crypto:1 {s} inline:{k}=",
    "a=crypto:1 {s} inline:{k}{k}",
    "a=crypto 1 {s} inline:{k}",
    "a={k}",
    "a={k}:1",
]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    key=keys30,
    template=st.sampled_from(_TEMPLATES),
    cut=st.integers(0, 200),
    junk=st.text(" :|;^=/\r\x00aZ9é", max_size=3),
    level=st.booleans(),
)
def test_sdp_errors_never_carry_a_key(
    key: bytes, template: str, cut: int, junk: str, level: bool
) -> None:
    """Garbled key lines (a key where a method, suite or attribute name
    belongs; junk spliced in anywhere) are refused without echoing the key.
    Checked against every 12-character window of the base64 key, so a key
    cut in two by the junk is still caught."""
    inline = base64.b64encode(key).decode()
    line = template.format(k=inline, s=SUITE)
    cut %= len(line) + 1
    line = line[:cut] + junk + line[cut:]
    media = "m=audio 4000 RTP/SAVP 0\r\n"
    body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    body += (line + "\r\n" + media) if level and line.startswith("k=") else (media + line + "\r\n")
    windows = {inline[i : i + 12] for i in range(len(inline) - 11)}
    try:
        sdp = parse_sdp(body.encode("utf-8"))
        for m in sdp.media:
            for value in m.attribute_values("crypto"):
                CryptoAttribute.parse(value)
            key_from_field(sdp, m)
    except SdpError as exc:
        text = f"{exc} {exc!r} {exc.reason}"
        leaked = [w for w in windows if w in text]
        assert not leaked, text


def _eq_over_secret(cls: type, name: str) -> bool:
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return generated_eq(cls) and field.compare


def test_tls_settings_keep_the_key_password_out_of_eq_and_repr() -> None:
    from sipsec.transport.tls import TlsSettings

    assert not _eq_over_secret(TlsSettings, "key_password")
    shown = repr(TlsSettings(None, key_password="0123456789abcdef-pass"))
    assert "0123456789abcdef-pass" not in shown


def test_credential_eq_is_not_over_the_ha1() -> None:
    from sipsec.proxy.credentials import Credential

    assert not _eq_over_secret(Credential, "ha1")


@pytest.mark.parametrize("where", ["sipsec.ua.config:UaConfig", "sipsec.transport:UaSettings"])
def test_ua_settings_eq_is_not_over_the_password(where: str) -> None:
    import importlib

    module, _, name = where.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert not _eq_over_secret(cls, "password")
    assert "hunter2-0123456789" not in repr(cls("sip:a@b.example", password="hunter2-0123456789"))
