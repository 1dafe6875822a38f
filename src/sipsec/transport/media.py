"""The asyncio media session: UDP sockets and one timer around a MediaStream.

All the protocol work is in :class:`sipsec.rtp.MediaStream` (sans-IO) and
SRTP in :class:`MediaCrypto`; this shell only binds the RTP (and, without
rtcp-mux, RTCP) socket, feeds datagrams in with ``now=loop.time()``, sends
what the stream queues, re-arms exactly one ``loop.call_at`` and writes the
audio played out to a WAV file.

Many sessions in one process can share a :class:`MediaDriver` instead
(:mod:`sipsec.transport.media_driver`, re-exported here): one
``loop.call_at`` for all of them, deadlines within ``resolution`` of each
other served by one wake-up.

A session runs 50 ticks and receives 50 packets a second: RTP goes from the
socket straight to the stream's RTP entry (``MediaStream.receive_rtp``), and
what a tick queues is protected one datagram at a time
(``MediaCrypto.protect_one``), with no list or call layer in between that
the general paths need (RTCP, a ``MediaCrypto`` whose ``protect`` is
overridden to see each batch).

The sockets are UdpPort objects (:mod:`sipsec.transport.media_socket`): on
asyncio's own loop a raw socket read with ``add_reader``, since the Python
datagram transport's wrapping of each ``sendto`` and each datagram received
costs more than the syscalls at hundreds of calls; on uvloop its native
transport (``bench/bench_media.py`` measures both).  On asyncio's loop a
driver's sessions are read by its :class:`MediaPoller` instead
(:mod:`sipsec.transport.media_poll`): one epoll, read at the ticks, each
datagram with its kernel arrival time.
"""

from __future__ import annotations

import asyncio
import random
import time
import wave
from pathlib import Path

from sipsec.rtp import MediaConfig, MediaEvent, MediaStream, read_wav
from sipsec.rtp.stream import CODECS, NTP_UNIX_OFFSET
from sipsec.transport.media_crypto import MediaCrypto
from sipsec.transport.media_driver import MediaDriver
from sipsec.transport.media_socket import UdpPort

__all__ = ["MediaDriver", "MediaSession"]

Address = tuple[str, int]
# While sending, played-out audio is taken (decoded, recorded) once this many
# frames are waiting: one decode call for several frames gives the same PCM
# (G.711 codes each octet alone), and the recording is written in 200 ms
# chunks.  Each take and decode call has a fixed cost (~8,000 instructions,
# cachegrind) beside its per-octet one: taking every 3 frames cost ~1,100
# more instructions per packet sent or received than every 10.
PLAYOUT_PERIOD = 10


class MediaSession:
    """One call's audio: :meth:`bind`, then :meth:`start` with the peer and keys."""

    def __init__(self, config: MediaConfig, driver: MediaDriver | None = None) -> None:
        self.config = config
        self._driver = driver
        self.stream: MediaStream | None = None
        self.crypto: MediaCrypto | None = None
        self.socket_errors = 0
        self.unstarted_drops = 0  # datagrams that came before start()
        self._rtp: UdpPort | None = None
        self._rtcp: UdpPort | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._recording: wave.Wave_write | None = None
        self._closed = False
        self._mux = config.rtcp_mux
        self._each = False
        self._sent = asyncio.Event()
        self._drained = asyncio.Event()
        self._events: asyncio.Queue[MediaEvent] = asyncio.Queue()

    @classmethod
    async def bind(
        cls,
        config: MediaConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        driver: MediaDriver | None = None,
    ) -> MediaSession:
        """Open the RTP socket (and RTCP on the next port unless rtcp-mux);
        with a ``driver``, its timer serves this session."""
        session = cls(config, driver)
        poller = driver.poller if driver is not None else None
        rtp = session._rtp = await UdpPort.open(
            host,
            port,
            session._rtp_received,
            session._socket_error,
            poller=poller,
            on_arrival=session._rtp_arrived,
        )
        if not config.rtcp_mux:
            try:
                session._rtcp = await UdpPort.open(
                    host,
                    rtp.address[1] + 1,
                    session._rtcp_received,
                    session._socket_error,
                    poller=poller,
                    on_arrival=session._rtcp_arrived,
                )
            except OSError:
                rtp.close()
                raise
        return session

    @property
    def driver(self) -> MediaDriver | None:
        """The driver whose timer (and poller) serves this session, if any."""
        return self._driver

    @property
    def local_rtp(self) -> Address:
        assert self._rtp is not None
        return self._rtp.address

    @property
    def local_rtcp(self) -> Address:
        if self._rtcp is None:
            return self.local_rtp
        return self._rtcp.address

    def start(
        self,
        remote_rtp: Address | None,
        crypto: MediaCrypto,
        *,
        audio: bytes | str | Path = b"",
        record: str | Path | None = None,
        remote_rtcp: Address | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Send ``audio`` to the peer and record what it sends to ``record``.

        ``audio`` is 8 kHz 16-bit PCM, or the path of a WAV file (any PCM
        format and rate: it is converted here, blocking the loop for as long
        as resampling takes).
        """
        if not isinstance(audio, bytes):
            audio = read_wav(audio)
        # Build the codec tables before the clock starts, or the first packets
        # would leave late by however long that takes.
        codec = CODECS.get(self.config.payload_type)
        if codec is not None:  # else MediaStream says what is wrong
            codec[0](b"")
        now = self._loop.time()
        self.crypto = crypto
        # A subclass that overrides protect (ua_media's capture) sees every
        # batch; otherwise each datagram is protected on its own.
        self._each = type(crypto).protect is MediaCrypto.protect
        self.stream = MediaStream(
            self.config,
            now=now,
            remote_rtp=remote_rtp,
            remote_rtcp=remote_rtcp,
            audio=audio,
            rng=rng,
            ntp_offset=time.time() - now + NTP_UNIX_OFFSET,
        )
        if record is not None:
            self._recording = wave.open(str(record), "wb")  # noqa: SIM115 - closed by close()
            self._recording.setnchannels(1)
            self._recording.setsampwidth(2)
            self._recording.setframerate(self.config.clock_rate)
        self._service(now)

    async def wait_sent(self) -> None:
        """Until the whole audio has been sent."""
        await self._sent.wait()

    async def wait_drained(self) -> None:
        """Until sending is over and the jitter buffer has played everything."""
        await self._drained.wait()

    async def next_event(self) -> MediaEvent:
        return await self._events.get()

    def close(self, reason: str = "") -> None:
        """Send RTCP BYE, close the sockets and the recording."""
        stream = self.stream
        if stream is not None:
            now = self._loop.time()
            stream.handle_timer(now)
            stream.close(now, reason)
            self._flush()
            if self._recording is not None:
                self._recording.writeframes(stream.take_audio())
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = None
        self._closed = True
        for port in (self._rtp, self._rtcp):
            if port is not None:
                port.close()
        if self._recording is not None:
            self._recording.close()
            self._recording = None

    # -- the shell: datagrams in and out, one timer ------------------------

    def _socket_error(self, exc: OSError) -> None:
        # ICMP port unreachable and the like: the peer is not there (yet).
        self.socket_errors += 1

    def _rtcp_received(self, data: bytes, addr: Address) -> None:
        self._rtcp_in(data, addr, self._loop.time())

    def _rtp_received(self, data: bytes, addr: Address) -> None:
        """From the socket's own reader (or native transport), timed on reading."""
        # RFC 5761 §4: with rtcp-mux, octet 1 of 192-223 is RTCP (is_rtcp, inline).
        if self._mux and len(data) > 1 and 192 <= data[1] <= 223:
            self._rtcp_in(data, addr, self._loop.time())
            return
        self._rtp_in(data, addr, self._loop.time())

    def _rtcp_arrived(self, data: bytes, addr: Address, arrival: float) -> None:
        self._rtcp_in(data, addr, arrival)

    def _rtp_arrived(self, data: bytes, addr: Address, arrival: float) -> None:
        """From the driver's poller, with the time the datagram came (not was read)."""
        if self._mux and len(data) > 1 and 192 <= data[1] <= 223:
            self._rtcp_in(data, addr, arrival)
            return
        self._rtp_in(data, addr, arrival)

    def _rtp_in(self, data: bytes, addr: Address, now: float) -> None:
        """One RTP datagram (50 a second a call), straight to the stream's RTP
        entry; ``now`` is when it arrived, which the §6.4.1 jitter takes."""
        stream, crypto = self.stream, self.crypto
        if stream is None or crypto is None:
            self.unstarted_drops += 1  # not started: nothing is expected yet
            return
        plain = crypto.unprotect(data, False)
        if plain is None:
            return
        stream.receive_rtp(plain, addr, now)
        if stream.sending and self._timer_at is not None:
            # While sending, what arrives changes neither what is to be sent
            # nor when to wake (playout rides on the send ticks, see
            # MediaStream.get_timer): only events are left to pass on. This
            # runs 50 times a second per call, so the rest of _service waits.
            events = stream.events
            while events:
                self._events.put_nowait(events.popleft())
            return
        self._service(now)

    def _rtcp_in(self, data: bytes, addr: Address, now: float) -> None:
        """One RTCP datagram (own port or rtcp-mux): SRTCP off, into the stream.

        ``now`` is when it arrived: the round trip (LSR/DLSR) takes it.
        """
        stream, crypto = self.stream, self.crypto
        if stream is None or crypto is None:
            self.unstarted_drops += 1  # not started: nothing is expected yet
            return
        plain = crypto.unprotect(data, True)
        if plain is None:
            return
        stream.receive(plain, addr, now, True)
        if stream.sending and self._timer_at is not None:
            # See _rtp_in: only events are left to pass on.
            while (event := stream.next_event()) is not None:
                self._events.put_nowait(event)
            return
        self._service(now)

    def _on_timer(self, due: float | None = None) -> None:
        self._timer = None
        self._timer_at = None
        now = self._loop.time() if due is None else due  # the driver passes max(now, deadline)
        stream = self.stream
        if stream is None or self._closed:
            return
        stream.handle_timer(now)
        self._service(now)

    def _service(self, now: float) -> None:
        stream = self.stream
        assert stream is not None
        datagrams = stream.datagrams_to_send()
        if datagrams:
            self._send(datagrams)
        events = stream.events
        while events:
            self._events.put_nowait(events.popleft())
        sending = stream.sending
        if not sending or stream.pending_audio >= PLAYOUT_PERIOD:
            audio = stream.take_audio()  # played out: decoded whether recorded or not
            if audio and self._recording is not None:
                self._recording.writeframes(audio)
        if not sending:
            self._sent.set()
            if not len(stream.jitter):
                self._drained.set()
        deadline = stream.get_timer()
        if deadline is None:
            return
        if self._timer_at is not None and self._timer_at <= deadline:
            return  # the armed timer comes first; it re-arms itself
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        if self._driver is not None:
            self._driver.schedule(self, deadline)
        else:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _flush(self) -> None:
        stream = self.stream
        if stream is not None:
            datagrams = stream.datagrams_to_send()
            if datagrams:
                self._send(datagrams)

    def _send(self, datagrams: list[tuple[bytes, Address, bool]]) -> None:
        """Protect and send what the stream queued, in order."""
        crypto = self.crypto
        if crypto is None:
            return
        rtp_port, rtcp_port = self._rtp, self._rtcp
        if self._each:
            # One packet a tick, most ticks: no list in between.
            protect = crypto.protect_one
            for data, addr, rtcp in datagrams:
                sealed = protect(data, rtcp)
                port = rtcp_port if rtcp and rtcp_port is not None else rtp_port
                if sealed is not None and port is not None:
                    port.send(sealed, addr)
            return
        for data, addr, rtcp in crypto.protect(datagrams):
            port = rtcp_port if rtcp and rtcp_port is not None else rtp_port
            if port is not None:
                port.send(data, addr)
