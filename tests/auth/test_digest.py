"""RFC worked examples recomputed: RFC 2617 §3.5, RFC 7616 §3.9.1 and §3.9.2,
draft-smith-sipping-auth-examples-01 §3.1–3.6 (tests/vectors/digest/vectors.json)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sipsec.auth import (
    Algorithm,
    Qop,
    compute_ha1,
    compute_ha2,
    compute_response,
    compute_userhash,
    ha1_per_algorithm,
    parse_credentials,
)
from sipsec.sip import AuthCredentials

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "digest" / "vectors.json").read_text("utf-8")
)["vectors"]
RECOMPUTABLE = [v for v in VECTORS if v["verified_by_recomputation"]]
RFC7616_392 = [v for v in VECTORS if v["id"].startswith("rfc7616-3.9.2")]


def _response(v: dict[str, Any], algorithm: Algorithm | None = None) -> str:
    algorithm = algorithm or Algorithm.parse(v["algorithm"])
    ha1 = compute_ha1(algorithm, v["username"], v["realm"], v["password"])
    qop = Qop.parse(v["qop"]) if "qop" in v else None
    return compute_response(
        algorithm,
        ha1,
        nonce=v["nonce"],
        method=v["method"],
        uri=v["uri"],
        qop=qop,
        nc=v.get("nc", ""),
        cnonce=v.get("cnonce", ""),
        body=v.get("entity_body", "").encode("utf-8"),
    )


def test_the_vector_file_holds_what_we_expect() -> None:
    # 9 recomputable (RFC 2617, RFC 7616 §3.9.1 ×2, draft-smith ×6) + 2 for §3.9.2.
    assert len(RECOMPUTABLE) == 9
    assert len(RFC7616_392) == 2


@pytest.mark.parametrize("v", RECOMPUTABLE, ids=lambda v: v["id"])
def test_response_matches_the_printed_value(v: dict[str, Any]) -> None:
    assert _response(v) == v["expected"]["response"]


@pytest.mark.parametrize("v", RECOMPUTABLE, ids=lambda v: v["id"])
def test_intermediate_values(v: dict[str, Any]) -> None:
    algorithm = Algorithm.parse(v["algorithm"])
    ha1 = compute_ha1(algorithm, v["username"], v["realm"], v["password"])
    qop = Qop.parse(v["qop"]) if "qop" in v else None
    ha2 = compute_ha2(algorithm, v["method"], v["uri"], qop, v.get("entity_body", "").encode())
    assert ha2 == v["computed"]["HA2"]
    if algorithm.is_session:
        from sipsec.auth.digest import session_ha1

        ha1 = session_ha1(algorithm, ha1, v["nonce"], v["cnonce"])
    assert ha1 == v["computed"]["HA1"]


@pytest.mark.parametrize(
    "v", [v for v in RECOMPUTABLE if "credentials" in v], ids=lambda v: v["id"]
)
def test_printed_credentials_parse_and_recompute(v: dict[str, Any]) -> None:
    header = AuthCredentials.parse(v["credentials"].split(":", 1)[1])
    creds = parse_credentials(header.params)
    assert creds.response == v["expected"]["response"]
    assert creds.username == v["username"]
    assert _response(v, creds.algorithm) == creds.response


@pytest.mark.parametrize("v", RFC7616_392, ids=lambda v: v["id"])
def test_rfc7616_392_with_fips_sha512_256(v: dict[str, Any]) -> None:
    """True SHA-512/256 (FIPS 180-4): the values interoperable code produces."""
    fips = v["expected_fips_sha512_256"]
    algorithm = Algorithm.SHA512_256
    assert compute_ha1(algorithm, v["username"], v["realm"], v["password"]) == fips["HA1"]
    assert compute_ha2(algorithm, v["method"], v["uri"], Qop.AUTH, b"") == fips["HA2"]
    assert _response(v) == fips["response"]
    assert compute_userhash(algorithm, v["username"], v["realm"]) == fips["userhash"]


def test_rfc7616_392_printed_values_are_truncated_sha512() -> None:
    """The RFC's printed numbers come from SHA-512 cut to 256 bits — a known flaw.

    Recomputed here with that wrong hash, independently of our code, to show
    the discrepancy is in the RFC and that we do not reproduce it.
    """
    v = RFC7616_392[0]

    def h(s: str) -> str:
        return hashlib.sha512(s.encode("utf-8")).hexdigest()[:64]

    ha1 = h(f"{v['username']}:{v['realm']}:{v['password']}")
    ha2 = h(f"{v['method']}:{v['uri']}")
    printed = h(f"{ha1}:{v['nonce']}:{v['nc']}:{v['cnonce']}:auth:{ha2}")
    assert printed == v["expected"]["response"]
    assert h(f"{v['username']}:{v['realm']}") == v["expected"]["userhash"]
    assert _response(v) != v["expected"]["response"]


def test_username_star_decodes_to_the_utf8_name() -> None:
    v = next(v for v in RFC7616_392 if not v["userhash"])
    creds = parse_credentials(AuthCredentials.parse(v["credentials"].split(":", 1)[1]).params)
    assert creds.username == v["username"]
    assert creds.username.encode("utf-8").hex() == v["username_utf8_hex"]


def test_userhash_credentials_carry_the_hash() -> None:
    v = next(v for v in RFC7616_392 if v["userhash"])
    creds = parse_credentials(AuthCredentials.parse(v["credentials"].split(":", 1)[1]).params)
    assert creds.userhash
    assert creds.username == v["expected"]["userhash"]


def test_ha1_per_algorithm_for_the_store() -> None:
    v = next(v for v in RECOMPUTABLE if v["id"] == "rfc7616-3.9.1-sha-256")
    stored = ha1_per_algorithm(v["username"], v["realm"], v["password"])
    assert set(stored) == {Algorithm.MD5, Algorithm.SHA256, Algorithm.SHA512_256}
    assert stored[Algorithm.SHA256] == v["computed"]["HA1"]
    md5 = next(v for v in RECOMPUTABLE if v["id"] == "rfc7616-3.9.1-md5")
    assert stored[Algorithm.MD5] == md5["computed"]["HA1"]


def test_sha512_256_is_not_truncated_sha512() -> None:
    assert Algorithm.SHA512_256.hash_hex(b"abc") == (
        # FIPS 180-4 example (NIST "SHA512_256.pdf"): SHA-512/256("abc")
        "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
    )
    assert Algorithm.SHA512_256.hash_hex(b"abc") != hashlib.sha512(b"abc").hexdigest()[:64]


@pytest.mark.parametrize(
    ("token", "algorithm"),
    [
        ("md5", Algorithm.MD5),
        ("SHA-256-SESS", Algorithm.SHA256_SESS),
        ("sha-512-256", Algorithm.SHA512_256),
    ],
)
def test_algorithm_tokens_fold_case(token: str, algorithm: Algorithm) -> None:
    assert Algorithm.parse(token) is algorithm


def test_unknown_algorithm_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown Digest algorithm"):
        Algorithm.parse("SHA-1")


def test_strength_order() -> None:
    ranked = sorted(Algorithm, key=lambda a: -a.strength)
    assert [a.value for a in ranked] == [
        "SHA-512-256",
        "SHA-512-256-sess",
        "SHA-256",
        "SHA-256-sess",
        "MD5",
        "MD5-sess",
    ]
