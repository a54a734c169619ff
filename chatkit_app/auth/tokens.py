"""Session tokens: HS256 JWTs issued and verified under RFC 8725 rules.

Only the header `{"alg": "HS256", "typ": "chatkit-session+jwt"}` is accepted: no
`alg: none`, no other algorithm, no `kid`/`jku`/`x5u`/`crit`. Every claim is
required and type-checked. Nothing here touches the database.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import jwt

from chatkit_app.errors import Unauthorized

TOKEN_TYPE = "chatkit-session+jwt"  # noqa: S105  (a media type, not a secret)
AUDIENCE = "chatkit"
ALGORITHM = "HS256"
MAX_TOKEN_CHARS = 4096
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "wid", "jti", "iat", "nbf", "exp")
_ALLOWED_HEADER = {"alg": ALGORITHM, "typ": TOKEN_TYPE}


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    session_id: str
    workflow_id: str
    jti: str
    issued_at: int
    not_before: int
    expires_at: int


class TokenCodec:
    def __init__(self, key: bytes, *, issuer: str, leeway_seconds: int = 0) -> None:
        if len(key) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self._key = key
        self._issuer = issuer
        self._leeway = leeway_seconds

    def issue(
        self,
        *,
        user_id: str,
        session_id: str,
        workflow_id: str,
        jti: str,
        issued_at: int,
        expires_at: int,
    ) -> str:
        payload = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": user_id,
            "sid": session_id,
            "wid": workflow_id,
            "jti": jti,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})

    def verify(self, token: str, *, verify_exp: bool = True, now: float | None = None) -> TokenClaims:
        """Checks signature, header and claims; raises `Unauthorized` with a
        code the client can act on (`token_expired` vs `invalid_token`)."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise _invalid()
        try:
            # One parse: signature, algorithm, audience, issuer and required claims here,
            # the header's exact shape below (nothing is trusted before both pass).
            decoded = jwt.decode_complete(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=self._leeway,
                # Times are judged below against `now`, after the claims' types are checked.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "strict_aud": True,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError, json.JSONDecodeError):
            raise _invalid() from None
        if decoded["header"] != _ALLOWED_HEADER:
            raise _invalid()
        payload = decoded["payload"]
        claims = _typed_claims(payload)
        current = time.time() if now is None else now
        if claims.not_before > current + self._leeway or claims.issued_at > current + self._leeway:
            raise _invalid()
        if verify_exp and claims.expires_at <= current - self._leeway:
            raise Unauthorized("The session token has expired; refresh it.", code="token_expired")
        return claims


def _typed_claims(payload: dict[str, object]) -> TokenClaims:
    strings = [payload.get(name) for name in ("sub", "sid", "wid", "jti")]
    numbers = [payload.get(name) for name in ("iat", "nbf", "exp")]
    if not all(isinstance(value, str) and 0 < len(value) <= 256 for value in strings):
        raise _invalid()
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in numbers):
        raise _invalid()
    sub, sid, wid, jti = (str(value) for value in strings)
    iat, nbf, exp = (int(value) for value in numbers if isinstance(value, int))
    return TokenClaims(sub, sid, wid, jti, iat, nbf, exp)


def _invalid() -> Unauthorized:
    return Unauthorized("The session token is invalid.", code="invalid_token")
