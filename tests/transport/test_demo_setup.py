"""The parties of the demo and their settings (sipsec.transport.demo_setup):
names, listen addresses, TLS only over TLS, each UA's settings (proxy,
host name, hosts map, keys, the wrong-peer-cert fault), with no socket."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import sipsec.transport.demo_setup as demo_setup
import sipsec.transport.demo_trapezoid as demo_trapezoid
from sipsec.transaction import Peer
from sipsec.transport.demo_setup import (
    AORS,
    DOMAINS,
    HOSTNAMES,
    DemoOptions,
    Pki,
    keep_media,
    listen_addresses,
    make_pki,
    tls_settings,
    ua_settings,
)
from sipsec.transport.demo_trapezoid import DemoRun

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("demo") / "ca", NOW)


def a_run(tmp_path: Path, pki: Pki, **options: object) -> DemoRun:
    run = DemoRun(DemoOptions(**options), tmp_path, pki=pki)  # type: ignore[arg-type]
    for port, (name, host) in enumerate(
        [*HOSTNAMES.items(), ("atlanta", "atlanta.example"), ("biloxi", "biloxi.example")],
        start=5060,
    ):
        run.addresses[name] = Peer(run.options.transport, "127.0.0.1", port, server_name=host)
    run.recording = tmp_path / "bob-recorded.wav"
    return run


def test_demo_trapezoid_re_exports_the_same_objects() -> None:
    for name in ("DOMAINS", "HOSTNAMES", "DemoOptions", "Node", "Pki", "make_pki"):
        assert getattr(demo_trapezoid, name) is getattr(demo_setup, name)
        assert name in demo_trapezoid.__all__


def test_the_names_agree() -> None:
    for name, aor in AORS.items():
        user, domain = aor.split("@")
        assert user == name and DOMAINS[name] == domain
        assert HOSTNAMES[name] == f"{name}.{domain}"


def test_udp_listens_on_tcp_too() -> None:
    # RFC 3261 §18.1.1: an S/MIME offer is over 1300 bytes and goes over TCP.
    assert listen_addresses("udp", 5070) == [("udp", "127.0.0.1", 5070), ("tcp", "127.0.0.1", 5070)]
    assert listen_addresses("tls", 5071) == [("tls", "127.0.0.1", 5071)]
    assert listen_addresses("tcp", 5072) == [("tcp", "127.0.0.1", 5072)]


def test_tls_settings_only_over_tls(tmp_path: Path, pki: Pki) -> None:
    tls = tls_settings(a_run(tmp_path, pki), pki.nodes["atlanta"])
    assert tls is not None and tls.certfile == pki.nodes["atlanta"].cert_path
    assert tls_settings(a_run(tmp_path, pki, transport="udp"), pki.nodes["atlanta"]) is None


def test_each_ua_is_set_up_for_its_own_domain(tmp_path: Path, pki: Pki) -> None:
    run = a_run(tmp_path, pki)
    passwords = {"alice": "pa", "bob": "pb"}
    alice = ua_settings(run, pki, "alice", passwords)
    bob = ua_settings(run, pki, "bob", passwords)
    assert alice.aor == "sips:alice@atlanta.example" and bob.aor == "sips:bob@biloxi.example"
    assert alice.proxy == "sips:atlanta.example" and bob.proxy == "sips:biloxi.example"
    assert (alice.username, alice.password) == ("alice", "pa")
    assert alice.contact_host == HOSTNAMES["alice"]
    assert alice.listen == ("127.0.0.1", run.addresses["alice"].port)
    assert dict(alice.hosts) == {
        "atlanta.example": [run.addresses["atlanta"]],
        HOSTNAMES["bob"]: [run.addresses["bob"]],
    }
    assert not alice.use_dns and alice.keys == "smime" and alice.key_lines == "k"
    assert alice.play == tmp_path / "alice.wav" and alice.record is None
    assert bob.play is None and bob.record == run.recording
    assert alice.peer_certificate is None
    assert alice.identity is not None
    assert alice.identity.certificate == pki.nodes["alice"].cert()
    sdes = ua_settings(a_run(tmp_path, pki, keys="sdes", smime=False), pki, "bob", passwords)
    assert sdes.keys == "sdes" and sdes.key_lines == "crypto"
    plain = ua_settings(a_run(tmp_path, pki, transport="udp"), pki, "alice", passwords)
    assert plain.proxy == "sip:atlanta.example;transport=udp" and plain.tls is None


def test_the_wrong_peer_cert_fault_encrypts_to_the_wrong_party(tmp_path: Path, pki: Pki) -> None:
    run = a_run(tmp_path, pki, fault="wrong-peer-cert")
    alice = ua_settings(run, pki, "alice", {"alice": "a", "bob": "b"})
    assert alice.peer_certificate == pki.nodes["biloxi"].cert()
    assert ua_settings(run, pki, "bob", {"alice": "a", "bob": "b"}).peer_certificate is None


def test_media_is_kept_by_name(tmp_path: Path, pki: Pki) -> None:
    run = a_run(tmp_path, pki)
    marker = object()
    keep_media(run, "bob")(marker)  # type: ignore[arg-type]
    assert run.media == {"bob": marker}
