"""RFC 3261 §12 dialogs (sans-IO, clock-free).

::

    dialog = Dialog.from_uac_response(invite, response)   # 1xx with To tag, or 2xx
    dialog = Dialog.from_uas_request(invite, local_tag)   # the callee's side
    bye = dialog.create_request("BYE")                    # §12.2.1.1, no Via yet
    ack = dialog.create_request("ACK")                    # the INVITE's CSeq number
    dialog.receive_request(request)                       # 500 on an out-of-order CSeq
    dialog.next_hop                                       # top route or remote target

A :class:`Dialog` has ``id`` (:class:`DialogId`: Call-ID, local tag, remote
tag), ``state`` (early, confirmed, terminated), ``local_header`` /
``remote_header`` (From / To of its requests), ``remote_target``,
``route_set``, ``local_cseq``, ``remote_cseq`` and ``secure``.

:class:`DialogSet` keeps the dialogs one INVITE made (forking gives several
early ones); :class:`DialogTable` finds the dialog of an incoming request,
``match`` raising a 481 :class:`~sipsec.errors.RemoteProtocolError` when
there is none.
"""

from __future__ import annotations

from .dialog import Dialog, DialogId, DialogState, request_target
from .table import DialogSet, DialogTable

__all__ = ["Dialog", "DialogId", "DialogSet", "DialogState", "DialogTable", "request_target"]
