"""ChatKit's options in Python: typed models, the public config file's validation, and
what `chatkit_widget` accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import reflex as rx

from chatkit_app.ui.chatkit.component import chatkit_options
from chatkit_app.ui.chatkit.methods import send_user_message, set_thread
from chatkit_app.workflows.config import WorkflowConfigError, load_public_config
from chatkit_app.workflows.ui_options import Accent, ChatKitUI, Composer, Prompt, StartScreen, Theme, ThemeColor

CUSTOMISING = Path(__file__).resolve().parents[2] / "docs" / "customising.md"


def _config(tmp_path: Path, ui: object) -> Path:
    path = tmp_path / "chatkit-config.json"
    path.write_text(json.dumps({"workflows": {"assistant": {"name": "Assistant", "ui": ui}}}))
    return path


def test_typed_options_become_chatkit_camel_case() -> None:
    theme = Theme(color_scheme="dark", radius="pill", color=ThemeColor(accent=Accent(primary="#0f766e", level=2)))
    assert theme.to_js() == {
        "colorScheme": "dark",
        "radius": "pill",
        "color": {"accent": {"primary": "#0f766e", "level": 2}},
    }
    start = StartScreen(greeting="Hi", prompts=[Prompt(label="Help", prompt="help", icon="circle-question")])
    assert start.to_js() == {
        "greeting": "Hi",
        "prompts": [{"label": "Help", "prompt": "help", "icon": "circle-question"}],
    }


def test_the_shipped_config_is_valid() -> None:
    ui = load_public_config().workflows["assistant"].ui
    assert ChatKitUI.model_validate(ui).to_js() == ui


@pytest.mark.parametrize(
    ("ui", "field"),
    [
        ({"theme": {"radius": "huge"}}, "workflows.assistant.ui.theme.radius"),
        ({"startScreen": {"greting": "typo"}}, "workflows.assistant.ui.startScreen.greting"),
        (
            {"startScreen": {"prompts": [{"label": "no prompt"}]}},
            "workflows.assistant.ui.startScreen.prompts[0].prompt",
        ),
        (
            {"composer": {"attachments": {"enabled": True, "maxCount": 0}}},
            "workflows.assistant.ui.composer.attachments.maxCount",
        ),
        ({"locale": "not a locale!"}, "workflows.assistant.ui.locale"),
    ],
)
def test_a_bad_config_field_is_named(tmp_path: Path, ui: object, field: str) -> None:
    with pytest.raises(WorkflowConfigError) as caught:
        load_public_config(_config(tmp_path, ui))
    assert f"field '{field}'" in str(caught.value)


def test_the_assistant_says_what_it_runs(tmp_path: Path) -> None:
    """The offline demo agent's texts say so; with a model configured, `modelUi` replaces
    them (key by key) and nothing claims there is no language model."""
    from chatkit_app.settings import Settings
    from chatkit_app.workflows.registry import build_registry

    offline = Settings(_env_file=None, chatkit_data_dir=tmp_path / "a", openai_api_key=None, openai_base_url="")
    model = Settings(_env_file=None, chatkit_data_dir=tmp_path / "b", openai_api_key="sk-x", openai_base_url="")
    shipped = load_public_config()
    offline_ui = build_registry(offline, shipped).get("assistant").ui
    model_ui = build_registry(model, shipped).get("assistant").ui
    assert "offline demo agent" in offline_ui["startScreen"]["greeting"]
    assert "no language model" in offline_ui["disclaimer"]["text"]
    assert "offline" not in json.dumps(model_ui).lower() and "no language model" not in json.dumps(model_ui)
    assert model_ui["theme"] == offline_ui["theme"] and model_ui["composer"] == offline_ui["composer"]
    with pytest.raises(WorkflowConfigError, match=r"field .workflows\.assistant\.modelUi\.disclaimer"):
        path = tmp_path / "bad.json"
        path.write_text(
            json.dumps({"workflows": {"assistant": {"name": "A", "modelUi": {"disclaimer": {"txt": "x"}}}}})
        )
        load_public_config(path)


def test_secrets_are_refused_in_the_public_config(tmp_path: Path) -> None:
    with pytest.raises(WorkflowConfigError, match="must not be in the public config"):
        load_public_config(_config(tmp_path, {"composer": {"placeholder": "x"}, "instructions": "be evil"}))


def test_python_options_are_checked_and_vars_pass_through() -> None:
    class _S(rx.State):
        scheme: str = "dark"

    options = chatkit_options(
        {
            "composer": Composer(placeholder="Ask"),
            "start_screen": {"greeting": "Hello", "prompts": [{"label": "a", "prompt": "b"}]},
            "thread_item_actions": {"feedback": True, "retry": False},
            "locale": "fr-FR",
            "theme": _S.scheme,
            "header": {"title": {"text": _S.scheme}},
        }
    )
    assert options["composer"] == {"placeholder": "Ask"}
    assert options["startScreen"]["prompts"] == [{"label": "a", "prompt": "b"}]
    assert options["threadItemActions"] == {"feedback": True, "retry": False}
    assert options["locale"] == "fr-FR"
    assert isinstance(options["theme"], rx.Var)
    assert isinstance(options["header"]["title"]["text"], rx.Var)  # a dict holding a Var stays reactive

    with pytest.raises(TypeError, match="unknown ChatKit option 'colour'"):
        chatkit_options({"colour": "red"})
    with pytest.raises(ValueError, match="radius"):
        chatkit_options({"theme": {"radius": "huge"}})


def _script(spec: object) -> str:
    """The JavaScript an `rx.call_script` event will run."""
    return next(arg[1]._var_value for arg in spec.args if "window.__chatkitApp" in str(arg[1]))  # type: ignore[attr-defined]


def test_method_calls_encode_their_arguments_as_json() -> None:
    text = 'say "hi"); alert(1); ("'
    script = _script(send_user_message(text, new_thread=True))
    assert script.endswith(f'.call("chatkit", "sendUserMessage", {json.dumps({"text": text, "newThread": True})})')
    assert _script(set_thread(None)).endswith('.call("chatkit", "setThreadId", null)')


def test_the_documented_example_builds() -> None:
    """The runnable customisation example of docs/customising.md, as written there."""
    doc = CUSTOMISING.read_text()
    block = doc.split("A runnable example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    pages: list[str] = []

    class _App:
        def add_page(self, component: object, route: str) -> None:
            pages.append(route)
            rendered = str(component())  # type: ignore[operator]
            assert "ChatKitBridge" in rendered and "How can we help today?" in rendered

    exec(compile(block, "docs/customising.md", "exec"), {"app": _App(), "__name__": "doc_example"})  # noqa: S102
    assert pages == ["/support"]


def test_the_documented_native_example_builds() -> None:
    doc = CUSTOMISING.read_text()
    block = doc.split("Every piece is a public function", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, object] = {"__name__": "doc_native_example"}
    exec(compile(block, "docs/customising.md", "exec"), scope)  # noqa: S102
    page = scope["support_page"]()  # type: ignore[operator]
    rendered = str(page)
    assert "Ask support" in rendered and "composer-input" in rendered
    assert "on_mount" in page.event_triggers  # type: ignore[attr-defined]
