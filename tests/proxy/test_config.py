"""ProxyConfig: checked once, normalised."""

from __future__ import annotations

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.proxy import ProxyConfig


def test_defaults_and_normalisation() -> None:
    config = ProxyConfig("Atlanta.Example.", algorithms=("md5", "sha-256"), qops=("AUTH",))
    assert config.domain == "atlanta.example"
    assert config.algorithms == ("MD5", "SHA-256")
    assert [a.value for a in config.digest_algorithms] == ["MD5", "SHA-256"]
    assert [q.value for q in config.digest_qops] == ["auth"]
    assert config.record_route and config.authenticate_invites and config.timer_c == 180.0


@pytest.mark.parametrize(
    "changes",
    [
        {"domain": ""},
        {"domain": "a b"},
        {"algorithms": ("SHA-1",)},
        {"algorithms": ()},
        {"qops": ("auth-conf",)},
        {"local": {"sctp": ("127.0.0.1", 5060)}},
        {"local": {"udp": ("127.0.0.1", 0)}},
        {"timer_c": 0},
        {"max_contexts": 0},
    ],
)
def test_nonsense_is_refused(changes: dict[str, object]) -> None:
    options: dict[str, object] = {"domain": "atlanta.example", **changes}
    domain = options.pop("domain")
    with pytest.raises(LocalProtocolError):
        ProxyConfig(domain, **options)  # type: ignore[arg-type]


def test_default_transaction_cap_lets_one_cores_relay_rate_through() -> None:
    """A relayed call leaves two transactions for 64*T1 (L and J): the
    default cap must hold them for 3,000 calls/s (one core's relay rate
    is about 2,500), where 50,000 stopped the fast relay at 780."""
    config = ProxyConfig("atlanta.example")
    lingering = 64 * config.timers.t1
    assert config.max_transactions >= 2 * lingering * 3_000
