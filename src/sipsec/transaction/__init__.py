"""RFC 3261 §17 transactions, with RFC 6026's Accepted state (sans-IO).

Shaped like aioquic's connection::

    layer = TransactionLayer(TimerConfig(t1=0.5, t2=4.0, t4=5.0))
    tid = layer.send_request(invite, ("192.0.2.4", 5060), now)
    for message_bytes, address in layer.datagrams_to_send(): ...
    layer.receive(parse_message(data), address, now)   # parsed by the transport
    while (event := layer.next_event()) is not None: ...
    deadline = layer.get_timer(); ...; layer.handle_timer(deadline)

A server TU answers with ``layer.send_response(event.transaction_id, response,
now)``; ``layer.cancel(tid, now)`` sends the §9.1 CANCEL (after a 1xx);
``layer.send_stateless(ack, address)`` carries the ACK for a 2xx;
``layer.terminate(tid)`` abandons what the figures give no timer.

The four state machines are transition tables in :mod:`.tables`, one per
figure (5–8); :mod:`.matching` holds the §17.1.3 / §17.2.3 / §9.2 rules and
builds the non-2xx ACK (§17.1.1.3) and the CANCEL (§9.1).
"""

from __future__ import annotations

from .events import (
    CancelReceived,
    Event,
    NetworkAddress,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from .layer import TransactionLayer
from .matching import build_ack, build_cancel
from .peer import Peer, TransportName
from .tables import Kind, State
from .timers import Timer, TimerConfig, is_reliable
from .transaction import Outgoing
from .user import TransactionUser

__all__ = [
    "CancelReceived",
    "Event",
    "Kind",
    "NetworkAddress",
    "Outgoing",
    "Peer",
    "RequestReceived",
    "ResponseReceived",
    "State",
    "Timer",
    "TimerConfig",
    "TransactionLayer",
    "TransactionTerminated",
    "TransactionTimedOut",
    "TransactionUser",
    "TransportErrorOccurred",
    "TransportName",
    "build_ack",
    "build_cancel",
    "is_reliable",
]
