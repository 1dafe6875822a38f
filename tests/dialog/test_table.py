"""DialogSet (forking: one INVITE, several dialogs) and DialogTable (481)."""

from __future__ import annotations

import pytest

from sipsec.dialog import DialogSet, DialogTable
from sipsec.errors import RemoteProtocolError
from sipsec.sip import Request, Response, make_response

from .test_dialog import request, response


def answer(invite: Request, status: int, tag: str | None, contact: str) -> Response:
    out = make_response(invite, status, to_tag=tag) if tag else make_response(invite, status)
    if tag is None:
        out.headers.set("To", invite.headers.get("To") or "")
    out.headers.add("Contact", f"<{contact}>")
    return out


def test_forked_early_dialogs_and_the_one_confirmed() -> None:
    invite = request(4)
    dialogs = DialogSet(invite)
    assert dialogs.update(answer(invite, 100, None, "sip:x@192.0.2.9")) == (None, False)
    assert dialogs.update(answer(invite, 180, None, "sip:x@192.0.2.9")) == (None, False)
    first, new1 = dialogs.update(answer(invite, 180, "fork1", "sip:bob@192.0.2.21"))
    second, new2 = dialogs.update(answer(invite, 183, "fork2", "sip:bob@192.0.2.22"))
    again, new3 = dialogs.update(answer(invite, 180, "fork1", "sip:bob@192.0.2.21"))
    assert new1 and new2 and not new3 and again is first
    assert first is not None and second is not None
    assert len(dialogs) == 2 and dialogs.early() == [first, second]
    confirmed, new = dialogs.update(answer(invite, 200, "fork2", "sip:bob@192.0.2.23"))
    assert confirmed is second and not new and second.is_confirmed
    assert str(second.remote_target) == "sip:bob@192.0.2.23"
    assert dialogs.terminate_early() == [first] and first.terminated
    third, new = dialogs.update(answer(invite, 200, "fork3", "sip:bob@192.0.2.24"))
    assert new and third is not None and third.is_confirmed
    assert dialogs.confirmed() == [second, third]
    with pytest.raises(ValueError):
        DialogSet(request(18))


def test_table_finds_in_dialog_requests_and_refuses_others() -> None:
    table = DialogTable()
    dialog = DialogSet(request(4)).update(response(14))[0]
    assert dialog is not None
    table.add(dialog)
    assert dialog.id in table and len(table) == 1
    # F18 is Bob's BYE: To tag is Alice's (ours), From tag Bob's.
    bye = request(18)
    assert table.find(bye) is dialog and table.match(bye) is dialog
    stranger = request(18)
    stranger.headers.set("From", "Bob <sip:bob@biloxi.example.com>;tag=other")
    assert table.find(stranger) is None
    with pytest.raises(RemoteProtocolError) as info:
        table.match(stranger)
    assert info.value.status == 481
    assert table.find(request(1)) is None  # no To tag: not in a dialog
    dialog.terminate()
    assert table.find(bye) is None
    table.remove(dialog)
    assert len(table) == 0 and list(table) == []


def test_2xx_for_an_ended_early_dialog_makes_a_new_one() -> None:
    invite = request(4)
    dialogs = DialogSet(invite)
    early, _ = dialogs.update(answer(invite, 180, "fork1", "sip:bob@192.0.2.21"))
    dialogs.update(answer(invite, 200, "fork2", "sip:bob@192.0.2.22"))
    assert dialogs.terminate_early() == [early]
    late, new = dialogs.update(answer(invite, 200, "fork1", "sip:bob@192.0.2.21"))
    assert new and late is not early and late is not None and late.is_confirmed
    again, new = dialogs.update(answer(invite, 180, "fork1", "sip:bob@192.0.2.21"))
    assert again is late and not new and late.is_confirmed
