"""Stateless nonces and the nonce-count replay table."""

from __future__ import annotations

import base64

import pytest

from sipsec.auth import NonceCounts, NonceFactory, NonceState

SECRET = b"s" * 32
T0 = 1_800_000_000.0


def factory(**kw: object) -> NonceFactory:
    return NonceFactory(SECRET, "atlanta.example", **kw)  # type: ignore[arg-type]


def test_fresh_nonce_is_valid_then_expires() -> None:
    f = factory(lifetime=30.0)
    nonce = f.mint(T0)
    assert len(nonce) == 44 and "=" not in nonce
    assert f.check(nonce, T0) is NonceState.VALID
    assert f.check(nonce, T0 + 30) is NonceState.VALID
    assert f.check(nonce, T0 + 30.002) is NonceState.EXPIRED
    assert f.issued_at(nonce) == pytest.approx(T0)


def test_nonces_differ_even_in_the_same_millisecond() -> None:
    f = factory()
    assert len({f.mint(T0) for _ in range(50)}) == 50


def test_nonce_from_the_future_is_refused() -> None:
    f = factory()
    assert f.check(f.mint(T0 + 4), T0) is NonceState.VALID  # small clock skew between processes
    assert f.check(f.mint(T0 + 60), T0) is NonceState.INVALID


@pytest.mark.parametrize(
    "other",
    [
        NonceFactory(b"t" * 32, "atlanta.example"),  # another secret
        NonceFactory(SECRET, "biloxi.example"),  # another realm
    ],
)
def test_nonce_is_bound_to_secret_and_realm(other: NonceFactory) -> None:
    assert other.check(factory().mint(T0), T0) is NonceState.INVALID


def test_nonce_is_bound_to_extra_data() -> None:
    f = factory()
    nonce = f.mint(T0, b"10.0.0.1")
    assert f.check(nonce, T0, b"10.0.0.1") is NonceState.VALID
    assert f.check(nonce, T0, b"10.0.0.2") is NonceState.INVALID
    assert f.check(nonce, T0) is NonceState.INVALID


def test_every_bit_flip_is_detected() -> None:
    f = factory()
    raw = bytearray(base64.b64decode(f.mint(T0)))
    for index in range(len(raw)):
        for bit in range(8):
            raw[index] ^= 1 << bit
            assert f.check(base64.b64encode(raw).decode(), T0) is NonceState.INVALID
            raw[index] ^= 1 << bit


@pytest.mark.parametrize("nonce", ["", "x" * 44, "é" * 44, "A" * 43 + "=", "AAAA" * 100])
def test_garbage_is_invalid(nonce: str) -> None:
    assert factory().check(nonce, T0) is NonceState.INVALID


def test_counts_accept_each_value_once_within_the_window() -> None:
    counts = NonceCounts(lifetime=60, window=4)
    assert counts.check_and_record("n", T0, 1, T0)
    assert not counts.check_and_record("n", T0, 1, T0)
    assert counts.check_and_record("n", T0, 5, T0)
    assert counts.check_and_record("n", T0, 3, T0)  # late, still inside the window
    assert not counts.check_and_record("n", T0, 3, T0)
    assert not counts.check_and_record("n", T0, 1, T0)  # fell out of the window
    assert counts.check_and_record("n", T0, 0xFFFFFFFF, T0)  # a huge jump costs nothing
    assert not counts.check_and_record("n", T0, 0xFFFFFFFF, T0)
    assert not counts.check_and_record("m", T0, 0, T0)  # nc starts at 1


def test_counts_forget_expired_nonces() -> None:
    counts = NonceCounts(lifetime=60)
    for i in range(10):
        counts.check_and_record(f"n{i}", T0 + i, 1, T0 + i)
    assert len(counts) == 10
    counts.check_and_record("late", T0 + 65, 1, T0 + 65)
    assert len(counts) == 6  # n0..n4 expired (issued more than 60 s before); n5..n9 + late


def test_full_table_refuses_forgotten_nonces_rather_than_accept_a_replay() -> None:
    counts = NonceCounts(lifetime=600, capacity=3)
    for i in range(3):
        assert counts.check_and_record(f"n{i}", T0 + i, 1, T0 + i)
    assert counts.check_and_record("n3", T0 + 3, 1, T0 + 3)  # evicts n0
    assert len(counts) == 3
    # n0 is still a live nonce, but its counts are forgotten: refuse (stale), never accept.
    assert not counts.check_and_record("n0", T0, 1, T0 + 4)
    assert not counts.check_and_record("n0", T0, 2, T0 + 4)
    # A nonce issued after the horizon is fine.
    assert counts.check_and_record("n4", T0 + 4, 1, T0 + 4)


def test_counts_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        NonceCounts(lifetime=1, capacity=0)


def test_an_older_nonce_than_the_one_just_evicted_is_refused() -> None:
    counts = NonceCounts(lifetime=600, capacity=1)
    assert counts.check_and_record("newer", T0 + 5, 1, T0 + 5)
    # Making room evicts "newer" (issued T0+5): "older" falls under the horizon.
    assert not counts.check_and_record("older", T0, 1, T0 + 6)
