"""The user agent core (RFC 3261 §8, §10, §12–§15, §22), sans-IO.

::

    ua = UserAgent(UaConfig("sip:alice@atlanta.example", contact={"udp": ("192.0.2.1", 5060)},
                            outbound_proxy=Peer("udp", "192.0.2.10", 5060), password=...))
    ua.register(now)
    call = ua.invite("sip:bob@biloxi.example", now, body=sdp, content_type="application/sdp")
    while (event := ua.next_ua_event()) is not None: ...   # Registered, CallAnswered …
    ua.bye(call, now)

A :class:`UserAgent` is a :class:`~sipsec.transaction.TransactionUser`: its
driver (``sipsec.transport.endpoint``) feeds it transaction events, fires its
timer and resolves host names. API: ``register``, ``unregister``,
``invite``, ``ring``, ``answer``, ``reject``, ``cancel``, ``bye``,
``reinvite``, ``options``, ``next_ua_event``; ``stats`` counts what
happened.

Events (:mod:`sipsec.ua.events`): ``Registered``, ``RegistrationFailed``,
``Unregistered``, ``IncomingCall``, ``CallRinging``, ``CallAnswered``,
``CallConfirmed``, ``CallFailed``, ``CallEnded``, ``ReinviteReceived``,
``ReinviteAnswered``, ``ReinviteFailed``, ``OptionsAnswered``,
``AuthenticationFailed``. Every
call ends with exactly one ``CallFailed`` or ``CallEnded``.

Time comes in as ``now`` on every call; randomness for the §14.1 glare
delay and the §14.2 Retry-After from ``UserAgent(..., rng=random.Random(…))``,
cnonces from ``random_bytes``; tags, Call-IDs and branches from
:mod:`sipsec.sip.ids`. Choices: a binding is refreshed after
``max(expires/2, expires - 64*T1)`` (see :mod:`.registration`); a BYE asked
for before the ACK of our 2xx waits for it (§15); the 2xx is resent T1, 2T1
… T2 apart and, without an ACK after 64*T1, the call is ended with a BYE
(§13.3.1.4); while a call rings, its last provisional is resent every
``UaConfig.provisional_interval`` (60 s, §13.3.1.1); a superseded
REGISTER's answer is ignored.

Modules: ``config`` (:class:`UaConfig`), ``call`` (:class:`Call`),
``events``, ``registration`` (REGISTER state, refresh timing),
``addressing`` (next hop, Via, Contact), ``base`` (sending, resolution,
timers), ``registering`` (REGISTER client), ``uac`` (INVITE, ACK, CANCEL,
BYE, Digest retry), ``reinvite`` (§14.1 and glare), ``options`` (OPTIONS
as the client, §11.1), ``answering`` (an incoming INVITE up to its ACK,
§13.3), ``uas`` (requests we receive), ``core`` (:class:`UserAgent`, the
event dispatch).
"""

from __future__ import annotations

from .call import Call, CallState
from .config import ALLOWED_METHODS, UaConfig
from .core import UserAgent
from .events import (
    AuthenticationFailed,
    CallAnswered,
    CallConfirmed,
    CallEnded,
    CallFailed,
    CallRinging,
    IncomingCall,
    OptionsAnswered,
    Registered,
    RegistrationFailed,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
    UaEvent,
    Unregistered,
)
from .registration import Registration, RegistrationState, refresh_delay

__all__ = [
    "ALLOWED_METHODS",
    "AuthenticationFailed",
    "Call",
    "CallAnswered",
    "CallConfirmed",
    "CallEnded",
    "CallFailed",
    "CallRinging",
    "CallState",
    "IncomingCall",
    "OptionsAnswered",
    "Registered",
    "Registration",
    "RegistrationFailed",
    "RegistrationState",
    "ReinviteAnswered",
    "ReinviteFailed",
    "ReinviteReceived",
    "UaConfig",
    "UaEvent",
    "Unregistered",
    "UserAgent",
    "refresh_delay",
]
