"""RFC 4475 "SIP Torture Test Messages": every message, the verdict of its
index entry (tests/vectors/rfc4475/index.json, RFC 4475 §3 and Appendix A.1),
and the fields the RFC text says a parser must read right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sipsec.sip import (
    AbsoluteUri,
    Request,
    Response,
    SipParseError,
    SipUri,
    parse_message,
    validate_request,
    validate_response,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc4475"
INDEX = {k: v for k, v in json.loads((VECTORS / "index.json").read_text()).items() if k[0] != "_"}


def load(name: str) -> bytes:
    return (VECTORS / INDEX[name]["file"]).read_bytes()


def by_expect(expect: str) -> list[str]:
    return sorted(name for name, entry in INDEX.items() if entry["expect"] == expect)


def test_index_counts() -> None:
    # README: 18 valid, 20 parse-error, 11 semantic-error.
    assert (len(by_expect("valid")), len(by_expect("parse-error"))) == (18, 20)
    assert len(by_expect("semantic-error")) == 11


@pytest.mark.parametrize("name", by_expect("valid") + by_expect("semantic-error"))
def test_well_formed_messages_parse_and_round_trip(name: str) -> None:
    data = load(name)
    message = parse_message(data)
    out = bytes(message)
    if name == "dblreq":
        # §3.1.1.8: only the REGISTER; the trailing INVITE octets are noise.
        assert data.startswith(out) and out.endswith(b"Content-Length: 0\r\n\r\n")
        assert len(out) == INDEX[name]["bytes"] - INDEX[name]["octets_after_header_section"]
    else:
        assert out == data
    # Every typed view a proxy may touch reads without error or raises ours.
    for view in ("vias", "from_", "to", "cseq", "call_id", "contacts", "max_forwards"):
        getattr(message, view)


# Parse errors the parser reports itself, with the status RFC 4475 names.
# The RFC lets a liberal element accept those marked liberal; this parser is
# strict except for baddate (Date is not parsed at all: the RFC says an
# element should not reject on it unless Date matters to it).
PARSE_ERRORS = {
    "badaspec": 400,
    "baddn": 400,
    "badinv01": 400,
    "badvers": 505,
    "bigcode": 400,  # a response: the status is only a hint, it is dropped
    "clerr": 400,
    "escruri": 400,
    "ltgtruri": 400,
    "lwsruri": 400,
    "lwsstart": 400,
    "mcl01": 400,
    "mismatch01": 400,
    "mismatch02": 400,  # RFC: 501 preferred, 400 acceptable
    "ncl": 400,
    "quotbal": 400,
    "regbadct": 400,
    "scalar02": 400,
    "scalarlg": 400,
    "trws": 400,
}


def test_parse_error_table_covers_the_index() -> None:
    assert set(PARSE_ERRORS) | {"baddate"} == set(by_expect("parse-error"))


@pytest.mark.parametrize("name", sorted(PARSE_ERRORS))
def test_invalid_messages_are_refused(name: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(load(name))
    assert info.value.status == PARSE_ERRORS[name]
    assert str(INDEX[name]["response"]).startswith(str(PARSE_ERRORS[name])) or name in (
        "bigcode",
        "mismatch02",
        "mcl01",
        "ncl",
        "scalarlg",
    )


def test_baddn_is_refused_for_its_display_names_too() -> None:
    # The archive copy also lacks the empty line; with it, the names still fail.
    with pytest.raises(SipParseError, match="display name"):
        parse_message(load("baddn") + b"\r\n")


def test_baddate_is_accepted_liberally_and_date_kept_verbatim() -> None:
    message = parse_message(load("baddate"))
    assert message.headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


# semantic-error: the parser accepts, the checks above it refuse.
def test_semantic_errors_are_flagged_by_validate() -> None:
    def req(name: str) -> Request:
        message = parse_message(load(name))
        assert isinstance(message, Request)
        return message

    assert validate_request(req("badbranch")).status == 400  # type: ignore[union-attr]
    assert validate_request(req("insuf")).status == 400  # type: ignore[union-attr]
    assert validate_request(req("multi01")).status == 400  # type: ignore[union-attr]
    assert validate_request(req("unkscm")).status == 416  # type: ignore[union-attr]
    assert validate_request(req("novelsc")).status == 416  # type: ignore[union-attr]
    error = validate_request(req("bext01"))
    assert error is not None and error.status == 420
    assert error.unsupported == ("nothingSupportsThis", "nothingSupportsThisEither")
    # A UAS checks Require only; a proxy checks Proxy-Require only (§16.3 step 5).
    both = {"nothingSupportsThis", "nothingSupportsThisEither"}
    assert validate_request(req("bext01"), supported=both) is None
    proxy_error = validate_request(req("bext01"), supported=both, proxy=True)
    assert proxy_error is not None and proxy_error.status == 420
    assert proxy_error.unsupported == ("noProxiesSupportThis", "norDoAnyProxiesSupportThis")
    # Well formed for the parser and for the generic checks; the element decides.
    for name in ("invut", "regaut01", "sdp01", "unksm2"):
        assert validate_request(req(name)) is None, name
    bcast = parse_message(load("bcast"))
    assert isinstance(bcast, Response)
    assert validate_response(bcast) is None
    assert validate_response(bcast, uac=True) is not None


def test_valid_requests_pass_validation() -> None:
    for name in by_expect("valid"):
        message = parse_message(load(name))
        if isinstance(message, Request) and name not in ("inv2543", "esc02", "intmeth"):
            assert validate_request(message) is None, name


# -- fields the RFC text says must be read right ---------------------------------------
def test_wsinv_folding_and_whitespace() -> None:
    m = parse_message(load("wsinv"))
    assert isinstance(m, Request) and m.method == "INVITE"
    assert m.to is not None and m.to.tag == "1918181833n"
    assert m.from_ is not None and m.from_.display_name == 'J Rosenberg \\"'
    assert m.from_.tag == "98asjd8"
    assert m.max_forwards == 68
    assert m.cseq is not None and (m.cseq.seq, m.cseq.method) == (9, "INVITE")
    assert [v.sent_by for v in m.vias] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert [v.transport for v in m.vias] == ["UDP", "TCP", "UDP"]
    assert [v.branch for v in m.vias] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.headers.get("s") == "" and m.headers.get("Subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = m.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    (route,) = m.routes
    assert isinstance(route.uri, SipUri) and route.uri.lr
    assert route.uri.params["unknownwith"] == "value"
    assert isinstance(m.uri, SipUri) and "unknownparam" in m.uri.params
    assert len(m.body) == m.content_length == 150


def test_intmeth_unusual_tokens() -> None:
    m = parse_message(load("intmeth"))
    assert isinstance(m, Request)
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.cseq is not None and m.cseq.method == m.method
    assert isinstance(m.uri, SipUri)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.top_via is not None and m.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert m.to is not None and m.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_ is not None and m.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert (
        m.from_.params["fromparam''~+*_!.-%"]
        == "\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"
    )
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_esc01_escapes_are_decoded_once() -> None:
    m = parse_message(load("esc01"))
    assert isinstance(m, Request) and isinstance(m.uri, SipUri)
    assert m.uri.user == "sips:user@example.com" and m.uri.host == "example.net"
    assert m.to is not None and isinstance(m.to.uri, SipUri) and m.to.uri.user == "user"
    assert m.from_ is not None and isinstance(m.from_.uri, SipUri)
    assert m.from_.uri.user == "I have spaces"
    (contact,) = m.contacts
    assert isinstance(contact.uri, SipUri) and contact.uri.user == "caller"
    assert contact.uri.params == {"lr": None, "name": "value%41"}


def test_esc02_method_and_header_names_are_not_unescaped() -> None:
    m = parse_message(load("esc02"))
    assert isinstance(m, Request) and m.method == "RE%47IST%45R"
    assert [str(c.uri) for c in m.contacts] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert m.to is not None and m.to.display_name == "%Z%45"


def test_escnull_keeps_the_nul() -> None:
    m = parse_message(load("escnull"))
    users = [c.uri.user for c in m.contacts if isinstance(c.uri, SipUri)]
    assert users == ["\x00", "\x00\x00"]
    assert m.contacts[0].uri != m.contacts[1].uri


def test_longreq() -> None:
    m = parse_message(load("longreq"))
    assert len(m.vias) == 34
    assert m.vias[0].sent_by == "sip33.example.com"
    assert m.vias[-1].received == "192.0.2.5"
    assert (
        m.to is not None and m.to.display_name is not None and "extremeextreme" in m.to.display_name
    )
    assert m.from_ is not None and m.from_.tag is not None and m.from_.tag.startswith("129829829")


def test_semiuri_user_has_a_semicolon() -> None:
    m = parse_message(load("semiuri"))
    assert isinstance(m, Request) and isinstance(m.uri, SipUri)
    assert m.uri.user == "user;par=u@example.net" and m.uri.host == "example.com"
    assert m.uri.params == {}


def test_transports() -> None:
    m = parse_message(load("transports"))
    assert [v.transport for v in m.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_binary_body_framed_by_content_length() -> None:
    m = parse_message(load("mpart01"))
    assert len(m.body) == m.content_length == 553
    assert m.content_type is not None and m.content_type.mime_type == "multipart/mixed"
    assert m.content_type.params["boundary"] == "7a9cbec02ceef655"


def test_responses() -> None:
    noreason = parse_message(load("noreason"))
    assert isinstance(noreason, Response) and (noreason.status, noreason.reason) == (100, "")
    unreason = parse_message(load("unreason"))
    assert isinstance(unreason, Response) and unreason.status == 200
    assert unreason.reason.startswith("= 2**3 * 5**2 ") and "сто" in unreason.reason


def test_inv2543_body_is_the_rest_of_the_datagram() -> None:
    m = parse_message(load("inv2543"))
    assert m.content_length is None and m.body.startswith(b"v=0")
    assert m.top_via is not None and m.top_via.branch is None
    assert m.from_ is not None and m.from_.tag is None


def test_cparam_contact_vs_uri_parameters() -> None:
    c1 = parse_message(load("cparam01")).contacts[0]
    assert "unknownparam" in c1.params and isinstance(c1.uri, SipUri)
    assert "unknownparam" not in c1.uri.params
    c2 = parse_message(load("cparam02")).contacts[0]
    assert "unknownparam" not in c2.params and isinstance(c2.uri, SipUri)
    assert "unknownparam" in c2.uri.params


def test_regescrt_keeps_the_uri_header() -> None:
    (contact,) = parse_message(load("regescrt")).contacts
    assert isinstance(contact.uri, SipUri) and contact.uri.headers == {
        "Route": "<sip:sip.example.com>"
    }


def test_unknown_schemes_are_opaque() -> None:
    m = parse_message(load("novelsc"))
    assert isinstance(m, Request) and isinstance(m.uri, AbsoluteUri)
    assert str(m.uri) == "soap.beep://192.0.2.103:3002"
    u = parse_message(load("unksm2"))
    assert u.to is not None and isinstance(u.to.uri, AbsoluteUri) and u.to.uri.scheme == "isbn"


def test_zeromf_and_lwsdisp() -> None:
    assert parse_message(load("zeromf")).max_forwards == 0
    m = parse_message(load("lwsdisp"))
    assert m.from_ is not None and m.from_.display_name == "caller"


def test_regaut01_keeps_the_unknown_scheme() -> None:
    (credentials,) = parse_message(load("regaut01")).authorization
    assert credentials.scheme == "NoOneKnowsThisScheme"
    assert credentials.params == {"opaque-data": "here"}
