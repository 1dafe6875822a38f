"""RFC 3665 §3.8 "Unsuccessful No Answer" through both kinds of layer: the
messages of the RFC (in ``tests/vectors/rfc3665``) match their transactions,
and the CANCEL (§9.1) and ACK (§17.1.1.3) the layer builds carry what F9 and
F20 carry. (F20 has no Route although F1 had one; §17.1.1.3 says the ACK
"MUST contain" the INVITE's Route headers, so ours keeps it.)"""

from __future__ import annotations

from pathlib import Path

from sipsec.sip import Request, Response, parse_message
from sipsec.transaction import (
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    State,
    TransactionLayer,
    TransactionTerminated,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc3665"
ALICE = ("192.0.2.101", 5060)
SS1 = ("192.0.2.111", 5060)
COPIED = ("Via", "From", "To", "Call-ID", "CSeq")


def flow(n: int) -> Request | Response:
    return parse_message((VECTORS / f"3.8-unsuccessful-no-answer-F{n}.sip").read_bytes())


def request(n: int) -> Request:
    message = flow(n)
    assert isinstance(message, Request)
    return message


def test_alice_client_side() -> None:
    alice = TransactionLayer()
    f1 = request(1)
    tid = alice.send_request(f1, SS1, 0.0)
    assert [bytes(m.message) for m in alice.messages_to_send()] == [bytes(f1)]
    alice.receive(flow(8), SS1, 0.4)  # 180 Ringing: §17.1.3 match
    event = alice.next_event()
    assert isinstance(event, ResponseReceived) and event.transaction_id == tid
    cid = alice.cancel(tid, 1.0)
    [out] = alice.messages_to_send()
    cancel, f9 = out.message, request(9)
    assert isinstance(cancel, Request) and cancel.uri == f9.uri
    for name in (*COPIED, "Route", "Max-Forwards"):
        assert cancel.headers.get_all(name) == f9.headers.get_all(name), name
    alice.receive(flow(10), SS1, 1.1)  # 200 for the CANCEL
    event = alice.next_event()
    assert isinstance(event, ResponseReceived) and event.transaction_id == cid
    assert event.response.status == 200 and cid != tid
    alice.receive(flow(19), SS1, 1.2)  # 487
    event = alice.next_event()
    assert isinstance(event, ResponseReceived) and event.response.status == 487
    [out] = alice.messages_to_send()
    ack, f20 = out.message, request(20)
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.uri == f20.uri
    for name in COPIED:
        assert ack.headers.get_all(name) == f20.headers.get_all(name), name
    assert ack.top_via is not None and ack.top_via.branch == "z9hG4bK74bf9"
    assert alice.state_of(tid) is State.COMPLETED


def test_ss1_server_side() -> None:
    ss1 = TransactionLayer()
    ss1.receive(flow(1), ALICE, 0.0)
    invite = ss1.next_event()
    assert isinstance(invite, RequestReceived) and invite.transaction_id is not None
    ss1.receive(flow(9), ALICE, 1.0)  # §9.2: the CANCEL finds the INVITE
    cancel = ss1.next_event()
    assert isinstance(cancel, CancelReceived)
    assert cancel.invite_transaction_id == invite.transaction_id
    assert cancel.transaction_id not in (None, invite.transaction_id)
    assert cancel.transaction_id is not None
    answer = flow(10)
    assert isinstance(answer, Response)
    ss1.send_response(cancel.transaction_id, answer, 1.0)
    final = flow(19)
    assert isinstance(final, Response)
    ss1.send_response(invite.transaction_id, final, 1.1)
    ss1.receive(flow(20), ALICE, 1.2)  # the ACK: same branch, method INVITE in the key
    assert ss1.state_of(invite.transaction_id) is State.CONFIRMED
    ss1.receive(flow(1), ALICE, 1.3)  # a late INVITE retransmission is absorbed
    assert ss1.next_event() is None
    ss1.handle_timer(6.2)  # Timer I = T4 after the ACK
    assert ss1.next_event() == TransactionTerminated(invite.transaction_id)
