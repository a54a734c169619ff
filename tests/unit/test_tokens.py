"""TokenCodec: HS256 session JWTs under RFC 8725 rules (docs/security.md, Tokens and sessions).

Hostile tokens are built by hand (base64url + HMAC) so each one differs from a valid
token in exactly one way; `test_hand_signed_token_is_accepted` proves the hand signer
itself produces tokens the codec accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import pytest

from chatkit_app.auth import tokens
from chatkit_app.auth.tokens import TokenClaims, TokenCodec
from chatkit_app.errors import Unauthorized

KEY = secrets.token_bytes(32)
ISSUER = "chatkit_app"
GOOD_HEADER = {"alg": "HS256", "typ": "chatkit-session+jwt"}
CLAIM_NAMES = ("iss", "aud", "sub", "sid", "wid", "jti", "iat", "nbf", "exp")
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def sign(header: dict[str, Any], payload: dict[str, Any], key: bytes = KEY, alg: str = "HS256") -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(key, signing_input.encode(), HASHES[alg]).digest()
    return f"{signing_input}.{b64url(mac)}"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "chatkit",
        "sub": "user-1",
        "sid": "cks_session",
        "wid": "assistant",
        "jti": secrets.token_urlsafe(16),
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 600,
    }
    payload.update(overrides)
    return payload


def assert_rejected(codec: TokenCodec, token: str, code: str = "invalid_token", **kwargs: Any) -> None:
    with pytest.raises(Unauthorized) as caught:
        codec.verify(token, **kwargs)
    assert caught.value.code == code
    assert caught.value.status == 401


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(KEY, issuer=ISSUER)


def test_round_trip_returns_the_issued_claims(codec: TokenCodec) -> None:
    now = int(time.time())
    token = codec.issue(
        user_id="alice", session_id="cks_abc", workflow_id="assistant", jti="j-1", issued_at=now, expires_at=now + 60
    )
    assert codec.verify(token) == TokenClaims("alice", "cks_abc", "assistant", "j-1", now, now, now + 60)


def test_issued_token_has_exact_header_and_all_claims(codec: TokenCodec) -> None:
    now = int(time.time())
    token = codec.issue(user_id="u", session_id="s", workflow_id="w", jti="j", issued_at=now, expires_at=now + 60)
    header_part, payload_part, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    payload = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
    assert header == GOOD_HEADER
    assert set(payload) == set(CLAIM_NAMES)
    assert (payload["iss"], payload["aud"], payload["nbf"]) == (ISSUER, "chatkit", now)


def test_required_claims_constant_matches_the_design() -> None:
    assert set(tokens.REQUIRED_CLAIMS) == set(CLAIM_NAMES)


def test_hand_signed_token_is_accepted(codec: TokenCodec) -> None:
    payload = claims(sub="bob")
    assert codec.verify(sign(GOOD_HEADER, payload)).user_id == "bob"


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenCodec(b"k" * 31, issuer=ISSUER)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_with_empty_signature_is_rejected(codec: TokenCodec, alg: str) -> None:
    token = f"{segment({'alg': alg, 'typ': GOOD_HEADER['typ']})}.{segment(claims())}."
    assert_rejected(codec, token)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_hmac_algorithms_with_the_same_key_are_rejected(codec: TokenCodec, alg: str) -> None:
    assert_rejected(codec, sign({**GOOD_HEADER, "alg": alg}, claims(), alg=alg))


def test_rs256_header_signed_with_the_hmac_key_is_rejected(codec: TokenCodec) -> None:
    assert_rejected(codec, sign({**GOOD_HEADER, "alg": "RS256"}, claims()))


def test_token_signed_with_another_key_is_rejected(codec: TokenCodec) -> None:
    other = TokenCodec(secrets.token_bytes(32), issuer=ISSUER)
    now = int(time.time())
    token = other.issue(user_id="u", session_id="s", workflow_id="w", jti="j", issued_at=now, expires_at=now + 60)
    assert_rejected(codec, token)


@pytest.mark.parametrize("claim, value", [("sub", "mallory"), ("sid", "cks_other"), ("wid", "admin"), ("exp", 2**40)])
def test_tampered_payload_with_original_signature_is_rejected(codec: TokenCodec, claim: str, value: Any) -> None:
    original = claims()
    header_part, _, signature = sign(GOOD_HEADER, original).split(".")
    forged = f"{header_part}.{segment({**original, claim: value})}.{signature}"
    assert_rejected(codec, forged)


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "chatkit-session+JWT", "", None, 1])
def test_wrong_typ_is_rejected(codec: TokenCodec, typ: Any) -> None:
    assert_rejected(codec, sign({**GOOD_HEADER, "typ": typ}, claims()))


def test_missing_typ_is_rejected(codec: TokenCodec) -> None:
    assert_rejected(codec, sign({"alg": "HS256"}, claims()))


@pytest.mark.parametrize(
    "extra",
    [
        {"kid": "../../dev/null"},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"crit": ["exp"]},
        {"x5c": ["MIIB"]},
        {"jwk": {"kty": "oct", "k": "AAAA"}},
        {"cty": "JWT"},
    ],
)
def test_extra_header_fields_are_rejected(codec: TokenCodec, extra: dict[str, Any]) -> None:
    assert_rejected(codec, sign({**GOOD_HEADER, **extra}, claims()))


@pytest.mark.parametrize("aud", ["other", "chatkit ", ["chatkit"], ["chatkit", "other"]])
def test_wrong_audience_is_rejected(codec: TokenCodec, aud: Any) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(aud=aud)))


@pytest.mark.parametrize("iss", ["someone-else", "chatkit_app2", "", ["chatkit_app"]])
def test_wrong_issuer_is_rejected(codec: TokenCodec, iss: Any) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(iss=iss)))


def test_issuer_is_taken_from_the_codec() -> None:
    payload = claims(iss="custom-issuer")
    assert TokenCodec(KEY, issuer="custom-issuer").verify(sign(GOOD_HEADER, payload)).jti == payload["jti"]
    assert_rejected(TokenCodec(KEY, issuer=ISSUER), sign(GOOD_HEADER, payload))


@pytest.mark.parametrize("missing", CLAIM_NAMES)
def test_each_required_claim_missing_is_rejected(codec: TokenCodec, missing: str) -> None:
    payload = claims()
    del payload[missing]
    # Expiry-free verification too: a missing exp must not slip through the refresh path.
    assert_rejected(codec, sign(GOOD_HEADER, payload))
    assert_rejected(codec, sign(GOOD_HEADER, payload), verify_exp=False)


@pytest.mark.parametrize("missing", CLAIM_NAMES)
def test_each_required_claim_null_is_rejected(codec: TokenCodec, missing: str) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(**{missing: None})), verify_exp=False)


@pytest.mark.parametrize(
    "claim, value",
    [("sub", 123), ("sub", ["user-1"]), ("sub", {"id": 1}), ("sub", ""), ("sid", 7), ("wid", True), ("jti", 1.5)],
)
def test_non_string_or_empty_identity_claims_are_rejected(codec: TokenCodec, claim: str, value: Any) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(**{claim: value})))


@pytest.mark.parametrize(
    "claim, value", [("iat", True), ("nbf", True), ("iat", "123"), ("exp", "9999999999"), ("exp", 9999999999.5)]
)
def test_non_integer_time_claims_are_rejected(codec: TokenCodec, claim: str, value: Any) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(**{claim: value})))


@pytest.mark.parametrize("value", [True, False])
def test_bool_exp_is_rejected_without_expiry_check(codec: TokenCodec, value: bool) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(exp=value)), verify_exp=False)


@pytest.mark.parametrize("value", [True, False])
def test_bool_exp_is_invalid_not_expired(codec: TokenCodec, value: bool) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(exp=value)))


def test_expired_token_is_rejected_as_expired(codec: TokenCodec) -> None:
    now = int(time.time())
    assert_rejected(codec, sign(GOOD_HEADER, claims(iat=now - 100, nbf=now - 100, exp=now - 1)), "token_expired")


def test_expiry_is_checked_against_the_given_now(codec: TokenCodec) -> None:
    payload = claims()
    token = sign(GOOD_HEADER, payload)
    assert codec.verify(token, now=payload["exp"] - 1).jti == payload["jti"]
    assert_rejected(codec, token, "token_expired", now=payload["exp"])


def test_leeway_tolerates_small_clock_skew() -> None:
    now = int(time.time())
    token = sign(GOOD_HEADER, claims(iat=now - 100, nbf=now - 100, exp=now - 10))
    assert TokenCodec(KEY, issuer=ISSUER, leeway_seconds=60).verify(token).expires_at == now - 10
    assert_rejected(TokenCodec(KEY, issuer=ISSUER), token, "token_expired")


def test_nbf_in_the_future_is_rejected(codec: TokenCodec) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(nbf=int(time.time()) + 300)))


def test_iat_in_the_future_is_rejected(codec: TokenCodec) -> None:
    assert_rejected(codec, sign(GOOD_HEADER, claims(iat=int(time.time()) + 300)))


@pytest.mark.parametrize("offset", [+7 * 86400, -7 * 86400])
def test_verify_judges_times_by_the_given_now(codec: TokenCodec, offset: int) -> None:
    at = int(time.time()) + offset
    token = codec.issue(user_id="u", session_id="s", workflow_id="w", jti="j", issued_at=at, expires_at=at + 3600)
    assert codec.verify(token, now=at + 1).issued_at == at


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "...",
        "!!!.@@@.###",
        "eyJ.eyJ.sig",
        "Bearer x.y.z",
        f"{b64url(b'not json')}.{segment(claims())}.sig",
        f"{segment(['alg', 'HS256'])}.{segment(claims())}.sig",
        f"{segment(GOOD_HEADER)}.{b64url(b'not json')}.sig",
        f"{segment(GOOD_HEADER)}.{segment(['a'])}.sig",
        "\u00e9\u00e9.\u00e9.\u00e9",
    ],
)
def test_garbage_is_rejected(codec: TokenCodec, garbage: str) -> None:
    assert_rejected(codec, garbage)
    assert_rejected(codec, garbage, verify_exp=False)


def test_garbage_with_a_valid_signature_over_non_json_payload_is_rejected(codec: TokenCodec) -> None:
    signing_input = f"{segment(GOOD_HEADER)}.{b64url(b'[1,2,3]')}"
    mac = b64url(hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest())
    assert_rejected(codec, f"{signing_input}.{mac}")


def test_oversized_token_is_rejected_even_when_correctly_signed(codec: TokenCodec) -> None:
    fits = sign(GOOD_HEADER, claims(pad="x" * 2800))
    assert len(fits) <= tokens.MAX_TOKEN_CHARS
    assert codec.verify(fits).user_id == "user-1"
    too_big = sign(GOOD_HEADER, claims(pad="x" * 3200))
    assert len(too_big) > 4096
    assert_rejected(codec, too_big)


def test_verify_exp_false_accepts_an_expired_token(codec: TokenCodec) -> None:
    now = int(time.time())
    payload = claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    assert codec.verify(sign(GOOD_HEADER, payload), verify_exp=False).expires_at == now - 3600


def test_verify_exp_false_still_rejects_bad_signatures_and_headers(codec: TokenCodec) -> None:
    now = int(time.time())
    payload = claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    assert_rejected(codec, sign(GOOD_HEADER, payload, key=secrets.token_bytes(32)), verify_exp=False)
    assert_rejected(codec, sign({**GOOD_HEADER, "alg": "HS512"}, payload, alg="HS512"), verify_exp=False)
    assert_rejected(codec, f"{segment({**GOOD_HEADER, 'alg': 'none'})}.{segment(payload)}.", verify_exp=False)
    header_part, _, signature = sign(GOOD_HEADER, payload).split(".")
    assert_rejected(codec, f"{header_part}.{segment({**payload, 'sub': 'x'})}.{signature}", verify_exp=False)
