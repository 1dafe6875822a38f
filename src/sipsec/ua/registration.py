"""REGISTER (RFC 3261 §10.2): the requests, the bindings a 200 grants, and
when to refresh.

One :class:`Registration` per UA keeps what §10.2 says must stay the same
across refreshes — Call-ID and From tag (§10.2.4: "SHOULD use the same
Call-ID") — and the CSeq that grows by one per request.

When to refresh: a binding granted for ``expires`` seconds is refreshed
after ``max(expires / 2, expires - 64*T1)``. 64*T1 (32 s by default) is
Timer F, the longest a REGISTER transaction can stay unanswered, so even a
refresh that goes unanswered fails — and the app hears about it — while the
old binding still holds; short bindings (under 2*64*T1) refresh at half
life, as most UAs do, so a 60-second binding is renewed after 30 s and
never after its last second.
"""

from __future__ import annotations

import enum

from sipsec.sip import (
    Headers,
    Request,
    Response,
    SipParseError,
    SipUri,
    generate_call_id,
    generate_tag,
    parse_uri,
)

__all__ = ["Registration", "RegistrationState", "granted_expires", "refresh_delay"]

#: Retry a failed refresh after this long when the registrar named no time.
RETRY_AFTER_FAILURE = 30.0


class RegistrationState(enum.Enum):
    __hash__ = object.__hash__

    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    UNREGISTERING = "unregistering"


def refresh_delay(expires: int, t1: float) -> float:
    """Seconds from the 200 to the refresh (see the module doc)."""
    return max(expires / 2, expires - 64 * t1)


def granted_expires(response: Response, contact: str | None, requested: int) -> int:
    """How long the registrar keeps our binding (§10.2.4): the ``expires``
    parameter of our Contact in the 200, else its Expires header, else what
    we asked for."""
    # A registrar's malformed value is skipped, never fatal: the next source
    # in that order still answers.
    try:
        ours = _uri_or_none(contact)
        bindings = response.contacts
    except SipParseError:
        ours, bindings = None, []
    for binding in bindings:
        try:
            if ours is not None and binding.uri == ours and binding.expires is not None:
                return binding.expires
        except SipParseError:
            continue
    try:
        if response.expires is not None:
            return response.expires
    except SipParseError:
        pass
    return requested


def _uri_or_none(text: str | None) -> SipUri | None:
    if text is None:
        return None
    uri = parse_uri(text)
    return uri if isinstance(uri, SipUri) else None


class Registration:
    """The REGISTER dialog-like state of one AOR (§10.2)."""

    def __init__(self, aor: SipUri, display_name: str | None = None) -> None:
        self.aor = aor
        self.registrar = SipUri(aor.host, scheme=aor.scheme, port=aor.port)  # §10.2: no user
        self.call_id = generate_call_id()
        self.from_tag = generate_tag()
        self.cseq = 0
        self.display_name = display_name
        self.state = RegistrationState.IDLE
        self.requested = 0  # the expires of the request in flight
        self.expires = 0  # what the last 200 granted
        self.bindings: list[str] = []
        self.contact: str | None = None  # our Contact URI as last sent

    def build(self, expires: int) -> Request:
        """A REGISTER without Via and Contact (the sender adds both: they
        depend on the transport chosen). CSeq is one more than the last."""
        self.cseq += 1
        self.requested = expires
        name = f'"{self.display_name}" ' if self.display_name else ""
        headers = Headers()
        headers.add("Max-Forwards", "70")
        headers.add("To", f"{name}<{self.aor}>")
        headers.add("From", f"{name}<{self.aor}>;tag={self.from_tag}")
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{self.cseq} REGISTER")
        headers.add("Expires", str(expires))
        headers.add("Content-Length", "0")
        return Request("REGISTER", self.registrar, headers)
