"""SIP requests and responses: the objects, their typed views, serialization
(RFC 3261 §7, §20). Parsing lives in :mod:`sipsec.sip.parser`.

Typed views are parsed on first access and cached in the headers until the
header changes. A message that was parsed and not changed serializes to
exactly the bytes it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from sipsec.errors import LocalProtocolError

from .auth import AuthChallenge, AuthCredentials
from .errors import SipParseError
from .fields import (
    CSeq,
    MediaType,
    NameAddress,
    Via,
    parse_cseq,
    parse_delta_seconds,
    parse_media_type,
    parse_name_address,
    parse_via,
)
from .headers import Headers, split_list
from .status import reason_phrase
from .uri import Uri, _build_sip, parse_uri

__all__ = [
    "MAX_BODY_SIZE",
    "MAX_HEADERS",
    "MAX_LINE_LENGTH",
    "MAX_MESSAGE_SIZE",
    "Message",
    "Request",
    "Response",
]

#: Caps that keep memory bounded whatever a peer sends.
MAX_MESSAGE_SIZE = 65536  # a UDP datagram cannot be larger; 513 beyond (§18.1.1)
MAX_BODY_SIZE = 65536  # a declared Content-Length beyond this gets 413
MAX_HEADERS = 256  # header lines, folds included (RFC 4475 longreq has 44)
MAX_LINE_LENGTH = 8192

T = TypeVar("T")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_CALL_ID = re.compile(
    r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?"
)
_DIGITS = re.compile(r"[0-9]{1,10}")


def _first(parse: Callable[[str], T]) -> Callable[[list[str]], T | None]:
    def first(lines: list[str]) -> T | None:
        return parse(lines[0]) if lines else None

    return first


def _listed(parse: Callable[[str], T]) -> Callable[[list[str]], list[T]]:
    def listed(lines: list[str]) -> list[T]:
        return [parse(item) for line in lines for item in split_list(line)]

    return listed


def _vias(lines: list[str]) -> list[Via]:
    return [via for line in lines for via in parse_via(line)]


def _contact(text: str) -> NameAddress:
    return parse_name_address(text, allow_star=True)


def _call_id(text: str) -> str:
    if not _CALL_ID.fullmatch(text):
        raise SipParseError(f"bad Call-ID {text[:60]!r}")
    return text


def _max_forwards(text: str) -> int:
    value = text.strip(" \t")
    if not _DIGITS.fullmatch(value) or int(value) > 255:  # §20.22: 0-255
        raise SipParseError(f"bad Max-Forwards {value[:20]!r}")
    return int(value)


def _content_length(text: str) -> int:
    value = text.strip(" \t")
    if not _DIGITS.fullmatch(value):
        raise SipParseError(f"bad Content-Length {value[:20]!r}")
    return int(value)


def _tokens(lines: list[str]) -> list[str]:
    tags = [item for line in lines for item in split_list(line)]
    for tag in tags:
        if not _TOKEN.fullmatch(tag):
            raise SipParseError(f"bad option tag {tag[:40]!r}")
    return tags


def _challenges(lines: list[str]) -> list[AuthChallenge]:
    return [AuthChallenge.parse(line) for line in lines]


def _credentials(lines: list[str]) -> list[AuthCredentials]:
    return [AuthCredentials.parse(line) for line in lines]


_VIA_VIEW = _vias
_ADDR = _first(parse_name_address)
_CSEQ_VIEW = _first(parse_cseq)
_CALL_ID_VIEW = _first(_call_id)
_MAX_FORWARDS_VIEW = _first(_max_forwards)
_CONTENT_LENGTH_VIEW = _first(_content_length)
_CONTACTS_VIEW = _listed(_contact)
_ROUTES_VIEW = _listed(parse_name_address)
_CONTENT_TYPE_VIEW = _first(parse_media_type)
_EXPIRES_VIEW = _first(parse_delta_seconds)


class Message:
    """What requests and responses share: headers, body and the typed views."""

    __slots__ = ("_body", "_raw", "headers")

    def __init__(
        self,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        if isinstance(headers, Headers):
            self.headers = headers
        else:
            self.headers = Headers(
                headers.items() if isinstance(headers, Mapping) else headers or ()
            )
        self._body = bytes(body)
        self._raw: bytes | None = None

    # -- body -------------------------------------------------------------------------
    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        """Setting the body keeps an existing Content-Length header in step."""
        self._body = bytes(value)
        self._raw = None
        if "content-length" in self.headers:
            self.headers.set("Content-Length", str(len(self._body)))

    # -- typed views (cached in ``headers`` until the header changes) --------------------
    @property
    def vias(self) -> list[Via]:
        try:
            return self.headers._cache["via"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("via", _VIA_VIEW)

    @property
    def top_via(self) -> Via | None:
        try:
            vias: list[Via] = self.headers._cache["via"]
        except KeyError:
            vias = self.vias
        return vias[0] if vias else None

    @property
    def from_(self) -> NameAddress | None:
        try:
            return self.headers._cache["from"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("from", _ADDR)

    @property
    def to(self) -> NameAddress | None:
        try:
            return self.headers._cache["to"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("to", _ADDR)

    @property
    def call_id(self) -> str | None:
        try:
            return self.headers._cache["call-id"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("call-id", _CALL_ID_VIEW)

    @property
    def cseq(self) -> CSeq | None:
        try:
            return self.headers._cache["cseq"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("cseq", _CSEQ_VIEW)

    @property
    def max_forwards(self) -> int | None:
        try:
            return self.headers._cache["max-forwards"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("max-forwards", _MAX_FORWARDS_VIEW)

    @property
    def content_length(self) -> int | None:
        try:
            return self.headers._cache["content-length"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("content-length", _CONTENT_LENGTH_VIEW)

    @property
    def contacts(self) -> list[NameAddress]:
        try:
            return self.headers._cache["contact"]  # type: ignore[no-any-return]
        except KeyError:
            return self.headers.typed("contact", _CONTACTS_VIEW)

    @property
    def routes(self) -> list[NameAddress]:
        return self.headers.typed("route", _ROUTES_VIEW)

    @property
    def record_routes(self) -> list[NameAddress]:
        return self.headers.typed("record-route", _ROUTES_VIEW)

    @property
    def content_type(self) -> MediaType | None:
        return self.headers.typed("content-type", _CONTENT_TYPE_VIEW)

    @property
    def expires(self) -> int | None:
        return self.headers.typed("expires", _EXPIRES_VIEW)

    @property
    def require(self) -> list[str]:
        return self.headers.typed("require", _tokens)

    @property
    def proxy_require(self) -> list[str]:
        return self.headers.typed("proxy-require", _tokens)

    @property
    def supported(self) -> list[str]:
        return self.headers.typed("supported", _tokens)

    @property
    def unsupported(self) -> list[str]:
        return self.headers.typed("unsupported", _tokens)

    @property
    def www_authenticate(self) -> list[AuthChallenge]:
        return self.headers.typed("www-authenticate", _challenges)

    @property
    def proxy_authenticate(self) -> list[AuthChallenge]:
        return self.headers.typed("proxy-authenticate", _challenges)

    @property
    def authorization(self) -> list[AuthCredentials]:
        return self.headers.typed("authorization", _credentials)

    @property
    def proxy_authorization(self) -> list[AuthCredentials]:
        return self.headers.typed("proxy-authorization", _credentials)

    # -- serialization ----------------------------------------------------------------
    def start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        if self._raw is not None and not self.headers.modified:
            return self._raw
        lines = [self.start_line(), *self.headers._wire_lines()]
        if "content-length" not in self.headers:
            # A stream peer cannot frame the message without it (§18.3, §20.14).
            lines.append(f"Content-Length: {len(self._body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self._body

    def _validate(self) -> None:
        """Checks beyond the eagerly parsed headers (none for responses)."""


class Request(Message):
    """A SIP request: ``Request("INVITE", "sip:bob@biloxi.example", headers, body)``."""

    # _uri is None only for a request from the fast path (fastpath.py), whose
    # Request-URI is built from _uri_parts (already checked) on first use.
    __slots__ = ("_method", "_uri", "_uri_parts")
    # The request line's match: method, URI text, user, host, port, params.
    _uri_parts: re.Match[str]

    def __init__(
        self,
        method: str,
        uri: Uri | str,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        if not isinstance(method, str) or not _TOKEN.fullmatch(method):
            raise LocalProtocolError(f"bad method {method!r}")
        self._method = method
        self._uri = parse_uri(uri) if isinstance(uri, str) else uri

    @property
    def method(self) -> str:
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        if not _TOKEN.fullmatch(value):
            raise LocalProtocolError(f"bad method {value!r}")
        self._method = value
        self._raw = None

    @property
    def uri(self) -> Uri:
        uri = self._uri
        if uri is None:
            _, text, user, host, port, ptext = self._uri_parts.groups()
            uri = self._uri = _build_sip(text, "sip", user, None, host, port, ptext, None)
        return uri

    @uri.setter
    def uri(self, value: Uri | str) -> None:
        self._uri = parse_uri(value) if isinstance(value, str) else value
        self._raw = None

    def start_line(self) -> str:
        return f"{self._method} {self.uri} SIP/2.0"

    def __repr__(self) -> str:
        return f"<Request {self._method} {self.uri}>"

    def _validate(self) -> None:
        cseq = self.cseq
        # RFC 4475 §3.1.2.17/18: a CSeq method that is not the request's is a 400.
        if cseq is not None and cseq.method != self._method:
            raise SipParseError(f"CSeq method {cseq.method!r} is not {self._method!r}")


class Response(Message):
    """A SIP response: ``Response(200, "OK", headers, body)`` (reason None → default)."""

    __slots__ = ("_reason", "_status")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        if not 100 <= status <= 699:
            raise LocalProtocolError(f"status {status} out of range")
        if reason is not None and ("\r" in reason or "\n" in reason):
            raise LocalProtocolError("reason phrase contains CR or LF")
        self._status = int(status)
        self._reason = reason if reason is not None else reason_phrase(status)

    @property
    def status(self) -> int:
        return self._status

    @property
    def reason(self) -> str:
        return self._reason

    @reason.setter
    def reason(self, value: str) -> None:
        if "\r" in value or "\n" in value:
            raise LocalProtocolError("reason phrase contains CR or LF")
        self._reason = value
        self._raw = None

    @property
    def is_provisional(self) -> bool:
        return self._status < 200

    @property
    def is_final(self) -> bool:
        return self._status >= 200

    def start_line(self) -> str:
        return f"SIP/2.0 {self._status} {self._reason}"

    def __repr__(self) -> str:
        return f"<Response {self._status} {self._reason}>"
