"""A session description and its media descriptions (RFC 8866 §5).

The wire API is bytes: ``parse_sdp(data)`` and ``bytes(description)``, and
``bytes(parse_sdp(data)) == data`` for every ``data`` that parses. That holds
because the parser accepts only what formats back identically: the line
order of §5 (which the serializer also writes), one kind of line ending per
body (CRLF as §5 says, or bare LF, which §5 lets parsers accept — remembered
in ``eol``), and UTF-8 text (§5; the ``a=charset`` of §6.10 is not supported).
Anything else raises :class:`SdpError` with status 400 and nothing else.

The dataclasses are also the builder: fill them in code, ``bytes()`` them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sipsec.sdp.errors import SdpError
from sipsec.sdp.lines import (
    Attribute,
    Bandwidth,
    Connection,
    KeyField,
    MediaLine,
    Origin,
    Repeat,
    Timing,
    ZoneAdjustments,
)

__all__ = ["MAX_SDP_SIZE", "MediaDescription", "SessionDescription", "TimeDescription", "parse_sdp"]

MAX_SDP_SIZE = 65536  # far above any real body; bounds the work a peer can cause


class _Attributes:
    """Look-ups shared by the session and media levels."""

    attributes: list[Attribute]

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    def attribute_values(self, name: str) -> list[str]:
        return [a.value or "" for a in self.attributes if a.name == name]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def add_attribute(self, name: str, value: str | None = None) -> None:
        self.attributes.append(Attribute(name, value))


@dataclass(slots=True)
class TimeDescription:
    """``t=`` and the ``r=`` lines that follow it (§5.9, §5.10)."""

    timing: Timing = field(default_factory=Timing)
    repeats: list[Repeat] = field(default_factory=list)


@dataclass(slots=True)
class MediaDescription(_Attributes):
    """An ``m=`` section (§5.14) with its own ``i= c= b= k= a=`` lines."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: KeyField | None = None
    attributes: list[Attribute] = field(default_factory=list)

    def lines(self) -> Iterator[str]:
        yield (
            "m="
            + MediaLine(self.media, self.port, self.proto, self.formats, self.port_count).value()
        )
        if self.information is not None:
            yield "i=" + self.information
        yield from ("c=" + c.value() for c in self.connections)
        yield from ("b=" + b.value() for b in self.bandwidths)
        if self.key is not None:
            yield "k=" + self.key.text()
        yield from ("a=" + a.text() for a in self.attributes)


