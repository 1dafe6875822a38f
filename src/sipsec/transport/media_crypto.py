"""SRTP between a media stream and its socket, sans-IO.

:class:`MediaCrypto` protects what a :class:`sipsec.rtp.MediaStream` sends and
unprotects what arrives before the stream sees it.  It lives in
``transport`` because ``rtp`` sits below ``srtp`` in the layer order: the
stream never knows whether it is encrypted.

A packet that fails — a forged or corrupted tag, a replay, garbage, an
unknown MKI — is dropped and counted, never raised: on a media port any
host on the network can send anything.  Plain RTP is never a default; it
takes :meth:`MediaCrypto.plain`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipsec.srtp import SrtpAuthError, SrtpContext, SrtpError, SrtpReplayError

__all__ = ["CryptoCounters", "MediaCrypto"]

Address = tuple[str, int]
Datagram = tuple[bytes, Address, bool]


@dataclass(slots=True)
class CryptoCounters:
    auth_failed: int = 0
    replayed: int = 0
    other: int = 0  # malformed, unknown MKI, key exhausted
    protect_failed: int = 0


class MediaCrypto:
    """The send and receive SRTP contexts of one stream, or explicitly none."""

    def __init__(self, send: SrtpContext | None, receive: SrtpContext | None) -> None:
        if (send is None) != (receive is None):
            raise ValueError("give both SRTP contexts, or use MediaCrypto.plain()")
        self._send = send
        self._receive = receive
        self.counters = CryptoCounters()

    @classmethod
    def srtp(
        cls, profile: str, send_key: bytes, receive_key: bytes, *, replay_window: int = 128
    ) -> MediaCrypto:
        """Contexts from an RFC 4568 suite name and master key || salt each way."""
        return cls(
            SrtpContext(profile, send_key, replay_window=replay_window),
            SrtpContext(profile, receive_key, replay_window=replay_window),
        )

    @classmethod
    def plain(cls) -> MediaCrypto:
        """No protection at all: only for tests and networks that add their own."""
        return cls(None, None)

    @property
    def secure(self) -> bool:
        return self._send is not None

    def __repr__(self) -> str:
        return f"MediaCrypto(secure={self.secure})"

    def protect(self, datagrams: list[Datagram]) -> list[Datagram]:
        """Protect ``(datagram, address, is_rtcp)`` items, in order."""
        context = self._send
        if context is None:
            return datagrams
        out: list[Datagram] = []
        protect = context.protect
        for data, addr, rtcp in datagrams:
            try:
                out.append((context.protect_rtcp(data) if rtcp else protect(data), addr, rtcp))
            except SrtpError:
                # Only a key past its lifetime gets here; the packet is not sent.
                self.counters.protect_failed += 1
        return out

    def protect_one(self, data: bytes, rtcp: bool) -> bytes | None:
        """:meth:`protect` for one datagram: the protected datagram, or None
        when it may not be sent (counted).  A session sends through this
        (one packet a tick, no list) unless a subclass overrides ``protect``."""
        context = self._send
        if context is None:
            return data
        try:
            return context.protect_rtcp(data) if rtcp else context.protect(data)
        except SrtpError:
            self.counters.protect_failed += 1
        return None

    def unprotect(self, data: bytes, rtcp: bool) -> bytes | None:
        """The plain packet, or None when it was refused (and counted)."""
        context = self._receive
        if context is None:
            return data
        try:
            return context.unprotect_rtcp(data) if rtcp else context.unprotect(data)
        except SrtpAuthError:
            self.counters.auth_failed += 1
        except SrtpReplayError:
            self.counters.replayed += 1
        except SrtpError:
            self.counters.other += 1
        return None
