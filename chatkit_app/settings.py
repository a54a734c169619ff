"""All configuration in one pydantic-settings class.

Environment variables override `.env`; `.env` overrides the defaults. Secrets are
`SecretStr` so they never show up in a repr, a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chatkit_app.core.attachment_limits import parse_size_limits
from chatkit_app.core.mcp_config import McpServerConfig, parse_mcp_servers
from chatkit_app.storage.url import StorageLocation, parse_storage_url

logger = logging.getLogger("chatkit_app.settings")

REPO_ROOT = Path(__file__).resolve().parent.parent
CHATKIT_CDN_SCRIPT = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"
MIN_SECRET_BYTES = 32
ORIGIN_PATTERN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^https://\*\.[A-Za-z0-9.\-]+(:\d{1,5})?$")
MODEL_INPUT_KINDS = ("text", "image", "file", "none")
_PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "your-secret-here", "example"}


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message is one line saying why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=REPO_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,  # a refused value may hold a secret (an MCP server's header)
    )

    chatkit_secret: SecretStr | None = None
    chatkit_api_key: SecretStr | None = None
    chatkit_token_ttl_seconds: int = Field(default=3600, ge=30, le=7 * 86400)
    chatkit_session_max_age_seconds: int = Field(default=86400, ge=60, le=90 * 86400)
    chatkit_issuer: str = Field(default="chatkit_app", min_length=1, max_length=200)
    chatkit_data_dir: Path = REPO_ROOT / ".chatkit"
    database_url: str | None = None
    # Redis (UI state, rate limits, cluster leases): REDIS_URL, or Reflex's own name for it.
    redis_url: str | None = None
    reflex_redis_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    chatkit_model: str = "gpt-4.1-mini"
    chatkit_instructions: str = (
        "You are a helpful assistant in a chat window. Answer clearly and concisely, "
        "use Markdown when it helps, and say so when you do not know something."
    )
    chatkit_openai_api: Literal["responses", "chat_completions"] = "responses"
    chatkit_upstream_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    # The speed-ups on private names of the SDKs (`chatkit_app.fast_paths`); off|on.
    chatkit_fast_paths: bool = True
    # One hosted-sessions call (create or cancel), retries included; at most 20 s (docs/configuration.md).
    chatkit_hosted_timeout_seconds: float = Field(default=15.0, gt=0, le=20)
    chatkit_workflow_id: str = "assistant"
    # Comma-separated `module` or `[id=]module:attribute` entries imported at startup
    # (workflows/modules.py), e.g. an exported Agent Builder workflow's agent.
    chatkit_workflow_modules: str = ""
    chatkit_script_url: str = CHATKIT_CDN_SCRIPT
    chatkit_ui_mode: Literal["auto", "chatkit", "native"] = "auto"
    chatkit_domain_key: str | None = None
    chatkit_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    chatkit_max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Per type, within the cap above: "image/*=5MB, application/pdf=20MB, text/csv=0" (0: refused).
    chatkit_upload_limits: str = ""
    # The site's brand: page title and top bar, a logo and a favicon (a path under assets/,
    # or a URL of an allowed image domain). The accent colour is the workflow theme's.
    chatkit_site_title: str = Field(default="Chat", min_length=1, max_length=80)
    chatkit_site_logo: str = "/brand-logo.svg"
    chatkit_site_favicon: str = "/brand-favicon.svg"
    # The session panel (ids, token refresh, validate): unset, in development only.
    chatkit_debug_panel: bool | None = None
    chatkit_embed_origins: str = ""  # comma- or space-separated origins allowed to frame /embed/...
    # What the model is sent of attachments (docs/customising.md, "Files and the model"): a
    # subset of text (text files' content), image (images), file (PDFs), or "none"; the rest
    # is described by name.
    chatkit_model_inputs: str = "text,image,file"
    chatkit_model_max_file_mb: float = Field(default=10, gt=0)  # the most of one attachment
    chatkit_model_max_turn_mb: float = Field(default=20, gt=0)  # the most of all, per model call
    # The most file bytes all answers of this process hold for their model calls at once (0: no cap).
    chatkit_model_files_in_flight_mb: float = Field(default=200, ge=0)
    # Where attachment bytes live (docs/deployment.md, "File storage"): a directory (default:
    # the data dir's uploads/) or s3://bucket/prefix, with S3's settings in the standard AWS
    # variables.
    chatkit_storage_url: str = ""
    # The most upload bytes one process holds in memory on their way to S3 (each upload
    # holds up to one 8 MiB part); an upload that would pass it is refused (503 storage_busy).
    chatkit_upload_buffer_mb: float = Field(default=128, ge=16)
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    aws_region: str | None = None
    aws_default_region: str | None = None
    aws_endpoint_url: str | None = None
    aws_endpoint_url_s3: str | None = None
    # MCP servers for the built-in assistant: a JSON list (core/mcp_config.py, docs/customising.md "MCP servers").
    chatkit_mcp_servers: Annotated[list[McpServerConfig], NoDecode] = Field(default_factory=list)

    # -- A public site (docs/security.md, "Running a public site") ----------------------
    # Who the visitor is: an anonymous signed cookie, an OpenID provider, or a header set
    # by a trusted reverse proxy.
    chatkit_auth: Literal["anonymous", "oidc", "header"] = "anonymous"
    chatkit_auth_header: str = Field(default="x-authenticated-user", min_length=1, max_length=100)
    chatkit_trusted_proxies: str = ""  # IPs / CIDRs whose X-Forwarded-* and auth header are believed
    chatkit_oidc_issuer: str | None = None
    chatkit_oidc_client_id: str | None = None
    chatkit_oidc_client_secret: SecretStr | None = None
    chatkit_allowed_emails: str = ""  # comma- or space-separated; verified emails only
    chatkit_allowed_email_domains: str = ""
    chatkit_site_session_idle_seconds: int = Field(default=7 * 86400, ge=60)
    chatkit_site_session_max_age_seconds: int = Field(default=30 * 86400, ge=60)
    # Absolute URLs (uploads, previews, sign-in redirects) and the identity cookie's Secure flag.
    chatkit_public_url: str | None = None
    chatkit_cors_origins: str = ""  # origins allowed to call /api/chatkit* from a browser
    chatkit_allowed_image_domains: str = ""  # image hosts the pages may load (CSP img-src)
    chatkit_body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Limits: 0 turns one off.
    chatkit_limit_identities_per_hour: int = Field(default=30, ge=0)  # new anonymous ids per address
    chatkit_limit_sessions_per_minute: int = Field(default=20, ge=0)  # per user
    chatkit_limit_messages_per_minute: int = Field(default=20, ge=0)  # per user
    chatkit_limit_lookups_per_minute: int = Field(default=120, ge=0)  # entity previews / tag searches, per user
    chatkit_limit_threads_per_day: int = Field(default=300, ge=0)  # per user
    chatkit_limit_upload_bytes_per_day: int = Field(default=200 * 1024 * 1024, ge=0)  # per user
    chatkit_limit_pending_uploads: int = Field(default=20, ge=0)  # unsent uploads per user
    chatkit_limit_uploads_at_once: int = Field(default=4, ge=0)  # uploads streaming at once, per user and process
    chatkit_limit_answers_in_flight: int = Field(default=2, ge=0)  # answers being written at once, per user
    chatkit_limit_model_tokens_per_day: int = Field(default=200_000, ge=0)  # per user, as the model reports

    # -- Health, metrics and logs (docs/deployment.md, "Health, metrics and logs") -------
    chatkit_metrics_token: SecretStr | None = None  # when set, /metrics needs it as a bearer token
    chatkit_log_format: Literal["text", "json"] = "text"  # json: one object per line, with a request id
    chatkit_ready_timeout_seconds: float = Field(default=2.0, gt=0, le=30)  # each /readyz check
    # SIGTERM: replies in flight get this long to finish (`python -m chatkit_app.serve`)
    chatkit_shutdown_grace_seconds: float = Field(default=20.0, ge=1, le=600)

    # -- Several machines (docs/deployment.md, "Running on several machines") -------------
    # Backend worker processes of `reflex run`: unset, 1 without Redis, the cores with it.
    chatkit_workers: int | None = Field(default=None, ge=1, le=256)
    # Database connections kept per worker (PostgreSQL), and its database calls at once (the
    # rest queue: services.DatabaseRunner); as many again may open under load.
    chatkit_db_pool_size: int = Field(default=5, ge=1, le=200)
    # PostgreSQL: connect, statement and pool-wait timeout; a request then answers 503.
    chatkit_db_timeout_seconds: float = Field(default=5.0, gt=0, le=600)

    @field_validator(
        "chatkit_secret",
        "chatkit_api_key",
        "openai_api_key",
        "chatkit_oidc_client_secret",
        "chatkit_metrics_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region",
        "aws_default_region",
        "aws_endpoint_url",
        "aws_endpoint_url_s3",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", "reflex_redis_url", "chatkit_workers", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", "reflex_redis_url", mode="after")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a Redis URL like redis://host:6379/0 (redis://, rediss:// or unix://)")
        return value.strip() if value else None

    @field_validator("chatkit_mcp_servers", mode="before")
    @classmethod
    def _mcp_servers(cls, value: object) -> list[McpServerConfig]:
        return parse_mcp_servers(value)

    @field_validator("chatkit_embed_origins", "chatkit_cors_origins", mode="after")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in _split(value):
            if not ORIGIN_PATTERN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://example.com")
        return value

    @field_validator("chatkit_model_inputs", mode="after")
    @classmethod
    def _model_inputs(cls, value: str) -> str:
        kinds = _split(value.lower())
        unknown = [kind for kind in kinds if kind not in MODEL_INPUT_KINDS]
        if unknown or not kinds or ("none" in kinds and len(kinds) > 1):
            raise ValueError(f"{value!r} is not a list of text, image, file (or none)")
        return value

    @field_validator("chatkit_upload_limits", mode="after")
    @classmethod
    def _upload_limits(cls, value: str) -> str:
        parse_size_limits(value)
        return value

    @field_validator("chatkit_storage_url", mode="after")
    @classmethod
    def _storage_url(cls, value: str) -> str:
        parse_storage_url(value, default_directory=Path())
        return value

    @field_validator("chatkit_site_logo", "chatkit_site_favicon", mode="after")
    @classmethod
    def _site_image(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"^(/[^\s?#]*|https?://[^\s\"'<>]+)$", value):
            raise ValueError(f"{value!r} is neither a path like /logo.svg nor an http(s) URL")
        return value

    @field_validator("chatkit_public_url", mode="after")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+(/[^?#]*)?$", value):
            raise ValueError(f"{value!r} is not a URL like https://chat.example.com")
        return value

    @field_validator("chatkit_trusted_proxies", mode="after")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in _split(value):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network like 10.0.0.0/8") from None
        return value

    @model_validator(mode="after")
    def _auth_complete(self) -> Settings:
        if self.chatkit_auth == "oidc" and not (self.chatkit_oidc_issuer and self.chatkit_oidc_client_id):
            raise ValueError("CHATKIT_AUTH=oidc needs CHATKIT_OIDC_ISSUER and CHATKIT_OIDC_CLIENT_ID")
        if self.chatkit_auth == "header" and not self.chatkit_trusted_proxies.strip():
            raise ValueError("CHATKIT_AUTH=header needs CHATKIT_TRUSTED_PROXIES (the proxies that set the header)")
        return self

    @model_validator(mode="after")
    def _cluster_consistent(self) -> Settings:
        if self.redis_url and self.reflex_redis_url and self.redis_url != self.reflex_redis_url:
            raise ValueError("REDIS_URL and REFLEX_REDIS_URL name different servers; set only REDIS_URL")
        if (self.chatkit_workers or 1) > 1 and not self.resolved_redis_url:
            raise ValueError(
                f"CHATKIT_WORKERS={self.chatkit_workers} needs Redis: without REDIS_URL each worker keeps "
                "its own UI state and rate-limit counts; set REDIS_URL or CHATKIT_WORKERS=1"
            )
        return self

    @property
    def resolved_redis_url(self) -> str | None:
        """Redis for Reflex's state, the rate limits and cluster leases: `REDIS_URL`, else
        `REFLEX_REDIS_URL` (Reflex's name), else None (memory, one worker)."""
        return self.redis_url or self.reflex_redis_url

    @property
    def workers(self) -> int:
        """Backend workers: `CHATKIT_WORKERS`, else one per core with Redis, else 1."""
        if self.chatkit_workers is not None:
            return self.chatkit_workers
        return usable_cores() if self.resolved_redis_url else 1

    @property
    def upload_size_limits(self) -> dict[str, int]:
        """`CHATKIT_UPLOAD_LIMITS` as MIME pattern -> bytes."""
        return parse_size_limits(self.chatkit_upload_limits)

    @property
    def debug_panel(self) -> bool:
        """Whether the session panel shows: as set, else only in development."""
        return not is_production() if self.chatkit_debug_panel is None else self.chatkit_debug_panel

    @property
    def cors_origins(self) -> list[str]:
        return _split(self.chatkit_cors_origins)

    @property
    def model_inputs(self) -> frozenset[str]:
        """The kinds of attachment content the model is sent: "text", "image", "file"."""
        return frozenset(_split(self.chatkit_model_inputs.lower())) - {"none"}

    @property
    def trusted_proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(part, strict=False) for part in _split(self.chatkit_trusted_proxies)]

    @property
    def allowed_emails(self) -> set[str]:
        return {email.lower() for email in _split(self.chatkit_allowed_emails)}

    @property
    def allowed_email_domains(self) -> set[str]:
        return {domain.lower().lstrip("@") for domain in _split(self.chatkit_allowed_email_domains)}

    @property
    def allowed_image_domains(self) -> list[str]:
        return _split(self.chatkit_allowed_image_domains)

    @property
    def secure_cookies(self) -> bool:
        """Cookies are `Secure` exactly when the public URL is https (a Secure cookie over
        plain HTTP on a non-localhost host is never stored: every visit a new user)."""
        return bool(self.chatkit_public_url and self.chatkit_public_url.startswith("https://"))

    @property
    def embed_origins(self) -> list[str]:
        """Origins whose pages may show `/embed/...` in an iframe (CSP frame-ancestors)."""
        return _split(self.chatkit_embed_origins)

    @field_validator("chatkit_data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value if value.is_absolute() else (Path.cwd() / value).resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.chatkit_data_dir / 'chatkit.db'}"

    @property
    def uploads_dir(self) -> Path:
        return self.chatkit_data_dir / "uploads"

    @property
    def storage_location(self) -> StorageLocation:
        """Where attachment bytes live (`CHATKIT_STORAGE_URL`, else `uploads_dir`)."""
        return parse_storage_url(self.chatkit_storage_url, default_directory=self.uploads_dir)


def _split(value: str) -> list[str]:
    return [part.rstrip("/") for part in value.replace(",", " ").split()]


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def is_production() -> bool:
    """Reflex exports `REFLEX_ENV_MODE=prod` for `reflex run --env prod`."""
    return os.environ.get("REFLEX_ENV_MODE", "").lower() == "prod"


def ensure_data_dir(settings: Settings) -> Path:
    path = settings.chatkit_data_dir
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _is_weak(secret: str) -> str | None:
    raw = secret.encode()
    if len(raw) < MIN_SECRET_BYTES:
        return f"CHATKIT_SECRET is {len(raw)} bytes; at least {MIN_SECRET_BYTES} are required"
    if secret.lower() in _PLACEHOLDER_SECRETS or len(set(secret)) < 8:
        return "CHATKIT_SECRET looks like a placeholder; generate one with secrets.token_urlsafe(48)"
    return None


def resolve_secret(settings: Settings, *, production: bool | None = None) -> bytes:
    """The HS256 key. Production refuses a missing or weak secret; development
    generates one into the data dir (mode 0600) and says so, never printing it."""
    production = is_production() if production is None else production
    if settings.chatkit_secret is not None:
        value = settings.chatkit_secret.get_secret_value()
        problem = _is_weak(value)
        if problem and production:
            raise ConfigError(f"refusing to start in production: {problem}")
        if problem:
            logger.warning("%s (accepted in development only)", problem)
        return value.encode()
    if production:
        raise ConfigError(
            "refusing to start in production: CHATKIT_SECRET is not set "
            f"(needs at least {MIN_SECRET_BYTES} random bytes)"
        )
    return _development_secret(settings)


def check_production(settings: Settings) -> None:
    """What production needs besides a strong secret: OpenID sign-in needs the public URL
    (the redirect URI registered at the provider is built from it)."""
    if settings.chatkit_auth == "oidc" and not settings.chatkit_public_url:
        raise ConfigError(
            "refusing to start in production: CHATKIT_AUTH=oidc needs CHATKIT_PUBLIC_URL "
            "(e.g. https://chat.example.com; the provider redirects to <it>/auth/callback)"
        )


def _development_secret(settings: Settings) -> bytes:
    """Created atomically (temp file + link), so concurrent workers never see a
    half-written file and all agree on one secret."""
    path = ensure_data_dir(settings) / "dev-secret"
    weak_file = False
    if path.exists():
        os.chmod(path, 0o600)
        value = path.read_text().strip()
        if not _is_weak(value):
            return value.encode()
        weak_file = True
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".dev-secret-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.chmod(temp, 0o600)
        if weak_file:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)
            except FileExistsError:
                return path.read_text().strip().encode()  # another worker won
        logger.warning("No CHATKIT_SECRET set: generated a development secret in %s (mode 0600)", path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_or_exit() -> Settings:
    """The settings, or exit 2 with one line naming the setting that cannot be parsed
    (no traceback): for the start of `reflex run`."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"setting {first['loc'][0]}" if first["loc"] else "settings"
        print(f"chatkit_app: {where}: {first['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
