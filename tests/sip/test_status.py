"""Status codes and reason phrases (RFC 3261 §21)."""

from __future__ import annotations

from sipsec.sip import Status, reason_phrase


def test_phrases() -> None:
    assert Status.OK == 200 and Status(486) is Status.BUSY_HERE
    assert reason_phrase(100) == "Trying" and reason_phrase(200) == "OK"
    assert reason_phrase(481) == "Call/Transaction Does Not Exist"
    assert reason_phrase(407) == "Proxy Authentication Required"
    assert reason_phrase(505) == "Version Not Supported"
    assert reason_phrase(513) == "Message Too Large"
    assert reason_phrase(420) == "Bad Extension" and reason_phrase(416) == "Unsupported URI Scheme"
    # §8.1.3.2: an unknown code is treated as x00 of its class.
    assert reason_phrase(499) == "Client Error" and reason_phrase(299) == "Successful"
    assert all(reason_phrase(s) for s in Status)
