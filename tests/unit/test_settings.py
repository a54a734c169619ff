"""Settings and the signing secret (docs/configuration.md; docs/security.md, Tokens and sessions)."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chatkit_app import settings as settings_module
from chatkit_app.auth.tokens import TokenCodec
from chatkit_app.settings import ConfigError, Settings, resolve_secret


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No configuration leaks in from the machine running the tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REFLEX_ENV_MODE", raising=False)


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, chatkit_data_dir=tmp_path / "data", **values)


def strong_secret() -> str:
    return secrets.token_urlsafe(48)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{record.getMessage()} {record.msg!s} {record.args!r}" for record in caplog.records)


def write_env_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_env_file_values_are_read(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "CHATKIT_ISSUER=from-dotenv", "CHATKIT_TOKEN_TTL_SECONDS=120")
    loaded = Settings(_env_file=env_file)
    assert loaded.chatkit_issuer == "from-dotenv"
    assert loaded.chatkit_token_ttl_seconds == 120


def test_environment_variables_override_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = write_env_file(
        tmp_path, "CHATKIT_ISSUER=from-dotenv", "CHATKIT_TOKEN_TTL_SECONDS=120", "CHATKIT_API_KEY=dotenv-key"
    )
    monkeypatch.setenv("CHATKIT_ISSUER", "from-environment")
    monkeypatch.setenv("CHATKIT_API_KEY", "environment-key")
    loaded = Settings(_env_file=env_file)
    assert loaded.chatkit_issuer == "from-environment"
    assert loaded.chatkit_api_key is not None
    assert loaded.chatkit_api_key.get_secret_value() == "environment-key"
    assert loaded.chatkit_token_ttl_seconds == 120  # not in the environment: .env still applies


def test_defaults(tmp_path: Path) -> None:
    loaded = Settings(_env_file=None)
    assert loaded.chatkit_token_ttl_seconds == 3600
    assert loaded.chatkit_session_max_age_seconds == 86400
    assert loaded.chatkit_issuer == "chatkit_app"
    assert loaded.chatkit_max_body_bytes == 1024 * 1024
    assert loaded.chatkit_secret is None
    assert loaded.chatkit_api_key is None


def test_blank_secrets_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_SECRET", "   ")
    monkeypatch.setenv("CHATKIT_API_KEY", "")
    loaded = Settings(_env_file=None)
    assert loaded.chatkit_secret is None
    assert loaded.chatkit_api_key is None


@pytest.mark.parametrize("name, value", [("CHATKIT_TOKEN_TTL_SECONDS", "0"), ("CHATKIT_SESSION_MAX_AGE_SECONDS", "-5")])
def test_nonsense_lifetimes_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_secrets_do_not_appear_in_repr(tmp_path: Path) -> None:
    secret, api_key = strong_secret(), "api-" + secrets.token_urlsafe(24)
    loaded = settings_for(tmp_path, chatkit_secret=secret, chatkit_api_key=api_key)
    assert secret not in repr(loaded) and secret not in str(loaded)
    assert api_key not in repr(loaded) and api_key not in str(loaded.model_dump())


def test_production_without_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        resolve_secret(settings_for(tmp_path), production=True)
    assert not (tmp_path / "data" / "dev-secret").exists()


def test_production_with_31_byte_secret_is_refused(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)[:31]
    with pytest.raises(ConfigError) as caught:
        resolve_secret(settings_for(tmp_path, chatkit_secret=secret), production=True)
    assert secret not in str(caught.value)


@pytest.mark.parametrize("placeholder", ["a" * 40, "ab" * 20, "0123456" * 6])
def test_production_with_low_entropy_secret_is_refused(tmp_path: Path, placeholder: str) -> None:
    with pytest.raises(ConfigError):
        resolve_secret(settings_for(tmp_path, chatkit_secret=placeholder), production=True)


def test_production_with_strong_secret_is_used(tmp_path: Path) -> None:
    secret = strong_secret()
    assert resolve_secret(settings_for(tmp_path, chatkit_secret=secret), production=True) == secret.encode()
    assert not (tmp_path / "data" / "dev-secret").exists()


def test_production_mode_is_read_from_reflex_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    with pytest.raises(ConfigError):
        resolve_secret(settings_for(tmp_path))


def test_development_weak_secret_is_accepted_with_a_warning_that_hides_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = secrets.token_urlsafe(32)[:20]
    with caplog.at_level(logging.DEBUG):
        assert resolve_secret(settings_for(tmp_path, chatkit_secret=secret), production=False) == secret.encode()
    assert any(record.levelno >= logging.WARNING for record in caplog.records)
    assert secret not in log_text(caplog)


def test_development_without_secret_generates_a_private_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        first = resolve_secret(settings_for(tmp_path), production=False)
    path = tmp_path / "data" / "dev-secret"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().strip() == first
    assert len(first) >= settings_module.MIN_SECRET_BYTES
    TokenCodec(first, issuer="chatkit_app")  # usable as a signing key
    assert any(str(path) in record.getMessage() for record in caplog.records), "generation must be logged"


def test_development_secret_is_stable_across_calls(tmp_path: Path) -> None:
    first = resolve_secret(settings_for(tmp_path), production=False)
    second = resolve_secret(settings_for(tmp_path), production=False)
    assert first == second


def test_development_secret_differs_per_data_dir(tmp_path: Path) -> None:
    one = resolve_secret(settings_for(tmp_path / "a"), production=False)
    two = resolve_secret(settings_for(tmp_path / "b"), production=False)
    assert one != two


def test_development_secret_file_permissions_are_repaired(tmp_path: Path) -> None:
    first = resolve_secret(settings_for(tmp_path), production=False)
    path = tmp_path / "data" / "dev-secret"
    os.chmod(path, 0o644)
    assert resolve_secret(settings_for(tmp_path), production=False) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_development_secret_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        resolve_secret(settings_for(tmp_path), production=False)
        resolve_secret(settings_for(tmp_path), production=False)
    value = (tmp_path / "data" / "dev-secret").read_text().strip()
    assert caplog.records, "expected the generation to be logged"
    assert value not in log_text(caplog)
    assert value not in caplog.text


def test_weak_development_secret_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "data" / "dev-secret"
    path.parent.mkdir(parents=True)
    path.write_text("short")
    replaced = resolve_secret(settings_for(tmp_path), production=False)
    assert replaced != b"short"
    assert len(replaced) >= settings_module.MIN_SECRET_BYTES
    assert path.read_text().strip().encode() == replaced


def test_default_data_dir_is_git_ignored() -> None:
    default_dir = Settings.model_fields["chatkit_data_dir"].default
    ignored = (settings_module.REPO_ROOT / ".gitignore").read_text().split()
    assert f"{default_dir.relative_to(settings_module.REPO_ROOT)}/" in ignored


def _secret_in_child(data_dir: str) -> bytes:
    return resolve_secret(Settings(_env_file=None, chatkit_data_dir=Path(data_dir)), production=False)


def test_workers_starting_together_agree_on_one_development_secret(tmp_path: Path) -> None:
    """Several backend workers generate the secret at the same moment: none crashes,
    none sees a half-written file, all end up with the same key."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(15):
        data_dir = tmp_path / f"trial-{trial}"
        with context.Pool(8) as pool:
            keys = pool.map(_secret_in_child, [str(data_dir)] * 8)
        assert len(set(keys)) == 1 and len(keys[0]) >= 32
        assert (data_dir / "dev-secret").read_bytes().strip() == keys[0]


def test_embed_origins_are_parsed_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CHATKIT_EMBED_ORIGINS", "https://www.example.com, http://localhost:8080  https://*.example.org/"
    )
    assert Settings(_env_file=None).embed_origins == [  # type: ignore[call-arg]
        "https://www.example.com",
        "http://localhost:8080",
        "https://*.example.org",
    ]
    monkeypatch.delenv("CHATKIT_EMBED_ORIGINS")
    assert Settings(_env_file=None).embed_origins == []  # type: ignore[call-arg]
    for bad in ("https://example.com/page", "example.com", "javascript:alert(1)", "'none'", "*"):
        monkeypatch.setenv("CHATKIT_EMBED_ORIGINS", bad)
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(_env_file=None)  # type: ignore[call-arg]
