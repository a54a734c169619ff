"""The run configuration an agent workflow's answers get: a prompt cache key stable per
workflow against OpenAI itself (so early model calls can match the SDK's own), none for
other servers or when the agent names its own."""

from __future__ import annotations

from pathlib import Path

from agents import Agent, ModelSettings

from chatkit_app.settings import Settings
from chatkit_app.workflows.model_provider import SiteModels
from chatkit_app.workflows.run_config import run_config


def _config_extras(settings: Settings, agent: Agent[None]) -> dict[str, object] | None:
    config = run_config(settings, "shop", agent, None, SiteModels(settings, None, None))  # type: ignore[arg-type]
    return config.model_settings.extra_args if config.model_settings else None


def test_openai_itself_gets_one_prompt_cache_key_per_workflow(tmp_path: Path) -> None:
    for base_url in (None, "https://api.openai.com/v1"):
        settings = Settings(_env_file=None, chatkit_data_dir=tmp_path, openai_api_key="sk-x", openai_base_url=base_url)
        agent: Agent[None] = Agent(name="a")
        assert _config_extras(settings, agent) == {"prompt_cache_key": "chatkit-shop"}
        own: Agent[None] = Agent(name="a", model_settings=ModelSettings(extra_args={"prompt_cache_key": "mine"}))
        assert _config_extras(settings, own) is None


def test_other_servers_get_no_prompt_cache_key(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, chatkit_data_dir=tmp_path, openai_base_url="http://127.0.0.1:11434/v1")
    assert _config_extras(settings, Agent(name="a")) is None
    lookalike = Settings(_env_file=None, chatkit_data_dir=tmp_path, openai_base_url="https://api.openai.com.evil/v1")
    assert _config_extras(lookalike, Agent(name="a")) is None
