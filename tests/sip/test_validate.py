"""Checks above the parser (RFC 3261 §8.2.1–8.2.2, §16.3; RFC 4475 §3.2–3.3)."""

from __future__ import annotations

from sipsec.sip import Request, Response, parse_message, validate_request, validate_response

BASE = (
    "{method} {uri} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example;branch={branch}\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:bob@biloxi.example>\r\n"
    "From: <sip:alice@atlanta.example>;tag=1\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 1 {method}\r\n"
    "{extra}"
    "Content-Length: 0\r\n\r\n"
)


def request(
    method: str = "INVITE",
    uri: str = "sip:bob@biloxi.example",
    branch: str = "z9hG4bK776",
    extra: str = "",
) -> Request:
    text = BASE.format(method=method, uri=uri, branch=branch, extra=extra)
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def test_good_request() -> None:
    assert validate_request(request()) is None
    assert validate_request(request(uri="tel:+1-201-555-0123")) is None


def test_statuses() -> None:
    def status(req: Request, **kw: object) -> int | None:
        error = validate_request(req, **kw)  # type: ignore[arg-type]
        return None if error is None else error.status

    assert status(request(uri="mailto:bob@biloxi.example")) == 416
    assert status(request(branch="z9hG4bK")) == 400
    assert status(request(extra="Require: 100rel, foo\r\n")) == 420
    assert status(request(extra="Require: 100rel\r\n"), supported={"100rel"}) is None
    assert status(request(method="ACK", extra="Require: foo\r\n")) is None  # §8.2.2.3
    assert status(request(extra="Proxy-Require: foo\r\n")) is None
    assert status(request(extra="Proxy-Require: foo\r\n"), proxy=True) == 420
    assert status(request(extra="Call-ID: second\r\n")) == 400
    assert status(request(extra="Content-Type: broken\r\n")) == 400
    assert status(request(extra="Route: <sip:a@b>, junk\r\n")) == 400
    error = validate_request(request(extra="Require: a, b\r\n"))
    assert error is not None and error.unsupported == ("a", "b")


def test_missing_headers_and_changed_method() -> None:
    req = request()
    req.headers.remove("Call-ID")
    assert validate_request(req) is not None
    req = request()
    req.method = "BYE"  # built-in mismatch: the parser never sees this one
    error = validate_request(req)
    assert error is not None and "CSeq" in error.reason


def test_response_checks() -> None:
    text = BASE.format(method="INVITE", uri="x", branch="z9hG4bK1", extra="").split("\r\n", 1)[1]
    resp = parse_message(("SIP/2.0 200 OK\r\n" + text).encode())
    assert isinstance(resp, Response)
    assert validate_response(resp) is None and validate_response(resp, uac=True) is None
    resp.headers.add("Via", "SIP/2.0/UDP other.example;branch=z9hG4bK2")
    assert validate_response(resp) is None
    assert validate_response(resp, uac=True) is not None  # §8.1.3.3


def test_single_headers_are_counted_by_lines() -> None:
    # validate counts lines: right only while none of them is a list header.
    from sipsec.sip import LIST_HEADERS
    from sipsec.sip.validate import _SINGLE

    assert not LIST_HEADERS.intersection(_SINGLE)
    error = validate_request(request(extra="To: <sip:carol@chicago.example>\r\n"))
    assert error is not None and error.status == 400 and "more than one to" in error.reason
