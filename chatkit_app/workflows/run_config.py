"""What an agent run is configured with, and what the user picked for it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from agents import Agent, ModelSettings, RunConfig
from chatkit.types import UserMessageItem

from chatkit_app.settings import Settings
from chatkit_app.workflows.model_provider import SiteModels


def run_config(
    settings: Settings, workflow_id: str, agent: Agent[Any], chosen: str | None, models: SiteModels
) -> RunConfig:
    """The run's configuration: the site's models, no tracing, and what the token quota and
    the early calls need of the model settings."""
    config = RunConfig(
        model=chosen,
        model_provider=models,
        tracing_disabled=True,
        trace_include_sensitive_data=False,
        workflow_name=f"chatkit:{workflow_id}",
    )
    if settings.chatkit_openai_api == "chat_completions" and settings.chatkit_limit_model_tokens_per_day:
        # The token quota needs the usage, which the Agents SDK asks of OpenAI itself
        # only; OpenAI-compatible servers (vLLM, Ollama, llama.cpp) report it when asked.
        config.model_settings = ModelSettings(include_usage=True)
    elif is_openai(settings) and "prompt_cache_key" not in (agent.model_settings.extra_args or {}):
        # Against OpenAI itself the Agents SDK adds a prompt cache key new to every run,
        # which no early call could predict (each would be sent twice); one per workflow
        # instead, which also lets its users' calls share the instructions' cache.
        config.model_settings = ModelSettings(extra_args={"prompt_cache_key": f"chatkit-{workflow_id}"})
    return config


def is_openai(settings: Settings) -> bool:
    """Whether the models are OpenAI's own (no `OPENAI_BASE_URL`, or OpenAI's)."""
    base = settings.openai_base_url or ""
    return not base or urlsplit(base).hostname == "api.openai.com"


def picked_model(message: UserMessageItem | None) -> str | None:
    options = message.inference_options if message is not None else None
    return options.model if options is not None and options.model else None
