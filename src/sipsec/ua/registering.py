"""The UA's REGISTER client (RFC 3261 §10.2): register, refresh before the
binding expires (timing in :mod:`.registration`), un-REGISTER, and the 423
Interval Too Brief retry (§10.2.8). The Digest retry is the client half's
(:mod:`.uac`), shared with every other request."""

from __future__ import annotations

from sipsec.errors import LocalProtocolError
from sipsec.sip import Response, SipParseError, parse_delta_seconds

from .base import UaBase, _Pending, with_credentials
from .events import Registered, RegistrationFailed, Unregistered
from .registration import RETRY_AFTER_FAILURE, RegistrationState, granted_expires, refresh_delay

__all__ = ["RegisterMixin"]


def _seconds(value: str | None) -> int | None:
    """A delta-seconds header value (Min-Expires, Retry-After's number), or None."""
    if value is None:
        return None
    try:
        return parse_delta_seconds(value.split("(")[0].split(";")[0])
    except SipParseError:
        return None


class RegisterMixin(UaBase):
    """REGISTER, its refresh timer and the events it reports."""

    # -- REGISTER (§10.2) -------------------------------------------------------------
    def register(self, now: float, expires: int | None = None) -> None:
        """Register our Contact (or refresh it); ``expires`` defaults to the config's."""
        if expires is None:
            expires = self.config.register_expires
        if not 0 <= expires <= 2**32 - 1:
            raise LocalProtocolError("expires out of range")
        registration = self.registration
        self._cancel_timer(("refresh", 0))
        registration.state = (
            RegistrationState.UNREGISTERING if expires == 0 else RegistrationState.REGISTERING
        )
        request = registration.build(expires)
        request.headers.add("User-Agent", self.config.user_agent)
        flow = self.digest.start("REGISTER", str(request.uri))
        pending = _Pending(
            "register",
            request,
            self.config.outbound_proxy or registration.registrar,
            flow=flow,
            contact=f";expires={expires}",
        )
        with_credentials(request, pending)
        self._dispatch(pending, now)

    def unregister(self, now: float) -> None:
        """Remove our binding: Expires 0 (§10.2.2)."""
        self.register(now, 0)

    def _registered(
        self,
        pending: _Pending,
        status: int,
        reason: str,
        response: Response | None,
        now: float,
    ) -> None:
        registration = self.registration
        if status >= 300 or response is None:
            if status == 423 and response is not None:  # §10.2.8: Interval Too Brief
                minimum = _seconds(response.headers.get("Min-Expires"))
                if minimum is not None and minimum > registration.requested:
                    self.register(now, minimum)
                    return
            self._emit(RegistrationFailed(status, reason))
            self._count("registration_failures")
            refreshing = registration.state is RegistrationState.REGISTERING
            if refreshing and registration.expires and (status == 408 or status >= 500):
                # A refresh failed on the way (timeout, transport, server):
                # try again while the old binding may still hold. A refusal
                # (401, 403 …) is not retried: it would only fail again.
                delay = RETRY_AFTER_FAILURE
                if response is not None:
                    delay = float(_seconds(response.headers.get("Retry-After")) or delay)
                self._set_timer(("refresh", 0), now + delay, self._refresh)
            registration.state = RegistrationState.IDLE
            return
        sent = pending.sent
        contact = None
        if sent is not None and sent.contacts and sent.contacts[0].uri is not None:
            contact = str(sent.contacts[0].uri)
        registration.contact = contact
        try:
            registration.bindings = [str(c) for c in response.contacts]
        except SipParseError:
            registration.bindings = []
        if registration.requested == 0:
            registration.state = RegistrationState.IDLE
            registration.expires = 0
            self._emit(Unregistered())
            return
        expires = granted_expires(response, contact, registration.requested)
        registration.expires = expires
        registration.state = RegistrationState.REGISTERED
        self._count("registrations")
        if expires > 0:
            delay = refresh_delay(expires, self.config.timers.t1)
            self._set_timer(("refresh", 0), now + delay, self._refresh)
        self._emit(Registered(list(registration.bindings), expires))

    def _refresh(self, now: float) -> None:
        self.register(now, self.registration.requested or self.config.register_expires)
