"""Sign-in with any OpenID provider (Authlib): authorization code + PKCE (S256), the
provider found by discovery from CHATKIT_OIDC_ISSUER, the ID token checked against the
provider's keys (issuer, audience, expiry, nonce). `state`, `nonce` and the PKCE verifier
travel in a short-lived signed cookie, so any backend host can finish a sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from chatkit_app.settings import Settings

SCOPES = "openid email profile"
DISCOVERY_TTL_SECONDS = 3600
TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 60


class SignInFailed(Exception):
    """The provider's answer cannot be trusted or used; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Pending:
    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True, slots=True)
class Claims:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None

    @property
    def user_id(self) -> str:
        """Stable per provider and subject; never the email (it can change hands)."""
        digest = hashlib.sha256(f"{self.issuer}\0{self.subject}".encode()).hexdigest()
        return "oidc_" + digest[:40]


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        assert settings.chatkit_oidc_issuer and settings.chatkit_oidc_client_id
        self._issuer = settings.chatkit_oidc_issuer.rstrip("/")
        self._client_id = settings.chatkit_oidc_client_id
        secret = settings.chatkit_oidc_client_secret
        self._client_secret = secret.get_secret_value() if secret is not None else None
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = 0.0

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scope=SCOPES,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self._client_secret else "none",
            timeout=TIMEOUT_SECONDS,
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._fetched_at > DISCOVERY_TTL_SECONDS:
            url = f"{self._issuer}/.well-known/openid-configuration"
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                    response = await client.get(url)
                    response.raise_for_status()
                    data = response.json()
            except (httpx.HTTPError, ValueError):
                raise SignInFailed(f"The sign-in provider at {self._issuer} cannot be reached.") from None
            if not isinstance(data, dict) or str(data.get("issuer", "")).rstrip("/") != self._issuer:
                raise SignInFailed("The sign-in provider's discovery document names another issuer.")
            self._metadata, self._fetched_at = data, time.monotonic()
        return self._metadata

    async def begin(self, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """Where to send the browser, and what to keep until it comes back."""
        metadata = await self.metadata()
        pending = Pending(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_path)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=pending.state,
                nonce=pending.nonce,
                code_verifier=pending.verifier,
            )
        return url, pending

    async def finish(self, redirect_uri: str, pending: Pending, code: str) -> Claims:
        """Exchanges the code (with the PKCE verifier) and checks the ID token."""
        metadata = await self.metadata()
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=pending.verifier, redirect_uri=redirect_uri
                )
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as plain:  # the keys need no access token
                keys = (await plain.get(metadata["jwks_uri"])).json()
        except Exception:  # the provider refused the code (e.g. replayed) or failed
            raise SignInFailed("The sign-in provider did not accept this sign-in; please start again.") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("The sign-in provider sent no ID token.")
        return self._check_id_token(id_token, keys, pending.nonce, metadata)

    def _check_id_token(self, id_token: str, keys: Any, nonce: str, metadata: dict[str, Any]) -> Claims:
        # Asymmetric algorithms only (the provider's list, never "none" or a shared-secret HS*).
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if isinstance(alg, str) and alg[:2] in ("RS", "PS", "ES", "Ed")]
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=algorithms)
            audience = decoded.claims.get("aud")
            if isinstance(audience, list) and len(audience) > 1 and decoded.claims.get("azp") != self._client_id:
                raise ValueError("an ID token for several audiences must name us as its authorized party")
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                # The issuer exactly as the provider names itself (some end with "/").
                iss={"essential": True, "value": str(metadata["issuer"])},
                aud={"essential": True, "value": self._client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            raise SignInFailed("The sign-in provider's ID token did not check out; please start again.") from None
        claims = decoded.claims
        email = claims.get("email")
        name = claims.get("name") or claims.get("preferred_username")
        return Claims(
            issuer=self._issuer,
            subject=str(claims["sub"]),
            email=email.strip().lower() if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") is True,
            name=str(name)[:200] if name else None,
        )


def is_allowed(settings: Settings, claims: Claims) -> bool:
    """With no allowlist, anyone the provider signs in may enter; with one, only a
    verified email on it (or in one of its domains)."""
    emails, domains = settings.allowed_emails, settings.allowed_email_domains
    if not emails and not domains:
        return True
    if not claims.email or not claims.email_verified:
        return False
    return claims.email in emails or claims.email.rpartition("@")[2] in domains
