"""SIP addresses as certificates carry them (RFC 3261 §19.1.4, §23.4.1; RFC 5922 §7.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.ca import CaError, SipAddress, certificate_addresses, parse_address


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.example",
        "sips:alice@atlanta.example",
        "SIP:alice@ATLANTA.example",
        "alice@atlanta.example",
        "<sip:alice@atlanta.example>",
        '"Alice" <sip:alice@atlanta.example;transport=tls>;tag=1928301774',
        "Alice <sip:alice:secret@atlanta.example:5061>",
        "sip:alice@atlanta.example;tag=x",
        "sip:alice@atlanta.example?subject=hi",
    ],
)
def test_every_spelling_of_alice_is_one_address(text: str) -> None:
    address = parse_address(text)
    assert address == SipAddress("alice", "atlanta.example")
    assert address.uri == "sip:alice@atlanta.example"
    assert address.name == "alice@atlanta.example"
    assert not address.is_domain


def test_user_part_stays_case_sensitive() -> None:
    # §19.1.4: the user part compares case-sensitively, the host does not.
    assert parse_address("sip:Alice@atlanta.example") != parse_address("sip:alice@atlanta.example")


@pytest.mark.parametrize("text", ["atlanta.example", "sip:atlanta.example", "atlanta.example:5061"])
def test_domains(text: str) -> None:
    address = parse_address(text)
    assert address.is_domain
    assert address.name == "atlanta.example"
    assert address.uri == "sip:atlanta.example"


@pytest.mark.parametrize(
    "text",
    ["", "tel:+15551234", "mailto:alice@atlanta.example", "sip:", "sip:alice@", "<sip:x", "a b@c"],
)
def test_rejects_non_sip_addresses(text: str) -> None:
    with pytest.raises(CaError):
        parse_address(text)


@settings(max_examples=600)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_ca_error(text: str) -> None:
    try:
        address = parse_address(text)
    except CaError:
        return
    # Whatever parses is stable: its URI parses back to itself.
    assert parse_address(address.uri) == address


def test_certificate_addresses(pki) -> None:  # type: ignore[no-untyped-def]
    assert certificate_addresses(pki.alice.cert) == {SipAddress("alice", "atlanta.example")}
    assert certificate_addresses(pki.domain.cert) == {SipAddress(None, "atlanta.example")}
    # The root has no subjectAltName at all.
    assert certificate_addresses(pki.ca_cert) == set()
