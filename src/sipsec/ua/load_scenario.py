"""Sans-IO call generator scenarios, in the spirit of SIPp's built-in ``uac``
and ``uas``: INVITE–100–180–200–ACK–BYE–200 (RFC 3261 §13, §15, §17).

Lean on purpose, like SIPp: no transaction layer, no dialog objects, no full
parse. Each call lives in one slot (a small ``__slots__`` object, reused
through a free list) found by its Call-ID; datagrams are classified by a
byte scanner (:mod:`~sipsec.ua.load_scan`: status or method, Call-ID, CSeq
method, To tag, top Via branch) and messages are built from byte templates.
Wrong answers (an unknown Call-ID, a branch or tag of no transaction or
dialog of ours, a 2xx without To tag or Contact) are counted as unexpected
or failed, never acted on. Retransmissions over UDP follow §17 (INVITE: T1
doubling with no cap, Timer A; BYE: T1 doubling capped at T2, Timer E; the
UAS's 2xx: Timer G until the ACK, §13.3.1.4), and every call gives up after
64·T1 (Timers B, F, H). The engines are driven like every sipsec core::

    uac = UacScenario(config, rate=2000, calls=20000)
    uac.start(now)
    uac.receive(datagram, source, now)   # never raises for any bytes
    uac.handle_timer(now)                # when now >= uac.get_timer()
    for data, address in uac.datagrams_to_send(): ...
    uac.finished, uac.stats              # LoadStats, merged across processes

Modules: ``load_scan`` (the scanner), ``load_wire`` (header copying, route
set), ``load_engine`` (config, slots, timers), ``load_uac``, ``load_uas``,
``load_stats``.
"""

from __future__ import annotations

from .load_engine import ScenarioConfig
from .load_stats import LoadStats, percentile
from .load_uac import UacScenario
from .load_uas import UasScenario
from .load_wire import Address

__all__ = ["Address", "LoadStats", "ScenarioConfig", "UacScenario", "UasScenario", "percentile"]
