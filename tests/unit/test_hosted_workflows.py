"""Hosted (Agent Builder) workflows in the registry, and the pure parts of the hosted
client: OpenAI's `file_upload` from public UI options and Retry-After parsing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from chatkit_app.settings import Settings
from chatkit_app.upstream.hosted import DEFAULT_RETRY_AFTER, HostedSessions, file_upload_options, retry_after
from chatkit_app.workflows.config import PublicConfig, WorkflowConfigError, WorkflowEntry, load_public_config
from chatkit_app.workflows.registry import build_registry
from tests.fakes.openai_server import running_fake

WF = "wf_68df4b13b3588190a09d19288d4610ec0df388c3983f58d1"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def settings_for(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, chatkit_data_dir=tmp_path / "data")


def test_chatkit_workflow_id_wf_registers_a_hosted_default_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATKIT_WORKFLOW_ID", WF)
    registry = build_registry(settings_for(tmp_path), PublicConfig())
    assert registry.default_id == WF
    workflow = registry.get(WF)
    assert (workflow.mode, workflow.agent, workflow.chat_agent) == ("hosted", None, None)
    assert registry.get("assistant").mode == "agent", "the built-in agent stays available"
    assert registry.hosted_ids() == [WF]


def test_a_hosted_config_entry_is_registered_under_its_wf_id(tmp_path: Path) -> None:
    path = tmp_path / "chatkit-config.json"
    ui = {"composer": {"placeholder": "Ask support", "attachments": {"enabled": True}}}
    path.write_text(PublicConfig(workflows={WF: WorkflowEntry(name="Support", mode="hosted", ui=ui)}).model_dump_json())
    registry = build_registry(settings_for(tmp_path), load_public_config(path))
    assert registry.default_id == "assistant"
    assert registry.get(WF).public() == {"id": WF, "name": "Support", "mode": "hosted", "ui": ui}


def test_a_hosted_config_entry_needs_a_wf_id(tmp_path: Path) -> None:
    config = PublicConfig(workflows={"support": WorkflowEntry(name="Support", mode="hosted")})
    with pytest.raises(WorkflowConfigError, match=r"workflows\.support\.mode"):
        build_registry(settings_for(tmp_path), config)


def test_without_hosted_configuration_no_hosted_workflow_exists(tmp_path: Path) -> None:
    assert build_registry(settings_for(tmp_path), PublicConfig()).hosted_ids() == []


@pytest.mark.parametrize(
    ("ui", "expected"),
    [
        ({}, None),
        ({"composer": {"placeholder": "x"}}, None),
        ({"composer": {"attachments": {"enabled": False}}}, {"enabled": False}),
        (
            {"composer": {"attachments": {"enabled": True, "maxSize": 10 * 1024 * 1024, "maxCount": 4}}},
            {"enabled": True, "max_file_size": 10, "max_files": 4},
        ),
        (  # per-MIME limits: the largest one; rounded up to whole megabytes
            {"composer": {"attachments": {"enabled": True, "maxSize": {"image/*": 1024, "*": 3 * 1024 * 1024 + 5}}}},
            {"enabled": True, "max_file_size": 4},
        ),
        (  # OpenAI's ceiling is 512 MB; nonsense values are left out
            {"composer": {"attachments": {"enabled": True, "maxSize": 10**12, "maxCount": -1}}},
            {"enabled": True, "max_file_size": 512},
        ),
        ({"composer": {"attachments": {"enabled": "yes", "maxSize": True}}}, {"enabled": False}),
    ],
)
def test_file_upload_options_from_the_public_ui(ui: dict[str, Any], expected: dict[str, Any] | None) -> None:
    assert file_upload_options(ui) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12),
        ({"retry-after": "0.2"}, 1),
        ({"retry-after-ms": "2500", "retry-after": "9"}, 3),
        ({"retry-after": "999999"}, 3600),
        ({"retry-after": "soon"}, DEFAULT_RETRY_AFTER),
        ({}, DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after_from_the_upstream_answer(headers: dict[str, str], expected: int) -> None:
    assert retry_after(httpx2.Response(429, headers=headers)) == expected


def test_close_closes_the_sdk_client_made_on_an_idle_loop() -> None:
    for fake in running_fake():
        hosted = HostedSessions(SecretStr("sk-unit-test"), base_url=fake.base_url, timeout=5)
        loop = asyncio.new_event_loop()
        try:
            session = loop.run_until_complete(hosted.create(user="u", workflow_id=WF, expires_in=60))
            assert fake.sessions[session.id]["client_secret"] == session.client_secret
            assert session.client_secret not in repr(session)
            client = hosted._clients[loop]
            hosted.close()
            assert client.is_closed()
        finally:
            loop.close()