@dataclass(slots=True)
class SessionDescription(_Attributes):
    """A whole SDP body. Defaults make a minimal valid one (``s=-``, ``t=0 0``)."""

    origin: Origin = field(default_factory=Origin)
    name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    times: list[TimeDescription] = field(default_factory=lambda: [TimeDescription()])
    zone: ZoneAdjustments | None = None
    key: KeyField | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    eol: str = "\r\n"
    final_eol: bool = True  # False when the last line had no line ending

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        return parse_sdp(data)

    def lines(self) -> Iterator[str]:
        yield "v=0"
        yield "o=" + self.origin.value()
        yield "s=" + self.name
        if self.information is not None:
            yield "i=" + self.information
        if self.uri is not None:
            yield "u=" + self.uri
        yield from ("e=" + e for e in self.emails)
        yield from ("p=" + p for p in self.phones)
        if self.connection is not None:
            yield "c=" + self.connection.value()
        yield from ("b=" + b.value() for b in self.bandwidths)
        for t in self.times:
            yield "t=" + t.timing.value()
            yield from ("r=" + r.value() for r in t.repeats)
        if self.zone is not None:
            yield "z=" + self.zone.value()
        if self.key is not None:
            yield "k=" + self.key.text()
        yield from ("a=" + a.text() for a in self.attributes)
        for m in self.media:
            yield from m.lines()

    def __bytes__(self) -> bytes:
        """The body. A built value holding CR, LF or NUL (a line injected into
        the body) or text that is not Unicode is refused with status 500: the
        bug is ours, not the peer's."""
        if self.eol not in ("\r\n", "\n"):
            raise SdpError("eol is CRLF or LF", 500)
        lines = list(self.lines())
        for line in lines:
            if "\r" in line or "\n" in line or "\x00" in line:
                raise SdpError(f"{line[:2]} value holds CR, LF or NUL", 500)
        text = self.eol.join(lines) + (self.eol if self.final_eol else "")
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise SdpError("SDP text is not encodable as UTF-8", 500) from None

    def validate(self) -> SessionDescription:
        """Check a built description against the grammar: it is parsed back."""
        return parse_sdp(bytes(self))

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The media's first ``c=``, else the session's (§5.7)."""
        return media.connections[0] if media.connections else self.connection


# §5: the order of lines. Session: rank of each type; "t" and "r" share one.
_SESSION_RANK = {"v": 0, "o": 1, "s": 2, "i": 3, "u": 4, "e": 5, "p": 6, "c": 7, "b": 8,
                 "t": 9, "r": 9, "z": 10, "k": 11, "a": 12}  # fmt: skip
_MEDIA_RANK = {"i": 1, "c": 2, "b": 3, "k": 4, "a": 5}
_SINGLE = {"v", "o", "s", "i", "u", "c", "z", "k"}  # at most once per level (c= is * in media)


def _split_lines(data: bytes) -> tuple[list[str], str, bool]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SdpError("an SDP body is bytes")
    if len(data) > MAX_SDP_SIZE:
        raise SdpError(f"SDP body larger than {MAX_SDP_SIZE} octets")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP body is not UTF-8 text (RFC 8866 §5)") from None
    if not text:
        raise SdpError("empty SDP body")
    eol = "\r\n" if "\r\n" in text else "\n"
    final_eol = text.endswith(eol)
    body = text[: -len(eol)] if final_eol else text
    lines = body.split(eol)
    for line in lines:
        if "\r" in line or "\n" in line or "\x00" in line:
            raise SdpError("stray CR, LF or NUL: one line ending per body, CRLF or LF")
    return lines, eol, final_eol


def parse_sdp(data: bytes) -> SessionDescription:
    """Parse an SDP body (RFC 8866 §5); :class:`SdpError` (400) for anything invalid."""
    lines, eol, final_eol = _split_lines(data)
    session = SessionDescription(times=[], eol=eol, final_eol=final_eol)
    media: MediaDescription | None = None
    rank = -1
    seen: set[str] = set()
    session_seen = seen
    for number, line in enumerate(lines, 1):
        if len(line) < 2 or line[1] != "=" or not "a" <= line[0] <= "z":
            raise SdpError(f"line {number} is not <type>=<value>")
        kind, value = line[0], line[2:]
        try:
            if kind == "m":
                mline = MediaLine.parse(value)
                media = MediaDescription(
                    mline.media, mline.port, mline.proto, mline.formats, mline.port_count
                )
                session.media.append(media)
                rank, seen = 0, set()
                continue
            ranks = _SESSION_RANK if media is None else _MEDIA_RANK
            if kind not in ranks:
                # §5: a parser MUST ignore or reject a type letter it does not know.
                raise SdpError(f"{kind}= line not allowed here")
            if ranks[kind] < rank or (kind in _SINGLE and kind in seen and kind != "c"):
                raise SdpError(f"{kind}= line out of order or repeated (RFC 8866 §5)")
            if media is None and kind == "c" and "c" in seen:
                raise SdpError("c= line repeated at session level")
            if kind == "r" and not session.times:
                raise SdpError("r= without t=")
            rank = ranks[kind]
            seen.add(kind)
            if media is None:
                _session_line(session, kind, value)
            else:
                _media_line(media, kind, value)
        except SdpError as exc:
            raise SdpError(f"line {number}: {exc.reason}") from None
    if not {"v", "o", "s"} <= session_seen or not session.times:
        raise SdpError("v=, o=, s= and at least one t= line are required (RFC 8866 §5)")
    return session


def _session_line(session: SessionDescription, kind: str, value: str) -> None:
    if kind == "v":
        if value != "0":
            raise SdpError("only SDP version 0 exists (v=0)")
    elif kind == "o":
        session.origin = Origin.parse(value)
    elif kind == "s":
        session.name = value
    elif kind == "i":
        session.information = value
    elif kind == "u":
        session.uri = value
    elif kind == "e":
        session.emails.append(value)
    elif kind == "p":
        session.phones.append(value)
    elif kind == "c":
        session.connection = Connection.parse(value)
    elif kind == "b":
        session.bandwidths.append(Bandwidth.parse(value))
    elif kind == "t":
        session.times.append(TimeDescription(Timing.parse(value)))
    elif kind == "r":
        session.times[-1].repeats.append(Repeat.parse(value))
    elif kind == "z":
        session.zone = ZoneAdjustments.parse(value)
    elif kind == "k":
        session.key = KeyField.parse(value)
    else:
        session.attributes.append(Attribute.parse(value))


def _media_line(media: MediaDescription, kind: str, value: str) -> None:
    if kind == "i":
        media.information = value
    elif kind == "c":
        media.connections.append(Connection.parse(value))
    elif kind == "b":
        media.bandwidths.append(Bandwidth.parse(value))
    elif kind == "k":
        media.key = KeyField.parse(value)
    else:
        media.attributes.append(Attribute.parse(value))
