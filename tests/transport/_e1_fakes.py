"""In-memory stand-ins for asyncio transports, so the receive paths can be
fed bytes directly (Hypothesis) without sockets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from hypothesis import strategies as st

from sipsec.sip import parse_via


def binary(max_size: int) -> st.SearchStrategy[bytes]:
    """Not ``st.binary``: under ``python -bb`` Hypothesis' own example cache
    can compare a bytes choice with an int one and raise BytesWarning."""
    return st.lists(st.integers(0, 255), max_size=max_size).map(bytes)


def check_answer(answer: bytes) -> None:
    """What a stateless error response must be: a status line, a top Via
    that parses, printable header lines, the empty line, no body."""
    assert answer.endswith(b"\r\n\r\n") and answer.count(b"\r\n\r\n") == 1
    lines = answer[:-4].decode("utf-8").split("\r\n")
    assert re.fullmatch(r"SIP/2\.0 (400|413|505|513) [A-Za-z ]+", lines[0])
    assert lines[1].startswith("Via: ")
    parse_via(lines[1][5:])
    control = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is fine: it is LWS
    assert all(": " in line and not control.search(line) for line in lines[1:])
    assert lines[-1] == "Content-Length: 0"


class FakeStream(asyncio.Transport):
    def __init__(self, local: tuple[str, int], remote: tuple[str, int]) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False
        self.aborted = False
        self._extra = {"sockname": local, "peername": remote}
        self.protocol: asyncio.Protocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0


class FakeDatagrams(asyncio.DatagramTransport):
    def __init__(self, local: tuple[str, int]) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, Any]] = []
        self._extra = {"sockname": local}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        self.sent.append((bytes(data), addr))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass
