"""The header section: an ordered, case-insensitive multi-map (RFC 3261 §7.3).

Each entry keeps the name as written, the value (folds turned into one SP,
§7.3.1) and, for parsed headers, the exact wire text of its line(s), so that
headers nobody touched are written back byte for byte. Compact forms (§7.3.3,
§20) are looked up under their long names. Typed views (Via, CSeq …) are
cached per header here and dropped whenever that header changes, except
that a prepended Via is parsed into the cached Via list (a proxy's, §16.6).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sipsec.errors import LocalProtocolError

from .errors import SipParseError
from .via import parse_via

__all__ = ["COMPACT_FORMS", "LIST_HEADERS", "Headers", "canonical_name", "split_list"]

T = TypeVar("T")

#: RFC 3261 §20 and the extensions that registered a compact form.
COMPACT_FORMS = {
    "a": "accept-contact",  # RFC 3841
    "b": "referred-by",  # RFC 3892
    "c": "content-type",
    "d": "request-disposition",  # RFC 3841
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",  # RFC 3841
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",  # RFC 4474
    "o": "event",  # RFC 3265
    "r": "refer-to",  # RFC 3515
    "s": "subject",
    "t": "to",
    "u": "allow-events",  # RFC 3265
    "v": "via",
    "x": "session-expires",  # RFC 4028
    "y": "identity",  # RFC 4474
}

_CANONICAL = {
    name.lower(): name
    for name in (  # noqa: SIM905
        "Accept Accept-Contact Accept-Encoding Accept-Language Alert-Info Allow Allow-Events "
        "Authentication-Info Authorization Call-ID Call-Info Contact Content-Disposition "
        "Content-Encoding Content-Language Content-Length Content-Type CSeq Date Error-Info "
        "Event Expires From Identity Identity-Info In-Reply-To Max-Forwards MIME-Version "
        "Min-Expires Organization Path Priority Proxy-Authenticate Proxy-Authorization "
        "Proxy-Require RAck Reason Record-Route Refer-To Referred-By Reject-Contact Reply-To "
        "Request-Disposition Require Retry-After Route RSeq Security-Client Security-Server "
        "Security-Verify Server Service-Route Session-Expires Subject Supported Timestamp To "
        "Unsupported User-Agent Via Warning WWW-Authenticate"
    ).split()
}

#: Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1): only
#: these may be split at commas or combined into one line.
LIST_HEADERS = frozenset(
    {
        *("accept", "accept-contact", "accept-encoding", "accept-language", "alert-info"),
        *("allow", "allow-events", "call-info", "contact", "content-encoding"),
        *("content-language", "error-info", "in-reply-to", "path", "proxy-require"),
        *("reason", "record-route", "reject-contact", "request-disposition", "require"),
        *("route", "security-client", "security-server", "security-verify"),
        *("service-route", "supported", "unsupported", "via", "warning"),
    }
)

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def _lower_key(name: str) -> str:
    lower = name.lower()
    return COMPACT_FORMS.get(lower, lower)


# Spellings seen on the wire → key, so that parsing skips lower() and the
# compact-form lookup for them (a fixed table: attacker names never enter it).
_KEYS: dict[str, str] = {}
for _name in [*_CANONICAL.values(), *_CANONICAL, *COMPACT_FORMS]:
    for _spelling in (_name, _name.upper(), _name.lower()):
        _KEYS[_spelling] = _lower_key(_spelling)


def _key(name: str) -> str:
    """The key a header is stored under: lower case, compact forms expanded."""
    key = _KEYS.get(name)
    return key if key is not None else _lower_key(name)


#: One header line: key, name as written, value (folds joined by one SP,
#: stripped), wire text (None for a line added in code). Entries are never
#: changed in place, so copies of a header section share them.
Entry = tuple[str, str, str, str | None]
_new = object.__new__


def canonical_name(name: str) -> str:
    """``"v"`` / ``"VIA"`` → ``"Via"``; unknown names are returned unchanged."""
    key = _key(name)
    return _CANONICAL.get(key, name if len(name) > 1 else key)


def split_list(value: str) -> list[str]:
    """Split a list header value at the commas that separate elements.

    Commas inside quoted strings (with ``\\`` escapes) and inside ``<...>``
    do not split. Empty elements are dropped (RFC 7230 §7 tolerance).
    """
    if "," not in value:
        stripped = value.strip(" \t")
        return [stripped] if stripped else []
    items: list[str] = []
    start = 0
    quoted = angle = escaped = False
    for i, c in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            angle = True
        elif c == ">":
            angle = False
        elif c == "," and not angle:
            items.append(value[start:i])
            start = i + 1
    items.append(value[start:])
    return [s for s in (item.strip(" \t") for item in items) if s]


_NOT_COPIED = object()
_SHARED = frozenset({str, int, float, bool, type(None)})  # immutable: shared by copies


def _copy_view(value: Any) -> Any:
    """A copy of a cached typed view, or _NOT_COPIED for a kind this does
    not know (the copy then parses it again when read)."""
    kind = type(value)
    if kind in _SHARED:
        return value
    if kind is list:
        out = []
        for item in value:
            copied = item if type(item) in _SHARED else _copy_view(item)
            if copied is _NOT_COPIED:
                return _NOT_COPIED
            out.append(copied)
        return out
    copy = getattr(kind, "_copy", None)
    return _NOT_COPIED if copy is None else copy(value)


class Headers:
    """Ordered multi-map of header fields; names compare case-insensitively.

    Iteration yields ``(name, value)`` in wire order with names as written.
    """

    __slots__ = ("_cache", "_entries", "modified")

    def __init__(self, items: Any = ()) -> None:
        self._entries: list[Entry] = []
        self._cache: dict[str, Any] = {}
        self.modified = False
        for name, value in items:
            self.add(name, value)

    @classmethod
    def _from_wire(cls, entries: list[Entry]) -> Headers:
        headers = cls.__new__(cls)
        headers._entries = entries
        headers._cache = {}
        headers.modified = False
        return headers

    # -- reading ----------------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first header line called ``name``."""
        key = _key(name)
        for entry in self._entries:
            if entry[0] == key:
                return str(entry[2])
        return default

    def get_lines(self, name: str) -> list[str]:
        """The value of every header line called ``name``, unsplit."""
        key = _key(name)
        return [e[2] for e in self._entries if e[0] == key]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``: list headers split at their commas, and
        repeated header lines alike (RFC 3261 §7.3.1), in order."""
        key = _key(name)
        lines = [e[2] for e in self._entries if e[0] == key]
        if key not in LIST_HEADERS:
            return lines
        out: list[str] = []
        for line in lines:
            out += split_list(line)
        return out

    def count(self, name: str) -> int:
        """How many header lines are called ``name``."""
        key = _key(name)
        return sum(1 for e in self._entries if e[0] == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = _key(name)
        return any(e[0] == key for e in self._entries)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(e[1], e[2]) for e in self._entries])

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(e[0], e[2]) for e in self._entries] == [(e[0], e[2]) for e in other._entries]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def copy(self) -> Headers:
        """An independent copy. It keeps the typed views parsed so far (a
        proxy reads them again on each branch's copy, §16.6): immutable
        values are shared, Via, name-addr, CSeq and the like are copied, so
        that changing one side never changes the other."""
        other: Headers = _new(Headers)
        other._entries = self._entries.copy()
        cache: dict[str, Any] = {}
        for key, value in self._cache.items():
            copied = _copy_view(value)
            if copied is not _NOT_COPIED:
                cache[key] = copied
        other._cache = cache
        other.modified = self.modified
        return other

    # -- changing ---------------------------------------------------------------------
    def _entry(self, name: str, value: str) -> Entry:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise LocalProtocolError(f"bad header name {name!r}")
        value = str(value)
        if "\r" in value or "\n" in value or "\x00" in value:
            raise LocalProtocolError(f"header {name} value contains CR, LF or NUL")
        return (_key(name), canonical_name(name), value.strip(" \t"), None)

    def _changed(self, key: str) -> None:
        self.modified = True
        self._cache.pop(key, None)

    def add(self, name: str, value: str) -> None:
        """Append a header line."""
        entry = self._entry(name, value)
        self._entries.append(entry)
        self._changed(entry[0])

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before the first line of the same name (the top
        Via or Record-Route, §16.6 steps 4 and 8), or first of all."""
        entry = self._entry(name, value)
        key = entry[0]
        for i, e in enumerate(self._entries):
            if e[0] == key:
                self._entries.insert(i, entry)
                break
        else:
            self._entries.insert(0, entry)
        vias = self._cache.get("via") if key == "via" else None
        if vias is not None:
            # A proxy adds its Via to every request it forwards (§16.6 step 8)
            # and reads it back for the client transaction: the parsed list
            # gains the new values in front instead of being parsed again.
            # (The Via view is every line's parse_via() in order; see message.py.)
            try:
                self._cache["via"] = parse_via(entry[2]) + vias
            except SipParseError:  # a bad value: the view raises when read, as before
                pass
            else:
                self.modified = True
                return
        self._changed(key)

    def set(self, name: str, value: str) -> None:
        """Replace every line called ``name`` by one line, where the first was."""
        entry = self._entry(name, value)
        key = entry[0]
        for i, e in enumerate(self._entries):
            if e[0] == key:
                self._entries[i] = entry
                self._entries[i + 1 :] = [e for e in self._entries[i + 1 :] if e[0] != key]
                break
        else:
            self._entries.append(entry)
        self._changed(key)

    def remove(self, name: str) -> int:
        """Remove every line called ``name``; returns how many there were."""
        key = _key(name)
        before = len(self._entries)
        self._entries = [e for e in self._entries if e[0] != key]
        removed = before - len(self._entries)
        if removed:
            self._changed(key)
        return removed

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first value of a list header (the top Via a
        proxy strips from a response, §16.7 step 3), leaving the rest of a
        combined line in place."""
        key = _key(name)
        for i, e in enumerate(self._entries):
            if e[0] == key:
                values = split_list(e[2]) if key in LIST_HEADERS else [e[2]]
                if len(values) <= 1:
                    del self._entries[i]
                else:
                    self._entries[i] = (key, e[1], ", ".join(values[1:]), None)
                self._changed(key)
                return values[0] if values else ""
        return None

    # -- typed views ------------------------------------------------------------------
    def typed(self, name: str, parse: Callable[[list[str]], T]) -> T:
        """``parse(get_lines(name))``, cached until the header changes."""
        key = _key(name)
        try:
            return self._cache[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = parse([e[2] for e in self._entries if e[0] == key])
        self._cache[key] = value
        return value

    # -- serialization ----------------------------------------------------------------
    def _wire_lines(self) -> list[str]:
        return [e[3] if e[3] is not None else f"{e[1]}: {e[2]}" for e in self._entries]
