"""OPTIONS as the UAC (RFC 3261 §11.1): ask a UA or proxy what it
supports, outside any dialog, through the outbound proxy like an INVITE and
with the same Digest retry of a 401/407 (§22.2, in :mod:`.uac`); the final
answer is reported as :class:`~sipsec.ua.events.OptionsAnswered`. Answering
an OPTIONS (§11.2) is the server half's, in :mod:`.uas`."""

from __future__ import annotations

from collections.abc import Iterable

from sipsec.sip import (
    Request,
    Response,
    generate_call_id,
    generate_tag,
    split_list,
)

from .base import _Pending, initial_headers, target_uri, with_credentials
from .events import OptionsAnswered
from .reinvite import ReinviteMixin

__all__ = ["OptionsMixin", "listed"]


def listed(response: Response | None, name: str) -> list[str]:
    """Every element of the list header ``name`` (§7.3.1: repeated lines and
    commas alike); a response without it lists nothing."""
    if response is None:
        return []
    return [item for line in response.headers.get_lines(name) for item in split_list(line)]


class OptionsMixin(ReinviteMixin):
    """OPTIONS out of dialog and its answer."""

    def options(self, target: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> str:
        """Query ``target`` (a SIP URI) with OPTIONS; returns the request's
        Call-ID, which the :class:`OptionsAnswered` that follows repeats."""
        uri = target_uri(target, "query")
        call_id = generate_call_id()
        out = initial_headers(
            self.config, uri, "OPTIONS", call_id, generate_tag(), headers=headers, accept=True
        )
        out.add("Content-Length", "0")
        request = Request("OPTIONS", uri, out)
        flow = self.digest.start("OPTIONS", str(uri), preemptive={"Proxy-Authorization"})
        pending = _Pending(
            "options", request, self.config.outbound_proxy or uri, flow=flow, contact=""
        )
        with_credentials(request, pending)
        self._count("options_sent")
        self._dispatch(pending, now)
        return call_id

    def _on_final_or_provisional(
        self, pending: _Pending, status: int, reason: str, response: Response | None, now: float
    ) -> None:
        if pending.kind != "options":
            super()._on_final_or_provisional(pending, status, reason, response, now)
            return
        if status < 200:  # a 1xx to an OPTIONS says nothing we report
            return
        request = pending.request
        call_id = request.call_id
        assert call_id is not None  # options() set it
        self._count("options_answered")
        self._emit(
            OptionsAnswered(
                call_id, str(request.uri), status, reason, listed(response, "Allow"),
                listed(response, "Accept"), listed(response, "Supported"), response,
            )
        )  # fmt: skip
