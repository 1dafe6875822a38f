"""The fast relay's transaction record (RFC 3261 §17, RFC 6026).

A :class:`RelayTxn` is one server transaction and the single client
transaction the relay forwarded it on (§16.6 with one target): both state
machines of figures 5–8, the bytes each side retransmits, and the named
timers that are running; :mod:`.relay_timers` queues them.
"""

from __future__ import annotations

__all__ = ["NO_PARTIES", "Address", "ClientState", "RelayTxn", "ServerState"]

Address = tuple[str, int]
NO_PARTIES = (b"-", b"-")  # a transaction's From and To for the log, before or after


class ServerState:
    """Figures 7 and 8 (RFC 6026's Accepted); Trying and Proceeding are one here."""

    PROCEEDING = 0
    COMPLETED = 1  # a non-2xx final sent (INVITE: G and H run; non-INVITE: J)
    CONFIRMED = 2  # its ACK came (I runs)
    ACCEPTED = 3  # a 2xx sent (L runs)
    DONE = 4


class ClientState:
    """Figures 5 and 6 (RFC 6026's Accepted)."""

    CALLING = 0  # INVITE: A and B run; non-INVITE (Trying): E and F
    PROCEEDING = 1  # a 1xx came (non-INVITE: E at T2 and F keep running)
    COMPLETED = 2  # a final came (INVITE non-2xx: D; non-INVITE: K)
    ACCEPTED = 3  # a 2xx to the INVITE came (M runs)
    DONE = 4


class CancelState:
    NONE = 0
    PENDING = 1  # asked for before any 1xx: §9.1 "MUST NOT" send it yet
    SENT = 2
    DONE = 3


class RelayTxn:
    """One relayed request: the server side and its one branch."""

    __slots__ = (
        "ack", "below", "branch", "c_state", "cancel", "cancel_interval", "cancel_out",
        "cancel_reply", "cancelled", "due", "echo", "final", "g_interval", "gone", "inbound",
        "interval", "invite", "key", "last", "method", "out", "parties", "peer", "s_state",
        "source", "started", "timers", "to_seen", "upstream",
    )  # fmt: skip

    def __init__(
        self,
        key: tuple[bytes, bytes, bytes],
        method: str,
        upstream: Address,
        inbound: tuple[bytes, list[bytes], bytes] | None,
        now: float,
    ) -> None:
        self.key = key
        self.method = method
        self.invite = method == "INVITE"
        self.upstream = upstream
        # the request as received, its top Via stamped (§18.2.1): start line,
        # header lines, body — joined only for a stand-in final (rare)
        self.inbound = inbound
        self.started = now
        self.source = ""
        # the From and To URIs for the log record, as the scanner read them
        # (its memo's objects: no copy per transaction), decoded only then
        self.parties: tuple[bytes, bytes] = NO_PARTIES
        self.echo: tuple[bytes, bytes, bytes] = (b"", b"", b"")  # From, To, Call-ID as sent
        # the To of a response that echoed them (its tag checked); CR: no value is that
        self.to_seen = b"\r"
        self.s_state = ServerState.PROCEEDING
        self.last: bytes | None = None  # what a retransmitted request gets again
        self.final: int | None = None
        self.g_interval = 0.0
        self.c_state = ClientState.CALLING
        self.branch = b""
        self.out = b""  # the request as forwarded
        self.below = b""  # its Via line below ours, as forwarded (a response copies it)
        self.peer: Address = ("", 0)
        self.interval = 0.0
        self.ack: bytes | None = None  # our ACK for a non-2xx (§17.1.1.3)
        self.cancel = CancelState.NONE
        self.cancelled = False
        self.cancel_out: bytes | None = None
        self.cancel_interval = 0.0
        self.cancel_reply: tuple[bytes, Address] | None = None  # our 200 to their CANCEL
        self.timers: dict[str, float] = {}
        self.due: float | None = None
        self.gone = False

    @property
    def client_pending(self) -> bool:
        return self.c_state <= ClientState.PROCEEDING

    @property
    def finished(self) -> bool:
        """Nothing left to absorb or retransmit on either side."""
        return (
            self.s_state == ServerState.DONE
            and self.c_state == ClientState.DONE
            and self.cancel != CancelState.SENT
            and self.cancel_reply is None
        )

    def __repr__(self) -> str:
        return f"RelayTxn({self.method} {self.branch.decode()} s={self.s_state} c={self.c_state})"
