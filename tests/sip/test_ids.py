"""Branch, tag and Call-ID generation (RFC 3261 §8.1.1.4, §8.1.1.7, §19.3)."""

from __future__ import annotations

import re

from sipsec.sip import generate_branch, generate_call_id, generate_tag, parse_via

TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def test_branch() -> None:
    branches = {generate_branch() for _ in range(1000)}
    assert len(branches) == 1000
    for branch in branches:
        assert branch.startswith("z9hG4bK") and TOKEN.fullmatch(branch) and len(branch) >= 7 + 22
        assert parse_via(f"SIP/2.0/UDP h;branch={branch}")[0].branch == branch


def test_tag_and_call_id() -> None:
    tags = {generate_tag() for _ in range(1000)}
    assert len(tags) == 1000 and all(TOKEN.fullmatch(t) and len(t) >= 16 for t in tags)
    call_id = generate_call_id("pc33.atlanta.example")
    local, _, host = call_id.partition("@")
    assert host == "pc33.atlanta.example" and len(local) >= 22 and TOKEN.fullmatch(local)
    assert "@" not in generate_call_id() and generate_call_id() != generate_call_id()
