"""Splitting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3, §7.5;
RFC 5626 §4.4.1 keep-alives).

On a stream the Content-Length header is the only way to find where a
message ends, so it is mandatory, and a bad one breaks the stream for good
(RFC 4475 §3.1.2.3: "the framing error is unrecoverable — close the
connection"). A malformed message whose framing is sound is skipped: the
error is raised (or, from ``feed_with_errors``, returned) with the message's
bytes kept, so that the transport can answer it with a 400 on the same
connection, and the framer carries on with the next message.

Either way nothing that came before the error is lost: the messages
completed ahead of it — in the same chunk of data or an earlier one — are
kept, in stream order, for the caller to take (:meth:`StreamFramer.take_messages`,
or the next ``feed``) before it answers or closes.
"""

from __future__ import annotations

import re

from .errors import SipParseError
from .message import MAX_BODY_SIZE, MAX_MESSAGE_SIZE, Request, Response
from .parser import _parse

__all__ = ["MAX_REJECTED", "StreamFramer"]

#: How many skipped messages ``StreamFramer.rejected`` keeps (a peer sending
#: nothing but bad messages cannot grow it).
MAX_REJECTED = 16

# A Content-Length (or "l") header line; folded values are not expected
# here, and anything odd is left to the full parser to refuse.
_CONTENT_LENGTH = re.compile(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_DIGITS = re.compile(rb"[0-9]{1,10}")


class StreamFramer:
    """``feed(data) -> [Request | Response, ...]`` for one connection.

    * CRLFs between messages are skipped (§7.5) and counted as keep-alives
      (RFC 5626 §3.5.1, §4.4.1). A run of CRLFs between two messages pairs up
      from its start: each pair is a "ping", counted in ``pings`` as soon as
      its second CRLF arrives (the caller answers each with one CRLF, the
      "pong"); an odd CRLF left at the end of the run is a lone CRLF (a pong,
      or a leading CRLF), counted in ``pongs`` once the next message starts,
      and never answered. Until then it is ``crlf_pending``: its partner may
      still be on its way, so "\r\n" + "\r\n" in two reads is one ping, as
      it is in one. The counts therefore depend only on the bytes, never on
      how they were split into reads. (A client, which is only ever sent
      pongs, may take ``crlf_pending`` as the pong it waits for.)
    * A partial message stays buffered until the rest arrives.
    * ``SipParseError`` from :meth:`feed`: if ``broken`` is now True the
      framing is lost (bad, missing or repeated Content-Length, message too
      large) and the caller should answer if it can and close. Otherwise
      only that one message was bad, and parsing resumes after it.
    * Either way the messages completed before the error are kept, in
      stream order: :meth:`take_messages` hands them over, and so does the
      next ``feed`` (or ``feed_with_errors``) call, ahead of anything new.
      Once those are handed over, a broken framer raises on every call.
    * Each such bad message is kept, with its bytes, in ``rejected`` (a list
      of ``(bytes, SipParseError)``, the newest :data:`MAX_REJECTED` only)
      for the caller to answer — §18.3 and RFC 4475 §3.1.2: a request whose
      framing is sound gets its 400 on the connection it came on — and drain
      (``framer.rejected.clear()``).
    * :meth:`feed_with_errors` does the same without raising for those:
      ``(messages, rejected)`` in one call, ``rejected`` drained. A framing
      error still raises (the stream is lost either way); the messages
      before it wait in :meth:`take_messages`, the skipped ones in ``rejected``.
    """

    def __init__(self, *, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._ready: list[Request | Response] = []
        self._max = max_message_size
        self._error: SipParseError | None = None
        self.pings = 0
        self.pongs = 0
        # A CRLF between messages whose partner has not arrived (yet).
        self._half_ping = False
        self.rejected: list[tuple[bytes, SipParseError]] = []

    @property
    def broken(self) -> bool:
        return self._error is not None

    @property
    def crlf_pending(self) -> bool:
        """A CRLF arrived between messages and may yet become half a ping."""
        return self._half_ping

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete message."""
        return len(self._buffer)

    def take_messages(self) -> list[Request | Response]:
        """The messages completed before the error that ``feed`` or
        ``feed_with_errors`` raised, in stream order; each is handed over once.
        A transport delivers these before it answers the error or closes."""
        ready, self._ready = self._ready, []
        return ready

    def _fail(self, error: SipParseError, out: list[Request | Response]) -> SipParseError:
        # The framing is lost from here on; what was complete before it is not.
        self._ready = out
        self._error = error
        self._buffer.clear()
        return error

    def _skip_crlf(self) -> bool:
        """Drop keep-alive CRLFs; False if the buffer ends in half a CRLF."""
        buf = self._buffer
        i = 0
        # The pairing state lives across reads, not in the buffer, so a ping
        # split "\r\n" | "\r\n" is still one ping (RFC 5626 §3.5.1).
        while buf.startswith(b"\r\n", i):
            if self._half_ping:
                self.pings += 1
            self._half_ping = not self._half_ping
            i += 2
        del buf[:i]
        if buf == b"\r":
            return False  # a third CR or the start of a message: wait and see
        if buf and self._half_ping:
            # Something other than a CRLF follows: the run ended on a lone CRLF.
            self._half_ping = False
            self.pongs += 1
        return True

    def feed(self, data: bytes) -> list[Request | Response]:
        if self._error is not None:
            if self._ready:  # what came before the break, not yet taken
                return self.take_messages()
            raise self._error
        self._buffer += data
        out, self._ready = self._ready, []
        return self._frame(out, collect=False)

    def feed_with_errors(
        self, data: bytes
    ) -> tuple[list[Request | Response], list[tuple[bytes, SipParseError]]]:
        """The messages completed by ``data`` and the bad ones skipped (their
        bytes and why), in stream order each; raises only for a framing error
        (``broken``), when ``rejected`` still holds what was skipped before it
        and :meth:`take_messages` what was completed before it."""
        if self._error is not None:
            if self._ready:  # what came before the break, not yet taken
                rejected, self.rejected = self.rejected, []
                return self.take_messages(), rejected
            raise self._error
        self._buffer += data
        out, self._ready = self._ready, []
        self._frame(out, collect=True)
        rejected, self.rejected = self.rejected, []
        return out, rejected

    def _reject(self, chunk: bytes, error: SipParseError) -> None:
        # Bounded: a caller of feed() that never drains it keeps the newest.
        if len(self.rejected) >= MAX_REJECTED:
            del self.rejected[0]
        self.rejected.append((chunk, error))

    def _frame(self, out: list[Request | Response], *, collect: bool) -> list[Request | Response]:
        while self._skip_crlf() and self._buffer:
            buf = self._buffer
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._max:
                    raise self._fail(SipParseError("header section too large", 513), out)
                break
            # Search from the line before the first header so "\r\n" anchors it.
            lengths = _CONTENT_LENGTH.findall(buf, 0, end + 2)
            if len(lengths) != 1:
                what = "missing" if not lengths else "repeated"
                raise self._fail(SipParseError(f"Content-Length {what} on a stream"), out)
            value = lengths[0].strip(b" \t")
            if not _DIGITS.fullmatch(value):
                raise self._fail(SipParseError("bad Content-Length on a stream"), out)
            length = int(value)
            if length > MAX_BODY_SIZE:
                raise self._fail(SipParseError("body too large", 413), out)
            total = end + 4 + length
            if total > self._max:
                raise self._fail(SipParseError("message too large", 513), out)
            if len(buf) < total:
                break
            chunk = bytes(buf[:total])
            del buf[:total]
            try:
                out.append(_parse(chunk, datagram=False))
            except SipParseError as error:
                self._reject(chunk, error)
                if not collect:
                    self._ready = out
                    raise
        return out
