"""Where the UA listens and which address it advertises (no peers needed)."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.transaction import Peer
from sipsec.transport.resolver import Resolver
from sipsec.transport.tls import TlsSettings
from sipsec.transport.ua_listen import (
    advertised_address,
    is_unspecified,
    listens_on_tls,
    open_listening,
    outward_address,
)
from sipsec.transport.ua_settings import UaAppError, UaSettings

AOR = "sips:alice@atlanta.example"


def test_unspecified_addresses() -> None:
    assert is_unspecified("0.0.0.0") and is_unspecified("::") and is_unspecified("[::]")
    assert not is_unspecified("127.0.0.1") and not is_unspecified("atlanta.example")


def test_outward_address_toward_loopback_is_loopback() -> None:
    assert outward_address("127.0.0.1") == "127.0.0.1"
    assert outward_address("not-an-ip") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_outward_address_of_any_text_is_an_address_or_none(text: str) -> None:
    found = outward_address(text)
    assert found is None or isinstance(found, str)


def test_a_tls_listener_only_with_a_certificate() -> None:
    client = UaSettings(AOR, tls=TlsSettings("ca.pem"))
    server = UaSettings(AOR, tls=TlsSettings("ca.pem", certfile="c.pem", keyfile="k.pem"))
    assert not listens_on_tls("tls", client) and not listens_on_tls("tls", UaSettings(AOR))
    assert listens_on_tls("tls", server) and not listens_on_tls("udp", server)


async def test_without_a_certificate_the_port_is_held_not_listening() -> None:
    listening = await open_listening(UaSettings(AOR, tls=TlsSettings(None)), "tls")
    try:
        assert listening.endpoint.transport.listening("tls") is None
        assert listening.note is not None and "not listening on TLS" in listening.note
        with socket.socket() as probe:  # bound, never listening: refused
            assert probe.connect_ex(("127.0.0.1", listening.local.port)) != 0
    finally:
        listening.release()
        await listening.endpoint.close()
    assert listening.reserved is None


async def test_a_taken_port_is_a_network_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = UaSettings(AOR, tls=TlsSettings(None), listen=("127.0.0.1", port))
        with pytest.raises(UaAppError) as info:
            await open_listening(settings, "tls")
    assert info.value.kind == "network"


def test_advertised_address() -> None:
    resolver = Resolver({}, use_dns=False)
    local = Peer("udp", "0.0.0.0", 5060)
    plain = UaSettings("sip:bob@biloxi.example")
    assert advertised_address(plain, Peer("udp", "127.0.0.1", 5060), resolver, None) == (
        "127.0.0.1",
        None,
    )
    found, note = advertised_address(plain, local, resolver, Peer("udp", "127.0.0.1", 5070))
    assert found == "127.0.0.1" and note is not None and "0.0.0.0" in note
    named = UaSettings("sip:bob@biloxi.example", contact_host="192.0.2.7")
    assert advertised_address(named, local, resolver, None) == ("192.0.2.7", None)
    by_target = UaSettings("sip:bob@biloxi.example", target="sip:carol@127.0.0.1:5090")
    assert advertised_address(by_target, local, resolver, None)[0] == "127.0.0.1"
    with pytest.raises(UaAppError) as info:
        advertised_address(plain, local, resolver, None)  # nothing says which address
    assert info.value.kind == "usage"
