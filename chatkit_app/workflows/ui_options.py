"""ChatKit's browser options as typed Python models (the shapes of `@openai/chatkit`'s
`ChatKitOptions`, minus `api`, which the server decides).

Fields are snake_case in Python and camelCase on the wire, so both
`Theme(color_scheme="dark")` and the ChatKit docs' `{"colorScheme": "dark"}` work.
Unknown fields are refused, which is how a typo in `assets/chatkit-config.json` gets an
error that names it instead of being ignored by the browser.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel


class _Option(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_js(self) -> dict[str, Any]:
        """The camelCase dict ChatKit expects, without unset fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


ColorScheme = Literal["light", "dark"]


class Accent(_Option):
    primary: str = Field(min_length=1, max_length=64)
    level: Literal[0, 1, 2, 3] = 1


class Grayscale(_Option):
    hue: float = Field(ge=0, le=360)
    tint: Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    shade: Literal[-4, -3, -2, -1, 0, 1, 2, 3, 4] | None = None


class Surface(_Option):
    background: str = Field(min_length=1, max_length=64)
    foreground: str = Field(min_length=1, max_length=64)


class ThemeColor(_Option):
    accent: Accent | None = None
    grayscale: Grayscale | None = None
    surface: Surface | None = None


class FontSource(_Option):
    family: str
    src: str
    weight: str | int | None = None
    style: Literal["normal", "italic", "oblique"] | None = None
    display: Literal["auto", "block", "swap", "fallback", "optional"] | None = None
    unicode_range: str | None = None


class Typography(_Option):
    base_size: Literal[14, 15, 16, 17, 18] | None = None
    font_family: str | None = None
    font_family_mono: str | None = None
    font_sources: list[FontSource] | None = None


class Theme(_Option):
    color_scheme: ColorScheme | None = None
    radius: Literal["pill", "round", "soft", "sharp"] | None = None
    density: Literal["compact", "normal", "spacious"] | None = None
    color: ThemeColor | None = None
    typography: Typography | None = None


class HeaderAction(_Option):
    """A header button; clicks reach the widget's `on_header_action` handler."""

    icon: str = Field(min_length=1, max_length=64)


class HeaderTitle(_Option):
    enabled: bool | None = None
    text: str | None = None


class Header(_Option):
    enabled: bool | None = None
    title: HeaderTitle | None = None
    left_action: HeaderAction | None = None
    right_action: HeaderAction | None = None


class History(_Option):
    enabled: bool | None = None
    show_delete: bool | None = None
    show_rename: bool | None = None


class Prompt(_Option):
    label: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1, max_length=4000)
    icon: str | None = None


class StartScreen(_Option):
    greeting: str | None = None
    prompts: list[Prompt] | None = None


class ComposerAttachments(_Option):
    """ChatKit 1.9: `maxSize` is bytes for every file, or per MIME pattern
    (`{"image/*": 5242880, "application/pdf": 20971520, "*": 1048576}`; 0 refuses a type)."""

    enabled: bool
    max_size: int | dict[str, int] | None = None
    max_count: int | None = Field(default=None, gt=0)
    accept: dict[str, list[str]] | None = None

    @field_validator("max_size")
    @classmethod
    def _sizes(cls, value: int | dict[str, int] | None) -> int | dict[str, int] | None:
        if isinstance(value, int) and value <= 0:
            raise ValueError("maxSize must be more than 0 bytes")
        if isinstance(value, dict):
            for pattern, size in value.items():
                if size < 0 or not re.match(r"^([a-z0-9.+\-]+/(\*|[a-z0-9.+\-]+)|\*|)$", pattern.lower()):
                    raise ValueError(f'maxSize: {pattern!r}: {size} is not like "image/*": 5242880')
        return value


class ComposerTool(_Option):
    id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=120)
    icon: str
    short_label: str | None = None
    placeholder_override: str | None = None
    pinned: bool | None = None
    persistent: bool | None = None


class ComposerModel(_Option):
    id: str
    label: str
    description: str | None = None
    disabled: bool | None = None
    default: bool | None = None


class Composer(_Option):
    placeholder: str | None = None
    attachments: ComposerAttachments | None = None
    tools: list[ComposerTool] | None = None
    models: list[ComposerModel] | None = None


class Disclaimer(_Option):
    text: str = Field(min_length=1)
    high_contrast: bool | None = None


class ThreadItemActions(_Option):
    feedback: bool | None = None
    retry: bool | None = None


class Entity(_Option):
    id: str
    title: str
    icon: str | None = None
    interactive: bool | None = None
    group: str | None = None
    data: dict[str, str] | None = None


class Entities(_Option):
    """Tags offered in the composer: searched in the browser from `tags`; clicks
    reach the widget's `on_entity_click` handler."""

    tags: list[Entity] | None = None
    show_composer_menu: bool | None = None


class Command(_Option):
    """One entry of the "/" menu (ChatKit 1.9's `Command`) and what picking it does, as
    ChatKit's `onSelect` would answer: insert `entity` as a tag in the composer, open the
    sub-menu `commands`, or send `prompt` as the user's message (an effect)."""

    id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=300)
    icon: str | None = Field(default=None, max_length=64)
    group: str | None = Field(default=None, max_length=64)
    entity: Entity | None = None
    commands: list[Command] | None = Field(default=None, min_length=1, max_length=50)
    prompt: str | None = Field(default=None, min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _one_outcome(self) -> Command:
        given = [name for name in ("entity", "commands", "prompt") if getattr(self, name) is not None]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            raise ValueError(f"command {self.id!r} needs exactly one of entity, commands, prompt (got {got})")
        return self


class Commands(_Option):
    """The composer's "/" menu (ChatKit's `commands` option): its commands come from here."""

    enabled: bool = True
    items: list[Command] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> Commands:
        seen: set[str] = set()
        pending = list(self.items)
        while pending:
            command = pending.pop()
            if command.id in seen:
                raise ValueError(f"command id {command.id!r} is used twice")
            seen.add(command.id)
            pending.extend(command.commands or [])
        return self


class ThreadOptions(_Option):
    auto_scroll: bool | None = None


class ChatKitUI(_Option):
    """Every public ChatKit option; the keys of a workflow's `ui` in the config file."""

    theme: Theme | ColorScheme | None = None
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    frame_title: str | None = None
    initial_thread: str | None = None
    header: Header | None = None
    history: History | None = None
    start_screen: StartScreen | None = None
    composer: Composer | None = None
    disclaimer: Disclaimer | None = None
    thread_item_actions: ThreadItemActions | None = None
    entities: Entities | None = None
    commands: Commands | None = None
    thread: ThreadOptions | None = None


OPTION_FIELDS: dict[str, type[_Option] | None] = {
    "theme": Theme,
    "locale": None,
    "frame_title": None,
    "initial_thread": None,
    "header": Header,
    "history": History,
    "start_screen": StartScreen,
    "composer": Composer,
    "disclaimer": Disclaimer,
    "thread_item_actions": ThreadItemActions,
    "entities": Entities,
    "commands": Commands,
    "thread": ThreadOptions,
}
