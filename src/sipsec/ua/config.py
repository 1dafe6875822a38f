"""What a user agent is configured with: who it is and how to reach it."""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field

from sipsec.errors import LocalProtocolError
from sipsec.sip import SipParseError, SipUri, parse_uri
from sipsec.transaction import Peer, TimerConfig, TransportName

__all__ = ["ALLOWED_METHODS", "UaConfig"]

#: The methods this UA core implements (the Allow header of 405 and OPTIONS).
ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")


@dataclass
class UaConfig:
    """A UA's identity and addresses.

    ``aor`` is the address of record (``sip:alice@atlanta.example``);
    ``contact`` maps each transport the app listens on to the address it
    listens at (filled in after ``listen``, the Via sent-by and Contact come
    from it); ``outbound_proxy`` receives every request sent outside a
    dialog. ``password`` never appears in ``repr`` (and this package logs
    nothing). ``supported`` lists option tags for Supported / Require checks;
    ``accept`` the body types OPTIONS advertises; ``prefer_auth_int``
    answers Digest with qop ``auth-int`` whenever a server offers it (it is
    used anyway when ``auth`` is not offered). An incoming call the
    application leaves unanswered for ``answer_timeout`` seconds is refused
    with 480 (None: wait for ever; 180 s is the RFC's Timer C at proxies).
    While it rings, our last non-100 provisional is sent again every
    ``provisional_interval`` seconds (§13.3.1.1: "every minute"; None: never).
    """

    aor: str
    _: KW_ONLY
    contact: dict[TransportName, tuple[str, int]] = field(default_factory=dict)
    outbound_proxy: Peer | None = None
    username: str | None = None
    # Out of == too: the generated __eq__ would compare it with an early exit.
    password: str | None = field(default=None, repr=False, compare=False)
    display_name: str | None = None
    register_expires: int = 3600
    user_agent: str = "sipsec/0.1"
    timers: TimerConfig = field(default_factory=TimerConfig)
    supported: tuple[str, ...] = ()
    prefer_auth_int: bool = False
    answer_timeout: float | None = 180.0
    provisional_interval: float | None = 60.0
    accept: tuple[str, ...] = (
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/signed",
    )

    def __post_init__(self) -> None:
        try:
            uri = parse_uri(self.aor)
        except SipParseError as exc:
            raise LocalProtocolError(f"bad AOR: {exc.reason}") from None
        if not isinstance(uri, SipUri) or uri.user is None:
            raise LocalProtocolError(f"the AOR must be a sip: or sips: URI with a user: {self.aor}")
        if not 0 <= self.register_expires <= 2**32 - 1:
            raise LocalProtocolError("register_expires out of range")
        interval = self.provisional_interval
        if interval is not None and not (interval > 0 and math.isfinite(interval)):
            raise LocalProtocolError("provisional_interval must be positive")

    @property
    def aor_uri(self) -> SipUri:
        uri = parse_uri(self.aor)
        assert isinstance(uri, SipUri)
        return uri

    @property
    def auth_username(self) -> str:
        """The Digest username: ``username``, else the AOR's user part."""
        if self.username is not None:
            return self.username
        user = self.aor_uri.user
        assert user is not None
        return user
