"""Where an agent's model name becomes a model: our shared client, recording what it sends.

Every agent of a run (the first one and those it hands off to) whose model is a name, or
none, is served through the site's model server (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, the
Responses or Chat Completions API of `CHATKIT_OPENAI_API`), on the client this answer
streams with; each model records what it reads (`PartialAnswer`), so an answer cut off
mid-way is kept. An agent that brings its own `Model` object keeps it (its author chose it),
unless the user picked a model from the workflow's list: the Agents SDK then runs every
agent of the run on the pick.
"""

from __future__ import annotations

from agents import Model, ModelProvider
from openai import AsyncOpenAI

from chatkit_app.settings import Settings
from chatkit_app.workflows.partial_answer import PartialAnswer, RecordingChatCompletionsModel, RecordingResponsesModel


class SiteModels(ModelProvider):
    """The models of one answer attempt: `client` (the attempt's timeout), `partial`."""

    def __init__(self, settings: Settings, client: AsyncOpenAI, partial: PartialAnswer) -> None:
        self.settings = settings
        self.client = client
        self.partial = partial

    def get_model(self, model_name: str | None) -> Model:
        name = model_name or self.settings.chatkit_model
        model: RecordingResponsesModel | RecordingChatCompletionsModel
        if self.settings.chatkit_openai_api == "chat_completions":
            model = RecordingChatCompletionsModel(model=name, openai_client=self.client)
        else:
            model = RecordingResponsesModel(model=name, openai_client=self.client)
        model.partial = self.partial
        return model
