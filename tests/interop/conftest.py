"""Interop tests against real SIP peers nobody here wrote: Kamailio and baresip.

Debian packages: ``kamailio``, ``kamailio-tls-modules``, ``kamailio-sqlite-modules``
and ``baresip-core`` (or the ``baresip`` metapackage); without them the tests
skip with the missing package named. Run with ``tools/test tests/interop -q``.

- ``peers.py``: processes, ports, readiness, log collection;
- ``kamailio_peer.py``, ``baresip_peer.py``, ``sipsec_peer.py``: one peer each;
- ``kamailio/`` and ``baresip/``: the config templates they render;
- ``_helpers.py``: what the tests do and check more than once.

Certificates come from the suite's shared PKI (the ``pki`` fixture of
``tests/conftest.py``); users and domains beyond its four are issued by the
same root on demand. The fixtures here: Kamailio for biloxi.example, baresip
UAs, and each test gets a :class:`~.peers.PeerGroup` (``peers``): whatever the test
starts through it is stopped by PID at teardown, and when the test fails the
logs of every peer (and the output of every ``sipsec`` command it ran) are
attached to the report.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .._pki import Pki
from .baresip_peer import Baresip, BaresipAccount, BaresipFactory
from .kamailio_peer import KAMAILIO, Kamailio
from .peers import DOMAIN, USERS, PeerGroup


def _missing_peer() -> str | None:
    if not KAMAILIO.exists():
        return "kamailio is not installed (Debian: kamailio)"
    for module, package in (
        ("tls.so", "kamailio-tls-modules"),
        ("db_sqlite.so", "kamailio-sqlite-modules"),
    ):
        if not any(Path("/usr/lib").glob(f"*/kamailio/modules/{module}")):
            return f"Kamailio module {module} is missing (Debian: {package})"
    if shutil.which("baresip") is None:
        return "baresip is not installed (Debian: baresip)"
    return None


@pytest.fixture(autouse=True)
def _require_peers() -> None:
    reason = _missing_peer()
    if reason is not None:
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    group = getattr(item, "funcargs", {}).get("peers")
    if isinstance(group, PeerGroup):
        for name, text in group.logs():
            report.sections.append((f"log of {name}", text))


@pytest.fixture
def peers() -> Iterator[PeerGroup]:
    group = PeerGroup()
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def kamailio(peers: PeerGroup, pki: Pki, tmp_path: Path) -> Kamailio:
    """Kamailio serving biloxi.example on UDP, TCP and TLS, Digest MD5 from SQLite."""
    server = peers.add(Kamailio(tmp_path / "kamailio", pki, DOMAIN, USERS))
    server.start()
    return server


@pytest.fixture
def baresip(peers: PeerGroup, pki: Pki, tmp_path: Path) -> BaresipFactory:
    """Start a baresip for ``user`` (of ``domain``, biloxi.example by default) that
    registers through ``outbound`` with its password from :data:`USERS`."""

    def start(
        user: str,
        outbound: str,
        *,
        domain: str = DOMAIN,
        password: str | None = None,
        transport: str = "udp",
        mediaenc: str | None = None,
    ) -> Baresip:
        account = BaresipAccount(
            f"sip:{user}@{domain}",
            USERS[user] if password is None else password,
            outbound,
            mediaenc=mediaenc,
            transport=transport,
        )
        ua = peers.add(Baresip(tmp_path / f"baresip-{user}", account, ca_file=pki.ca))
        ua.start()
        return ua

    return start
