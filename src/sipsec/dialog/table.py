"""Finding dialogs: the dialogs one INVITE made (forking), and all of a UA's.

- :class:`DialogSet`: one INVITE sent, forked by a proxy, can make several
  early dialogs — one per To tag in its 1xx responses — and more than one
  can be confirmed by a 2xx (§12.1.2, §13.2.2.4, §19.3: "a UAC MUST be
  prepared to receive ... multiple dialogs").
- :class:`DialogTable`: every dialog of a UA by its id, and the lookup of
  an in-dialog request (To tag = our tag, From tag = theirs, §12.2.2); a
  request that names no dialog of ours gets a 481.
"""

from __future__ import annotations

from collections.abc import Iterator

from sipsec.errors import RemoteProtocolError
from sipsec.sip import Request, Response

from .dialog import Dialog, DialogId, DialogState

__all__ = ["DialogSet", "DialogTable"]


class DialogSet:
    """The dialogs made by one INVITE we sent, by remote tag."""

    def __init__(self, request: Request) -> None:
        if request.method != "INVITE":
            raise ValueError("a dialog set belongs to an INVITE")
        self.request = request
        self.dialogs: dict[str, Dialog] = {}

    def update(self, response: Response) -> tuple[Dialog | None, bool]:
        """Apply a response to the INVITE: returns the dialog it belongs to
        (None for a 100, a 1xx without a To tag or a final non-2xx) and
        whether it is new.

        A 1xx with a tag makes an early dialog; a 2xx confirms its dialog or
        makes a confirmed one (§12.1.2, §13.2.2.4). A 1xx for a dialog that
        is already confirmed changes nothing.
        """
        status = response.status
        to = response.to
        if status < 101 or status >= 300 or to is None:
            return None, False
        if status < 200 and to.tag is None:
            return None, False  # §12.1: no tag, no dialog
        tag = to.tag or ""
        dialog = self.dialogs.get(tag)
        if dialog is None:
            dialog = Dialog.from_uac_response(self.request, response)
            self.dialogs[tag] = dialog
            return dialog, True
        if dialog.state is not DialogState.TERMINATED:
            dialog.update_from_response(self.request, response)
        return dialog, False

    def early(self) -> list[Dialog]:
        return [d for d in self.dialogs.values() if d.is_early]

    def confirmed(self) -> list[Dialog]:
        return [d for d in self.dialogs.values() if d.is_confirmed]

    def terminate_early(self) -> list[Dialog]:
        """A final response ends every early dialog it did not confirm
        (§13.2.2.4 for a 2xx, §13.2.2.3 for a non-2xx)."""
        ended = self.early()
        for dialog in ended:
            dialog.terminate()
            # Forgotten: a 2xx with its tag later makes a new, confirmed
            # dialog, which the UA acknowledges and ends (§13.2.2.4).
            del self.dialogs[dialog.remote_tag]
        return ended

    def __len__(self) -> int:
        return len(self.dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self.dialogs.values()))


class DialogTable:
    """A UA's dialogs by id (§12)."""

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}

    def add(self, dialog: Dialog) -> None:
        self._dialogs[dialog.id] = dialog

    def remove(self, dialog: Dialog) -> None:
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def get(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.get(dialog_id)

    @staticmethod
    def id_of_request(request: Request) -> DialogId | None:
        """The id of the dialog an incoming request names, seen from us: the
        To tag is ours, the From tag the peer's (§12.2.2). None without a To
        tag (not an in-dialog request)."""
        to, from_, call_id = request.to, request.from_, request.call_id
        if to is None or to.tag is None or from_ is None or call_id is None:
            return None
        return DialogId(call_id, to.tag, from_.tag or "")

    def find(self, request: Request) -> Dialog | None:
        """The live dialog ``request`` belongs to, or None."""
        dialog_id = self.id_of_request(request)
        if dialog_id is None:
            return None
        dialog = self._dialogs.get(dialog_id)
        if dialog is None or dialog.terminated:
            return None
        return dialog

    def match(self, request: Request) -> Dialog:
        """:meth:`find`, raising a 481 error when there is no such dialog
        (§12.2.2: "the UAS MUST respond ... with a 481")."""
        dialog = self.find(request)
        if dialog is None:
            raise RemoteProtocolError("no such dialog", 481)
        return dialog

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self._dialogs.values()))

    def __contains__(self, dialog_id: object) -> bool:
        return dialog_id in self._dialogs
