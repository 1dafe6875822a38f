"""RFC 3261 SIP messages: parsing, building, framing (sans-IO, stdlib only).

Parsing and serializing::

    message = parse_message(datagram)      # Request | Response, or SipParseError
    bytes(message) == datagram             # when parsed and not modified

``SipParseError(RemoteProtocolError)`` carries ``.status`` (400, 413, 416,
420, 505, 513 …) and ``.reason``; no other exception escapes
:func:`parse_message` or :meth:`StreamFramer.feed` for any bytes.
Caps: :data:`MAX_MESSAGE_SIZE` (513), :data:`MAX_BODY_SIZE` (413),
:data:`MAX_HEADERS` and :data:`MAX_LINE_LENGTH` (513).

Messages: ``Request(method, uri, headers, body=b"")`` and
``Response(status, reason, headers, body=b"")`` (reason None → the default
phrase). ``Request.method``, ``Request.uri`` (a parsed URI; ``str(uri)`` /
``uri.raw`` is its text), ``Response.status``, ``Response.reason``,
``message.headers``, ``message.body`` (setting it updates Content-Length).
``bytes(message)`` adds a Content-Length when none is present.

Headers (:class:`Headers`): ordered, case-insensitive, compact forms
(``v`` = Via …): ``get``, ``get_all`` (list headers split at commas, quotes
and ``<>`` respected), ``get_lines``, ``count``, ``add``, ``set``,
``remove``, ``prepend``, ``pop_first``, ``in``, iteration over
``(name, value)`` in wire order. Untouched lines are written back verbatim.

Typed views, parsed on first access and cached until the header changes
(a malformed header raises :class:`SipParseError` when read; Via, From, To,
Call-ID, CSeq, Max-Forwards, Content-Length and Contact are checked already
by :func:`parse_message`): ``vias``/``top_via`` (:class:`Via`), ``from_``,
``to`` (:class:`NameAddress`), ``contacts`` (``*`` → ``is_star``),
``routes``, ``record_routes``, ``cseq`` (:class:`CSeq`), ``call_id``,
``max_forwards``, ``content_length``, ``content_type`` (:class:`MediaType`),
``expires``, ``require``, ``proxy_require``, ``supported``, ``unsupported``,
``www_authenticate``/``proxy_authenticate`` (:class:`AuthChallenge`),
``authorization``/``proxy_authorization`` (:class:`AuthCredentials`); the
auth values have ``scheme``, ``params`` (names lower-cased, values unquoted)
and serialize with ``str()`` quoting as RFC 7616 §3.3/§3.4 say.

URIs: :func:`parse_uri` → :class:`SipUri` (sip/sips) | :class:`TelUri` |
:class:`AbsoluteUri`; equality per §19.1.4, ``transport``/``lr``/``maddr``.

Helpers: :func:`make_response` (§8.2.6: Via, From, To (+tag unless 100),
Call-ID, CSeq copied; 100 also copies Timestamp), :func:`validate_request` /
:func:`validate_response` (checks above the parser, returned not raised:
missing or repeated headers 400, unknown URI scheme 416, Require 420 with
``.unsupported``, bare magic-cookie branch 400, several Vias at a UAC),
:class:`StreamFramer` (``feed(bytes) -> [messages]``; CRLF keep-alives
counted in ``pings``/``pongs``; ``broken`` after a framing error; a bad
message with sound framing is skipped and kept as ``(bytes, SipParseError)``
in ``rejected`` for a 400, or returned by ``feed_with_errors(bytes) ->
(messages, rejected)``, which raises only for framing errors),
:func:`generate_branch` (``z9hG4bK`` + 128 random bits), :func:`generate_tag`,
:func:`generate_call_id`, :class:`Status` (IntEnum) and :func:`reason_phrase`.

Modules: ``parser`` (bytes → message), ``fastpath`` (the usual shape of a
message in one pass, before ``parser``; its value patterns in
``fastvalues``), ``message`` (Request/Response, views),
``headers`` (the multi-map), ``fields`` (name-addr, CSeq, media type),
``via``, ``params`` (header parameters, quoting), ``auth`` (Digest header
codec), ``uri``, ``uri_grammar`` (URI patterns, escaping), ``framer``,
``responses``, ``validate``, ``ids``, ``status``, ``errors``.
"""

from __future__ import annotations

from .auth import AuthChallenge, AuthCredentials, parse_auth_params
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
    parse_params,
    parse_via,
    quote,
    unquote,
)
from .framer import StreamFramer
from .headers import COMPACT_FORMS, LIST_HEADERS, Headers, canonical_name, split_list
from .ids import BRANCH_MAGIC_COOKIE, generate_branch, generate_call_id, generate_tag
from .message import (
    MAX_BODY_SIZE,
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    Message,
    Request,
    Response,
)
from .parser import parse_message
from .responses import make_response
from .status import Status, reason_phrase
from .uri import AbsoluteUri, SipUri, TelUri, Uri, escape, parse_uri, unescape
from .validate import validate_request, validate_response

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "COMPACT_FORMS",
    "LIST_HEADERS",
    "MAX_BODY_SIZE",
    "MAX_HEADERS",
    "MAX_LINE_LENGTH",
    "MAX_MESSAGE_SIZE",
    "AbsoluteUri",
    "AuthChallenge",
    "AuthCredentials",
    "CSeq",
    "Headers",
    "MediaType",
    "Message",
    "NameAddress",
    "Request",
    "Response",
    "SipParseError",
    "SipUri",
    "Status",
    "StreamFramer",
    "TelUri",
    "Uri",
    "Via",
    "canonical_name",
    "escape",
    "generate_branch",
    "generate_call_id",
    "generate_tag",
    "make_response",
    "parse_auth_params",
    "parse_cseq",
    "parse_delta_seconds",
    "parse_media_type",
    "parse_message",
    "parse_name_address",
    "parse_params",
    "parse_uri",
    "parse_via",
    "quote",
    "reason_phrase",
    "split_list",
    "unescape",
    "unquote",
    "validate_request",
    "validate_response",
]
