"""Branch, tag and Call-ID generation (RFC 3261 §8.1.1.4, §8.1.1.7, §19.3).

All three must be unique across space and time and hard to guess (a guessable
branch or tag lets an off-path attacker CANCEL or BYE someone else's call), so
they come from :mod:`secrets`. ``token_urlsafe`` output (A-Z a-z 0-9 - _) is
made of SIP ``token`` characters, so it is legal in every place they go.
"""

from __future__ import annotations

import secrets

__all__ = ["BRANCH_MAGIC_COOKIE", "generate_branch", "generate_call_id", "generate_tag"]

#: RFC 3261 §8.1.1.7: a branch starting with this was made by an RFC 3261 element.
BRANCH_MAGIC_COOKIE = "z9hG4bK"


def generate_branch() -> str:
    """A fresh Via branch: the magic cookie and 128 random bits."""
    return BRANCH_MAGIC_COOKIE + secrets.token_urlsafe(16)


def generate_tag() -> str:
    """A From/To tag with 96 random bits (§19.3 asks for at least 32)."""
    return secrets.token_urlsafe(12)


def generate_call_id(host: str | None = None) -> str:
    """A Call-ID of 128 random bits, ``@host`` appended when a host is given."""
    local = secrets.token_urlsafe(16)
    return f"{local}@{host}" if host else local
