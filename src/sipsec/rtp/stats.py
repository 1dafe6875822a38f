"""Reception statistics of one source, RFC 3550 Appendix A.

Sequence number tracking with wrap-around and resynchronisation (A.1),
expected / lost / fraction lost (A.3), interarrival jitter (§6.4.1, A.8),
duplicate detection with a sliding window, and the LSR/DLSR bookkeeping of
§6.4.1 that lets the other side measure the round-trip time.
"""

from __future__ import annotations

from sipsec.rtp.rtcp import ReportBlock

__all__ = ["JITTER_JUMP", "WINDOW_MASK", "ReceptionStats", "ntp_middle", "round_trip_time"]

_SEQ_MOD = 1 << 16
_MAX_DROPOUT = 3000  # A.1: a jump this far ahead is still the same stream
_MAX_MISORDER = 100  # A.1: this far behind is a late packet, further a restart
_WINDOW = 1024  # duplicate window, in sequence numbers
WINDOW_MASK = (1 << _WINDOW) - 1
# A.8: a transit-time difference this large is a timestamp wrap or jump, not jitter.
JITTER_JUMP = 1 << 31


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp (LSR, §6.4.1)."""
    return ntp >> 16 & 0xFFFFFFFF


def round_trip_time(block: ReportBlock, ntp_now: int) -> float | None:
    """§6.4.1: RTT = A − LSR − DLSR, in seconds; None before any SR was echoed."""
    if block.lsr == 0:
        return None
    rtt = (ntp_middle(ntp_now) - block.lsr - block.dlsr) & 0xFFFFFFFF
    if rtt & 0x80000000:  # clocks stepped, or a forged report: not a delay
        return None
    return rtt / 65536


class ReceptionStats:
    """Counters for one SSRC.  ``update`` returns the extended sequence number
    of an accepted packet, or None for a duplicate or a resync candidate."""

    def __init__(self, ssrc: int, sequence: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._init(sequence)
        self.duplicates = 0
        self.jitter = 0.0  # timestamp units, A.8
        self._transit: float | None = None
        self._expected_prior = 0
        self._received_prior = 0
        self.last_sr_ntp = 0  # middle 32 bits of the last SR's NTP time
        self.last_sr_arrival: float | None = None

    def _init(self, sequence: int) -> None:
        self.base_seq = sequence
        self.max_seq = sequence
        self.cycles = 0
        self.received = 0  # unique packets accepted
        self._bad_seq = _SEQ_MOD + 1
        self._seen = 0  # bit i set: extended_max - i was received

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Packets expected and never received (A.3; duplicates not counted as
        received here, so this never goes negative)."""
        return max(0, self.expected - self.received)

    def update(self, sequence: int, timestamp: int, arrival: float) -> int | None:
        """Account one packet; the A.1 ``update_seq`` plus duplicate detection."""
        max_seq = self.max_seq
        delta = (sequence - max_seq) % _SEQ_MOD
        if self.received == 0 and sequence == max_seq:
            extended = self.cycles + max_seq
        elif 0 < delta < _MAX_DROPOUT:
            if sequence < max_seq:
                self.cycles += _SEQ_MOD  # wrapped around
            self._seen = (self._seen << delta) & WINDOW_MASK
            self.max_seq = sequence
            extended = self.cycles + sequence
        elif delta == 0 or delta > _SEQ_MOD - _MAX_MISORDER:
            behind = (_SEQ_MOD - delta) % _SEQ_MOD
            extended = self.extended_max - behind
            if behind >= _WINDOW or extended < self.base_seq:
                return None  # older than anything we can tell apart
        elif sequence == self._bad_seq:
            # Two sequential packets after a big jump: the sender restarted (A.1).
            self._init(sequence)
            extended = self.extended_max
        else:
            self._bad_seq = (sequence + 1) % _SEQ_MOD
            return None
        bit = 1 << (self.cycles + self.max_seq - extended)
        if self._seen & bit:
            self.duplicates += 1
            return None
        self._seen |= bit
        self.received += 1
        # A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16.
        transit = arrival * self.clock_rate - timestamp
        previous = self._transit
        if previous is not None:
            d = abs(transit - previous)
            if d < JITTER_JUMP:  # not a timestamp wrap or jump
                self.jitter += (d - self.jitter) / 16
        self._transit = transit
        return extended

    def sender_report_received(self, ntp_timestamp: int, now: float) -> None:
        self.last_sr_ntp = ntp_middle(ntp_timestamp)
        self.last_sr_arrival = now

    def report_block(self, now: float) -> ReportBlock:
        """The §6.4.1 report block for this source, and start a new interval."""
        expected = self.expected
        interval_expected = expected - self._expected_prior
        interval_received = self.received + self.duplicates - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received + self.duplicates
        interval_lost = interval_expected - interval_received
        fraction = 0
        if interval_expected > 0 and interval_lost > 0:
            fraction = (interval_lost << 8) // interval_expected
        dlsr = 0
        if self.last_sr_arrival is not None:
            dlsr = round((now - self.last_sr_arrival) * 65536) & 0xFFFFFFFF
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            # A.3 counts duplicates as received, so this may go negative.
            cumulative_lost=expected - self.received - self.duplicates,
            highest_sequence=self.extended_max & 0xFFFFFFFF,
            jitter=int(self.jitter),
            lsr=self.last_sr_ntp,
            dlsr=dlsr,
        )
