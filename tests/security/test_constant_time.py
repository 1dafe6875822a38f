"""Secrets are compared in constant time: an AST audit of the crypto packages.

The rule (project brief, "Security by default"): any ``==``/``!=`` whose
operand is named like a secret — a Digest ``response``, ``ha1``, a MAC or
authentication ``tag``, a CMS ``digest``, a nonce's ``mac``, ``rspauth``,
a key, a salt, a ``secret`` or ``token`` — must be :func:`hmac.compare_digest`
instead, because ``bytes.__eq__`` returns at the first differing octet and
so tells a forger, one octet at a time, how much of a guess is right.

Precise, not a heuristic: an operand is "named" by its last identifier
(``x.tag`` -> ``tag``, ``mac[:10]`` -> ``mac``, ``o.digest()`` -> ``digest``),
split on ``_``. A comparison with a literal (``value == ""``) checks presence,
not content, and is allowed; ``len(...)`` is a call named ``len``. What is
legitimately compared with ``==`` is listed in :data:`ALLOWED` with the
reason, and an entry that no longer matches a line fails the test too, so
the list cannot rot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "sipsec"
PACKAGES = ("auth", "srtp", "smime", "sdp", "ca")

SECRET_WORDS = frozenset(
    {
        "response", "rspauth", "ha1", "ha2", "digest", "hexdigest", "mac", "hmac", "tag",
        "icv", "signature", "secret", "token", "password", "passphrase", "salt", "cek",
        "expected", "opaque", "key", "master",
    }
)  # fmt: skip

# (path relative to src/sipsec, the compare's source text) -> why it is not a secret.
ALLOWED: dict[tuple[str, str], str] = {
    ("sdp/offer_answer.py", "crypto.tag == tag"): (
        "the a=crypto tag of RFC 4568 §9.1 is a public decimal label, not an SRTP auth tag"
    ),
    ("srtp/uniform.py", "seqs != expected"): (
        "RTP sequence numbers of a batch (public header fields), not a tag"
    ),
    ("srtp/lane.py", "tag_at == self._ks_size"): (
        "the auth tag's offset (the packet's public length) against the size of the"
        " keystream made ahead, not a tag"
    ),
}


def _name(node: ast.expr) -> str | None:
    """The identifier an operand is known by, or None for a literal."""
    while True:
        if isinstance(node, ast.Constant):
            return None
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return node.attr
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.UnaryOp):
            node = node.operand
        else:
            return type(node).__name__  # a tuple, a BinOp …: no secret name of its own


# A name ending in one of these is data *about* a value, public by nature:
# ``digest_size``, ``master_len``, ``digest_uri``, ``subject_key_id``.
METADATA_WORDS = frozenset({"size", "len", "length", "count", "uri", "id", "type", "kind", "name"})


def _is_secret(name: str | None) -> bool:
    if name is None or name == "len":
        return False
    parts = name.lower().strip("_").split("_")
    if parts[-1] in METADATA_WORDS:
        return False
    return any(part in SECRET_WORDS for part in parts)


def secret_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, text) of each ``==``/``!=`` that touches a secret-named operand."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if not isinstance(op, ast.Eq | ast.NotEq):
                continue
            names = (_name(left), _name(right))
            if None in names:  # against a literal: presence, not content
                continue
            if "len" in names:  # lengths of tags and keys are public
                continue
            if any(_is_secret(n) for n in names):
                found.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return found


def _scan() -> list[tuple[str, int, str]]:
    hits: list[tuple[str, int, str]] = []
    for package in PACKAGES:
        for path in sorted((SRC / package).glob("*.py")):
            rel = path.relative_to(SRC).as_posix()
            for line, text in secret_comparisons(path.read_text("utf-8")):
                hits.append((rel, line, text))
    return hits


def test_no_secret_is_compared_with_eq() -> None:
    bad = [f"{rel}:{line}: {text}" for rel, line, text in _scan() if (rel, text) not in ALLOWED]
    assert not bad, "use hmac.compare_digest for:\n" + "\n".join(bad)


def test_every_allowed_entry_still_exists() -> None:
    seen = {(rel, text) for rel, _, text in _scan()}
    stale = [key for key in ALLOWED if key not in seen]
    assert not stale, f"remove stale ALLOWED entries: {stale}"


@pytest.mark.parametrize(
    "snippet",
    [
        "ok = tag == expected",
        "if mac[:10] != srtp[-10:]: pass",
        "if o.digest()[:4] == wanted: pass",
        "if self._tx_key == other: pass",
        "if creds.response == computed: pass",
        "if ha1 != stored: pass",
        "if a == b == message_digest: pass",
        "if expected_rspauth == value: pass",
    ],
)
def test_the_audit_catches_a_regression(snippet: str) -> None:
    assert secret_comparisons(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "ok = tag == ''",  # presence check against a literal
        "ok = len(response) != 32",
        "ok = kind == 'ecdsa'",
        "ok = hmac.compare_digest(tag, expected)",
        "ok = mki == wanted",
        "ok = len(mac) != icv_len",
        "ok = algorithm.digest_size == 32",
        "ok = sid.native == subject_key_id(cert)",
        "ok = tag in tags",  # membership of public labels is not ==
    ],
)
def test_the_audit_leaves_public_comparisons_alone(snippet: str) -> None:
    assert not secret_comparisons(snippet), snippet


@pytest.mark.parametrize(
    ("module", "count"),
    [
        ("auth/server.py", 2),  # opaque, response
        ("auth/nonce.py", 1),  # the nonce's HMAC
        ("auth/client.py", 1),  # rspauth (mutual authentication)
        ("srtp/rtp.py", 1),  # SRTP auth tag
        ("srtp/rtcp.py", 1),  # SRTCP auth tag
        ("srtp/stages.py", 1),  # the tag check every batch and general packet goes through
        ("srtp/single.py", 1),  # the single-packet fast path's tag check
        ("srtp/lane.py", 1),  # the per-SSRC lane's tag check
        ("srtp/uniform.py", 1),
        ("smime/signed.py", 1),  # CMS message-digest attribute
        ("smime/enveloped.py", 1),  # CBC padding check
    ],
)
def test_constant_time_comparisons_are_in_place(module: str, count: int) -> None:
    """The positive side: the places that check a MAC or digest still do it
    with ``compare_digest`` (a refactor that drops it fails here)."""
    tree = ast.parse((SRC / module).read_text("utf-8"))
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == "compare_digest"
    ]
    assert len(calls) >= count, module
