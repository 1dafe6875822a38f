"""Every failure of a send is a TransportFailure with a specific message."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.errors import SipsecError
from sipsec.transaction import Peer
from sipsec.transport import errors
from sipsec.transport.errors import TlsVerificationError, TransportFailure
from sipsec.transport.sip import SipTransport
from sipsec.transport.tls import TlsConfigurationError

from ._e1_echo import options

SEND_EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "500"))  # more by hand


def test_hierarchy() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, TransportFailure) and issubclass(cls, SipsecError), name
    assert issubclass(TlsConfigurationError, TransportFailure)
    error = TlsVerificationError("certificate is for a.example, not b.example", "name mismatch")
    assert error.reason == "name mismatch" and "b.example" in str(error)


@pytest.fixture(scope="module")
def transport() -> Iterator[tuple[asyncio.AbstractEventLoop, SipTransport]]:
    loop = asyncio.new_event_loop()
    t = SipTransport(on_message=lambda m, p: None)
    loop.run_until_complete(t.listen("udp", "127.0.0.1"))
    yield loop, t
    loop.run_until_complete(t.close())
    loop.close()


peers = st.builds(
    Peer,
    st.sampled_from(["udp", "tcp", "tls", "sctp"]),
    st.one_of(
        st.sampled_from(["127.0.0.1", "::1", "example.com", "", "[::1]", "999.1.1.1"]),
        st.text(max_size=20),
    ),
    st.integers(-5, 70000),
    st.one_of(st.none(), st.sampled_from(["biloxi.example", "127.0.0.1"])),
    st.one_of(st.none(), st.integers(0, 5)),
)


@settings(max_examples=SEND_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(peers, st.integers(0, 3000))
def test_try_send_raises_only_transport_failures(
    transport: tuple[asyncio.AbstractEventLoop, SipTransport], peer: Peer, size: int
) -> None:
    loop, t = transport

    async def attempt() -> None:
        try:
            used = t.try_send(options(Peer("udp", "127.0.0.1", 5060), size=size), peer)
        except TransportFailure as error:
            assert str(error)  # always says what went wrong
            return
        if used is not None:
            assert used.transport == "udp" and used.host == peer.host

    loop.run_until_complete(attempt())
