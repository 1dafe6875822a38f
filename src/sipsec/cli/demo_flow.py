"""The trapezoid's messages as ladder rows, labelled F1–F14 (RFC 3261 §4, §24.2).

Input: the message traces of the four nodes (each transport reports every
SIP message it sent or received, in clear text).  Each message is drawn once,
from its ``out`` record at the sender; the receiver is found from the
addresses the nodes used themselves, and its ``in`` record of the same bytes
gives the arrival time.

Labels follow RFC 3261 Figure 1: INVITE F1 (Alice → atlanta), F2 (atlanta →
biloxi), 100 Trying F3/F5, INVITE F4 (biloxi → Bob), 180 Ringing F6–F8,
200 OK F9–F11, ACK F12 and BYE F13 directly between the UAs, and the 200 OK
to the BYE F14.  A request that was challenged (401/407) and everything of its
transaction are shown unlabelled as the Digest exchange (RFC 3261 §22.2,
§22.3) that precedes the labelled message; a retransmission is marked as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sipsec.sdp import carries_key_material
from sipsec.sip import Request, Response, SipParseError, parse_message
from sipsec.transport.trace import TraceRecord

__all__ = ["NODES", "LadderRow", "Observed", "build_ladder", "describe_body", "missing_labels"]

# Lanes left to right, as in the figure.
NODES = ("alice", "atlanta", "biloxi", "bob")
LABELS = tuple(f"F{i}" for i in range(1, 15))

# (what, from, to) -> label, for the hops of RFC 3261 Figure 1.
_RULES: dict[tuple[str, str, str], str] = {
    ("INVITE", "alice", "atlanta"): "F1",
    ("INVITE", "atlanta", "biloxi"): "F2",
    ("100 INVITE", "atlanta", "alice"): "F3",
    ("INVITE", "biloxi", "bob"): "F4",
    ("100 INVITE", "biloxi", "atlanta"): "F5",
    ("180 INVITE", "bob", "biloxi"): "F6",
    ("180 INVITE", "biloxi", "atlanta"): "F7",
    ("180 INVITE", "atlanta", "alice"): "F8",
    ("200 INVITE", "bob", "biloxi"): "F9",
    ("200 INVITE", "biloxi", "atlanta"): "F10",
    ("200 INVITE", "atlanta", "alice"): "F11",
}
# End to end, on every hop they take (direct in the figure; with
# Record-Route they pass the proxies, each leg labelled alike).
_DIALOG_LABELS = {"ACK": "F12", "BYE": "F13", "200 BYE": "F14"}
# Each of them follows the one before: an ACK is F12 only after the 200 OK F11.
_PREVIOUS = {"F12": "F11", "F13": "F12", "F14": "F13"}


@dataclass(frozen=True, slots=True)
class Observed:
    """A trace record and the node ("alice", "atlanta", …) that recorded it."""

    node: str
    record: TraceRecord


@dataclass(slots=True)
class LadderRow:
    """One message on one hop."""

    time: float  # when the sender sent it (wall clock)
    source: str
    target: str  # a node name, or "?" when the address is nobody's
    summary: str  # "INVITE sips:bob@biloxi.example", "180 Ringing"
    transport: str  # "UDP", "TCP", "TLS"
    message: Request | Response | None
    label: str | None = None
    received: float | None = None  # arrival at the target, when it recorded it
    tls_peer: str | None = None  # identity the sender verified, for TLS
    body: str = ""  # what the body is, see describe_body
    notes: list[str] = field(default_factory=list)
    local: tuple[str, int] = ("", 0)  # the sender's address on this hop
    remote: tuple[str, int] = ("", 0)  # where it went


def describe_body(message: Request | Response, transport: str) -> str:
    """What a proxy on this hop sees of the body, in a few words."""
    if not message.body:
        return ""
    ctype = message.headers.get("Content-Type") or ""
    media = ctype.split(";", 1)[0].strip().lower()
    if media == "multipart/signed":
        inner = b"application/pkcs7-mime" in message.body.lower()
        return "S/MIME signed + encrypted" if inner else "S/MIME signed (SDP readable)"
    if media in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return "S/MIME encrypted"
    if media == "application/sdp":
        if carries_key_material(message.body):
            return "SDP with SRTP key in clear" + (" (inside TLS)" if transport == "TLS" else "!")
        return "SDP in clear"
    return media or "body"


def _summary(message: Request | Response) -> str:
    if isinstance(message, Request):
        return f"{message.method} {message.uri}"
    return f"{message.status} {message.reason}"


def _kind(message: Request | Response) -> str:
    if isinstance(message, Request):
        return message.method
    cseq = message.cseq
    return f"{message.status} {cseq.method if cseq else '?'}"


def _branch(message: Request | Response) -> str | None:
    via = message.top_via
    return via.branch if via else None


def build_ladder(observed: Iterable[Observed]) -> list[LadderRow]:
    """Rows in sending order, labelled; messages that do not parse are kept
    as rows with ``message=None`` (a trace shows everything that happened)."""
    records = sorted(observed, key=lambda o: o.record.time)
    owner = {o.record.local: o.node for o in records}
    arrivals: dict[tuple[str, bytes], list[float]] = {}
    for o in records:
        if o.record.direction == "in":
            arrivals.setdefault((o.node, o.record.data), []).append(o.record.time)

    rows: list[LadderRow] = []
    for o in records:
        record = o.record
        if record.direction != "out":
            continue
        target = owner.get(record.remote, "?")
        message: Request | Response | None
        try:
            message = parse_message(record.data)
            summary = _summary(message)
        except SipParseError as exc:
            message, summary = None, f"unparseable ({exc.reason})"
        row = LadderRow(record.time, o.node, target, summary, record.transport.upper(), message)
        row.tls_peer = record.tls_peer
        row.local, row.remote = record.local, record.remote
        pending = arrivals.get((target, record.data))
        if pending:
            row.received = pending.pop(0)
        rows.append(row)
    _label(rows)
    return rows


def _label(rows: list[LadderRow]) -> None:
    # Transactions that met a Digest challenge: their rows are the exchange
    # before the labelled message, not the labelled message itself.
    challenged: set[str] = set()
    for row in rows:
        msg = row.message
        if isinstance(msg, Response) and msg.status in (401, 407):
            branch = _branch(msg)
            if branch:
                challenged.add(branch)
    used: set[str] = set()
    seen: dict[tuple[str, str, bytes], str] = {}
    for row in rows:
        msg = row.message
        if msg is None:
            continue
        row.body = describe_body(msg, row.transport)
        if msg.headers.get("Authorization") or msg.headers.get("Proxy-Authorization"):
            row.notes.append("Digest credentials")
        key = (row.source, row.target, bytes(msg))
        if key in seen:
            row.notes.append(f"retransmission of {seen[key]}")
            continue
        seen[key] = row.summary
        if isinstance(msg, Response) and msg.status in (401, 407):
            row.notes.append("Digest challenge")
            continue
        if _branch(msg) in challenged:
            row.notes.append("challenged, retried with credentials")
            continue
        kind = _kind(msg)
        label = _RULES.get((kind, row.source, row.target))
        if label is None and {row.source, row.target} <= set(NODES):
            label = _DIALOG_LABELS.get(kind)
            if label is not None and _PREVIOUS[label] not in used:
                label = None  # e.g. the hop-by-hop ACK of a failed INVITE (§17.1.1.3)
            elif label in used and label is not None and not _another_leg(rows, row, label):
                label = None
        elif label in used:
            label = None
        if label is not None:
            row.label = label
            seen[key] = label
            used.add(label)


def _another_leg(rows: list[LadderRow], row: LadderRow, label: str) -> bool:
    """Whether ``row`` continues the end-to-end ``label`` on a further hop
    (same Call-ID and CSeq, each leg starting where the previous one ended)."""
    assert row.message is not None
    for prior in rows:
        if prior is row:
            return False
        if prior.label != label or prior.message is None:
            continue
        same = (prior.message.call_id, str(prior.message.cseq)) == (
            row.message.call_id,
            str(row.message.cseq),
        )
        if same and prior.target == row.source:
            return True
    return False


def missing_labels(rows: Iterable[LadderRow]) -> list[str]:
    """F-labels of the figure that no row carries."""
    present = {row.label for row in rows}
    return [label for label in LABELS if label not in present]
