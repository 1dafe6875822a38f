"""The top Via of a request as the fast relay reads it (RFC 3261 §20.42, §18.2.1, RFC 3581).

:func:`parse_top_via` accepts one ``SIP/2.0/UDP`` value in a plain shape —
a host, maybe a port, token parameters, an RFC 3261 branch, no
``received``, ``maddr`` or filled ``rport`` of the sender's own (those
change where §18.2.2 answers: the full path's) — and returns None for any
other. The verdict on all but the branch is memoised by the value with its
branch replaced, so a UA's next request costs one dict lookup and a token
check (``tests/proxy/test_relay_via.py`` holds the memo against the pattern).
"""

from __future__ import annotations

import re

from .relay_shapes import TOKEN_CHARS, remember

__all__ = ["STAND_IN", "ViaTop", "parse_top_via"]

_VIA = re.compile(
    rb"SIP/2\.0/UDP ([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    rb"(?::([0-9]{1,5}))?((?:;[a-z0-9._~!%*+`'-]+(?:=[A-Za-z0-9._~!%*+`'-]+)?)*)"
)
_BRANCH_COOKIE = b"z9hG4bK"


class ViaTop:
    """The top Via of a request, as far as the relay reads it."""

    __slots__ = (
        "branch", "branch_at", "host", "params", "port", "rport", "sent_by", "skeleton", "written",
    )  # fmt: skip

    def __init__(
        self,
        host: bytes,
        port: bytes | None,
        params: list[tuple[bytes, bytes | None]],
        branch: bytes,
        rport: bool,
    ) -> None:
        self.host = host
        number = int(port) if port is not None else None
        self.port = number
        self.params = params
        self.branch = branch
        # where the branch sits among the parameters (a name appears once)
        self.branch_at = [name for name, _ in params].index(b"branch")
        self.rport = rport
        host = host.lower()
        # the §17.2.3 key's sent-by (port as a number) and, for §16.3 step 4's
        # loop check, the sent-by as written (what sent_bys reads)
        self.sent_by = host + (b":%d" % number if number is not None else b":5060")
        self.written = host + (b":" + port if port is not None else b":5060")
        # the value with its branch replaced by STAND_IN, when parse_top_via read it so:
        # what a memo of anything but the branch may be keyed by
        self.skeleton: bytes | None = None

    def with_branch(self, branch: bytes) -> ViaTop:
        """This Via with another branch (in the same place among the parameters)."""
        via = ViaTop.__new__(ViaTop)
        via.host, via.port, via.rport = self.host, self.port, self.rport
        via.sent_by, via.written, via.branch = self.sent_by, self.written, branch
        via.skeleton = self.skeleton
        via.branch_at = at = self.branch_at
        via.params = params = self.params.copy()
        params[at] = (b"branch", branch)
        return via


STAND_IN = b"z9hG4bK0"  # a branch in the accepted shape
_NEW = ViaTop.__new__
_UNSEEN = ViaTop(b"", None, [(b"branch", STAND_IN)], STAND_IN, False)  # not in the memo
_SKELETONS: dict[bytes, ViaTop | None] = {}


def parse_top_via(value: bytes) -> ViaTop | None:
    """The single Via value ``value`` in the relay's accepted shape, or None.

    Only the branch differs from one request of a UA to the next, so the
    verdict on the rest is remembered: the value with its (first) branch
    replaced by a stand-in is parsed once; the real branch then needs only
    to be a token (what the pattern allows a parameter value to be: no
    ``;``, so the parameters around it are the stand-in's) and not the bare
    cookie."""
    pre, sep, post = value.partition(b";branch=")
    if not sep:
        return None  # no branch parameter (RFC 2543 or worse): the full path's
    branch, semi, rest = post.partition(b";")
    skeleton = pre + sep + STAND_IN + semi + rest
    proto = _SKELETONS.get(skeleton, _UNSEEN)
    if proto is _UNSEEN:
        proto = _parse_top_via(skeleton)
        if proto is not None:
            proto.skeleton = skeleton
        if len(skeleton) <= 256:
            remember(_SKELETONS, skeleton, proto, 1024)
    if proto is None or not branch.startswith(_BRANCH_COOKIE) or branch == _BRANCH_COOKIE:
        return None
    if branch.translate(None, TOKEN_CHARS):
        return None  # a byte no parameter value may hold
    # proto.with_branch(branch), inline (one per request)
    via = _NEW(ViaTop)
    via.host, via.port, via.rport = proto.host, proto.port, proto.rport
    via.sent_by, via.written, via.branch = proto.sent_by, proto.written, branch
    via.skeleton = skeleton
    via.branch_at = at = proto.branch_at
    via.params = params = proto.params.copy()
    params[at] = (b"branch", branch)
    return via


def _parse_top_via(value: bytes) -> ViaTop | None:
    m = _VIA.fullmatch(value)
    if m is None:
        return None
    host, port_text, rest = m.groups()
    params: list[tuple[bytes, bytes | None]] = []
    values: dict[bytes, bytes | None] = {}
    for item in rest.split(b";")[1:]:
        name, eq, val = item.partition(b"=")
        if name in values:
            return None  # a parameter twice
        values[name] = val = val if eq else None
        params.append((name, val))
    branch = values.get(b"branch")
    if branch is None or not branch.startswith(_BRANCH_COOKIE) or branch == _BRANCH_COOKIE:
        return None
    # A received or maddr of the sender's own, or a filled rport, changes where
    # §18.2.2 answers: the full path reads those.
    if b"received" in values or b"maddr" in values or values.get(b"rport") is not None:
        return None
    if port_text is not None and not 0 < int(port_text) < 65536:
        return None
    return ViaTop(host, port_text, params, branch, b"rport" in values)
