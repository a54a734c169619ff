"""The native chat, in Reflex components. Each piece is a public function an app author
can reuse or replace: `native_chat()` is just `thread_sidebar()` + `message_list()` +
`composer()` with the start screen and banners."""

from __future__ import annotations

import mimetypes
from typing import Any

import reflex as rx

from chatkit_app.api.security_headers import image_origins
from chatkit_app.chatkit_server.files import ALLOWED_TYPES
from chatkit_app.settings import get_settings
from chatkit_app.ui.native.model_picker import model_picker
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.window_view import earlier_control, whole_message_button
from chatkit_app.ui.native.workflow_view import workflow_block
from chatkit_app.ui.state import ChatSessionState
from chatkit_app.urls import configured_backend_url

UI = ChatSessionState.workflow_ui


def _ui(*path: str) -> Any:
    """A nested public UI option of the session's workflow (undefined when unset)."""
    var: Any = UI
    for key in path:
        var = var.to(dict[str, Any])[key]
    return var


def small_icon_button(icon: str, label: str, *, icon_size: int = 14, **props: Any) -> rx.Component:
    """The quiet icon buttons of the chat (rename, delete, retry, remove): the label is
    what a screen reader says."""
    return rx.icon_button(
        rx.icon(icon, size=icon_size), variant="ghost", color_scheme="gray", size="1", aria_label=label, **props
    )


def thread_entry(thread: Any) -> rx.Component:
    active = thread["id"] == NativeChatState.thread_id
    return rx.hstack(
        rx.button(
            rx.text(
                thread["title"],
                white_space="nowrap",
                overflow="hidden",
                text_overflow="ellipsis",
                text_align="left",
                width="100%",
            ),
            on_click=NativeChatState.open_thread(thread["id"]),
            variant=rx.cond(active, "soft", "ghost"),
            color_scheme="gray",
            justify="start",
            flex="1",
            min_width="0",
            overflow="hidden",
            title=thread["title"],
            aria_current=rx.cond(active, "page", "false"),
        ),
        rx.popover.root(
            rx.popover.trigger(small_icon_button("pencil", "Rename chat")),
            rx.popover.content(
                rx.form(
                    rx.hstack(
                        # The form's submit handler is built outside the loop: the id rides along.
                        rx.el.input(type="hidden", name="thread_id", value=thread["id"]),
                        rx.input(name="title", default_value=thread["title"], aria_label="New title", max_length=120),
                        rx.popover.close(rx.button("Save", type="submit", size="2")),
                    ),
                    on_submit=NativeChatState.rename_thread,
                ),
                side="right",
                # Drawn in a portal outside the chat's root: the same theme is applied here.
                class_name=_scheme_class(),
                style=NativeChatState.theme_style,
            ),
        ),
        small_icon_button("trash-2", "Delete chat", on_click=NativeChatState.delete_thread(thread["id"])),
        width="100%",
        align="center",
        data_testid="thread-entry",
    )


def _scheme_class() -> rx.Var[str]:
    """The workflow's colour scheme as Radix's theme class ("" follows the system)."""
    return rx.match(NativeChatState.color_scheme, ("dark", "dark-theme"), ("light", "light-theme"), "")


def history_drawer() -> rx.Component:
    """The history on a phone, where the sidebar has no room: a button and a drawer."""
    return rx.box(
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("history", size=16), variant="soft", aria_label="Chat history")),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    _history(on_pick=rx.drawer.close),
                    width="80vw",
                    max_width="300px",
                    height="100%",
                    padding="12px",
                    background="var(--color-panel-solid)",
                )
            ),
            direction="left",
        ),
        display=["block", "block", "none"],
    )


def _history(on_pick: Any = None) -> rx.Component:
    def entry(thread: Any) -> rx.Component:
        return rx.box(thread_entry(thread), width="100%") if on_pick is None else on_pick(thread_entry(thread))

    return rx.vstack(
        rx.button(rx.icon("plus", size=16), "New chat", on_click=NativeChatState.new_chat, width="100%"),
        rx.text("History", size="1", weight="medium", color_scheme="gray", padding_top="8px"),
        rx.vstack(
            rx.foreach(NativeChatState.threads, entry),
            width="100%",
            spacing="1",
            overflow_y="auto",
            flex="1",
            data_testid="thread-list",
            role="list",
            aria_label="Chat history",
        ),
        width="100%",
        height="100%",
    )


def thread_sidebar() -> rx.Component:
    return rx.box(
        _history(),
        width="240px",
        min_width="240px",
        height="100%",
        padding="12px",
        border_right="1px solid var(--gray-a5)",
        display=["none", "none", "block"],
    )


class ChatMarkdown(rx.NoSSRComponent):
    """Markdown from agents and widgets (`markdown.jsx`): GitHub-flavoured, highlighted
    code, no raw HTML (a model's `<img onerror=...>` stays text). A lazily loaded chunk:
    the start screen does not download the renderer (bench/frontend.py)."""

    library = rx.asset("markdown.jsx", shared=True).importable_path
    tag = "ChatMarkdown"
    lib_dependencies: list[str] = ["react-markdown@10.1.0", "remark-gfm@4.0.1", "react-syntax-highlighter@16.1.2"]

    text: rx.Var[str]
    # Origins whose images render as <img> (besides the page's own, data: and blob:);
    # any other image becomes a link, so an answer cannot make the browser fetch it.
    allowed_image_sources: rx.Var[list[str]]


MARKDOWN_STYLE = {
    "& p": {"margin": "0 0 0.75em"},
    "& p:last-child, & ul:last-child, & ol:last-child": {"margin-bottom": "0"},
    "& ul, & ol": {"padding-left": "1.5em", "margin": "0 0 0.75em"},
    "& ul": {"list-style": "disc"},
    "& ol": {"list-style": "decimal"},
    "& li": {"margin": "0.25em 0"},
    "& code.chat-inline-code": {
        "background": "var(--accent-a3)",
        "color": "var(--accent-11)",
        "padding": "0.1em 0.35em",
        "border-radius": "4px",
        "font-family": "var(--code-font-family, monospace)",
        "font-size": "0.9em",
    },
    "& pre, & div[class*='language-']": {"border-radius": "8px", "margin": "0 0 0.75em !important"},
    "& table": {"border-collapse": "collapse", "margin": "0 0 0.75em"},
    "& th, & td": {"border": "1px solid var(--gray-a6)", "padding": "4px 8px"},
    "& a": {"color": "var(--accent-11)"},
}


def markdown_image_sources() -> list[str]:
    """The origins whose images Markdown shows (the page's CSP img-src allows the same)."""
    return image_origins(get_settings(), configured_backend_url())


def safe_markdown(text: Any) -> rx.Component:
    return rx.box(ChatMarkdown.create(text=text, allowed_image_sources=markdown_image_sources()), style=MARKDOWN_STYLE)


def widget_element(element: Any, item_id: Any) -> rx.Component:
    """One widget element; an unknown component shows as a readable line."""
    return rx.match(
        element["kind"],
        ("text", rx.text(element["value"])),
        ("title", rx.heading(element["value"], size="3")),
        ("markdown", safe_markdown(element["value"])),
        (
            "button",
            rx.button(
                element["label"],
                on_click=NativeChatState.widget_action(item_id, element["action"]),  # type: ignore[misc]
                variant=rx.cond(element["variant"] == "solid", "solid", "outline"),
                disabled=NativeChatState.streaming | (element["action"] == ""),
                size="2",
            ),
        ),
        ("badge", rx.badge(element["value"], variant="soft")),
        ("image", rx.image(src=element["src"], alt=element["value"], max_width="100%", border_radius="8px")),
        ("divider", rx.separator(size="4")),
        rx.text(element["value"], color_scheme="gray", size="2", data_testid="widget-fallback"),
    )


def widget(msg: Any) -> rx.Component:
    """A ChatKit widget (Card, ListView, ...), flattened into rows and columns of elements;
    its buttons send their actions to the server."""
    blocks = msg["blocks"].to(list[dict[str, Any]])
    return rx.card(
        rx.vstack(
            rx.foreach(
                blocks,
                lambda block: rx.flex(
                    rx.foreach(
                        block["items"].to(list[dict[str, Any]]), lambda element: widget_element(element, msg["id"])
                    ),
                    direction=rx.cond(block["direction"] == "row", "row", "column"),
                    gap="8px",
                    wrap="wrap",
                    align=rx.cond(block["direction"] == "row", "center", "stretch"),
                ),
            ),
            spacing="3",
        ),
        align_self="flex-start",
        max_width="min(100%, 520px)",
        width="100%",
        data_testid="widget",
    )


def message(msg: Any) -> rx.Component:
    return rx.match(
        msg["role"],
        ("widget", widget(msg)),
        ("workflow", workflow_block(msg)),
        _text_message(msg),
    )


def _text_message(msg: Any) -> rx.Component:
    return rx.cond(
        msg["role"] == "user",
        rx.vstack(
            rx.cond(
                msg["attachments"].to(list[dict[str, str]]).length() > 0,
                rx.flex(
                    rx.foreach(msg["attachments"].to(list[dict[str, str]]), lambda a: attachment_chip(a)),
                    gap="6px",
                    wrap="wrap",
                    justify="end",
                ),
            ),
            rx.cond(
                msg["text"] != "",
                rx.box(
                    rx.text(msg["text"], white_space="pre-wrap"),
                    data_testid="user-message",
                    padding="8px 14px",
                    border_radius="16px",
                    background="var(--accent-a3)",
                ),
            ),
            whole_message_button(msg),
            align_self="flex-end",
            align="end",
            max_width="80%",
            spacing="1",
        ),
        rx.vstack(
            rx.box(safe_markdown(msg["text"]), data_testid="assistant-message"),
            whole_message_button(msg),
            rx.cond(
                ~NativeChatState.streaming | (msg["id"] != NativeChatState.last_message_id),
                message_actions(msg),
            ),
            align_self="flex-start",
            max_width="100%",
            spacing="1",
        ),
    )


def _feedback_button(msg: Any, kind: str, icon: str, label: str) -> rx.Component:
    chosen = msg["feedback"].to(str) == kind
    return rx.icon_button(
        rx.icon(icon, size=14),
        on_click=NativeChatState.feedback(msg["id"], kind),
        variant=rx.cond(chosen, "soft", "ghost"),
        color_scheme=rx.cond(chosen, "blue", "gray"),
        size="1",
        aria_label=label,
        aria_pressed=rx.cond(chosen, "true", "false"),
    )


def message_actions(msg: Any) -> rx.Component:
    """Thumbs up/down (stored with the item) and, on the last answer, retry."""
    return rx.hstack(
        _feedback_button(msg, "positive", "thumbs-up", "Good answer"),
        _feedback_button(msg, "negative", "thumbs-down", "Bad answer"),
        rx.cond(
            msg["id"] == NativeChatState.last_message_id,
            small_icon_button("refresh-cw", "Retry", on_click=NativeChatState.retry),
        ),
        spacing="2",
        data_testid="message-actions",
    )


def start_screen() -> rx.Component:
    prompts = _ui("startScreen", "prompts").to(list[dict[str, str]])
    return rx.vstack(
        rx.heading(_ui("startScreen", "greeting").to(str), size="6", text_align="center"),
        rx.flex(
            rx.foreach(
                prompts,
                lambda p: rx.button(
                    p["label"], on_click=NativeChatState.send_prompt(p["prompt"]), variant="outline", radius="full"
                ),
            ),
            wrap="wrap",
            gap="8px",
            justify="center",
        ),
        align="center",
        justify="center",
        spacing="4",
        flex="1",
        width="100%",
        data_testid="start-screen",
    )


LIST_END = "native-messages-end"


def message_list() -> rx.Component:
    """The conversation, newest at the bottom. The scroller runs bottom-up
    (`column-reverse`): it starts at the newest message, stays there while a reply grows,
    and keeps what is on screen in place when earlier messages are added above."""
    return rx.box(
        rx.box(
            earlier_control(),
            rx.foreach(NativeChatState.messages, message),
            rx.cond(
                NativeChatState.streaming & (NativeChatState.progress != ""),
                rx.hstack(rx.spinner(size="1"), rx.text(NativeChatState.progress, size="2", color_scheme="gray")),
            ),
            rx.cond(
                NativeChatState.streaming & (NativeChatState.progress == "") & ~NativeChatState.tools_running,
                rx.hstack(
                    rx.spinner(size="1"), rx.text("Thinking…", size="2", color_scheme="gray"), data_testid="thinking"
                ),
            ),
            rx.box(id=LIST_END, height="0", flex_shrink="0"),
            display="flex",
            flex_direction="column",
            gap="16px",
            width="100%",
            margin_bottom="auto",  # few messages: at the top, as in any chat
        ),
        display="flex",
        flex_direction="column-reverse",
        overflow_anchor="none",  # the offset from the bottom keeps the place (no anchor at the top control)
        width="100%",
        flex="1",
        min_height="0",
        overflow_y="auto",
        padding="8px 4px",
        aria_live="polite",
        data_testid="message-list",
    )


UPLOAD_ID = "native-attachments"


def attachment_chip(attachment: Any, *, removable: bool = False) -> rx.Component:
    """An attachment: an image's preview, or the file's name."""
    return rx.hstack(
        rx.cond(
            attachment["preview"] != "",
            rx.image(
                src=attachment["preview"],
                alt=attachment["name"],
                height="48px",
                max_width="96px",
                object_fit="cover",
                border_radius="6px",
                data_testid="attachment-preview",
            ),
            rx.icon("file-text", size=16),
        ),
        rx.text(attachment["name"], size="1", max_width="160px", truncate=True),
        *(
            [
                small_icon_button(
                    "x",
                    "Remove attachment",
                    icon_size=12,
                    on_click=NativeChatState.remove_attachment(attachment["id"]),
                    type="button",
                )
            ]
            if removable
            else []
        ),
        align="center",
        spacing="2",
        padding="4px 8px",
        border="1px solid var(--gray-a5)",
        border_radius="8px",
        data_testid="attachment-chip",
    )


def _limits_text() -> str:
    megabytes = get_settings().chatkit_max_upload_bytes / (1024 * 1024)
    return f"Images, PDF, text, CSV, JSON or Markdown, up to {megabytes:g} MB (all files of one pick together)"


def _accept() -> dict[str, list[str]]:
    return {mime: mimetypes.guess_all_extensions(mime) or [] for mime in sorted(ALLOWED_TYPES)}


def attach_button() -> rx.Component:
    """Pick files (or drop them on the button); limits are checked in the browser first
    and again, by sniffing the bytes, on the server."""
    return rx.upload.root(
        rx.tooltip(
            rx.icon_button(
                rx.cond(NativeChatState.uploading, rx.spinner(size="2"), rx.icon("paperclip", size=18)),
                type="button",
                size="3",
                variant="soft",
                color_scheme="gray",
                aria_label="Attach files",
            ),
            content=_limits_text(),
        ),
        id=UPLOAD_ID,
        multiple=True,
        max_size=get_settings().chatkit_max_upload_bytes,
        accept=_accept(),
        on_drop=NativeChatState.attach(
            rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=NativeChatState.upload_progress)  # type: ignore[arg-type]
        ),
        on_drop_rejected=NativeChatState.upload_rejected,
        border="none",
        padding="0",
    )


def pending_attachments() -> rx.Component:
    return rx.cond(
        NativeChatState.has_pending | NativeChatState.uploading,
        rx.flex(
            rx.foreach(NativeChatState.pending, lambda a: attachment_chip(a, removable=True)),
            rx.cond(
                NativeChatState.uploading,
                rx.text("Uploading… ", NativeChatState.upload_percent, "%", size="1", color_scheme="gray"),
            ),
            gap="6px",
            wrap="wrap",
            width="100%",
            data_testid="pending-attachments",
        ),
    )


def composer() -> rx.Component:
    return rx.form(
        pending_attachments(),
        model_picker(portal_class=_scheme_class(), portal_style=NativeChatState.theme_style),
        rx.hstack(
            attach_button(),
            rx.text_area(
                name="message",
                placeholder=_ui("composer", "placeholder").to(str),
                enter_key_submit=True,
                auto_focus=True,
                rows="1",
                resize="vertical",
                flex="1",
                size="3",
                data_testid="composer-input",
                aria_label="Message",
            ),
            rx.cond(
                NativeChatState.streaming,
                rx.icon_button(
                    rx.icon("square", size=16),
                    on_click=NativeChatState.stop,
                    type="button",
                    size="3",
                    color_scheme="gray",
                    aria_label="Stop",
                    data_testid="stop-button",
                ),
                rx.icon_button(rx.icon("arrow-up", size=18), type="submit", size="3", aria_label="Send"),
            ),
            width="100%",
            align="end",
        ),
        # Sending shows the newest messages (a reader scrolled up sees the turn it starts).
        on_submit=[NativeChatState.send, rx.scroll_to(LIST_END, align_to_top=False)],
        reset_on_submit=True,
        width="100%",
    )


def banners() -> rx.Component:
    """Errors (red, an alert) and the agent's notices (info / warning / danger)."""
    return rx.fragment(
        rx.cond(
            NativeChatState.error != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.callout.text(NativeChatState.error),
                color_scheme="red",
                role="alert",
                width="100%",
            ),
        ),
        rx.cond(
            NativeChatState.notice != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("info")),
                rx.callout.text(
                    rx.cond(NativeChatState.notice_title != "", rx.text(NativeChatState.notice_title, weight="bold")),
                    safe_markdown(NativeChatState.notice),
                ),
                color_scheme=rx.match(NativeChatState.notice_level, ("danger", "red"), ("warning", "amber"), "blue"),
                role="status",
                width="100%",
                data_testid="notice",
            ),
        ),
    )


def native_chat(thread_id: rx.Var[str] | str = "", workflow_id: rx.Var[str] | str = "", **props: Any) -> rx.Component:
    """The whole native chat; on mount it keeps a session of `workflow_id` (default: the
    site's) and opens `thread_id` (e.g. the one ChatKit had open before the switch)."""
    disclaimer = _ui("disclaimer", "text").to(str)
    return rx.hstack(
        thread_sidebar(),
        rx.vstack(
            history_drawer(),
            banners(),
            rx.cond(NativeChatState.has_messages, message_list(), start_screen()),
            composer(),
            rx.cond(disclaimer, rx.text(disclaimer, size="1", color_scheme="gray", text_align="center", width="100%")),
            flex="1",
            min_width="0",
            max_width="820px",
            margin_x="auto",
            height="100%",
            padding="12px",
            spacing="3",
        ),
        on_mount=[ChatSessionState.ensure_session(workflow_id), NativeChatState.load(thread_id)],
        class_name=_scheme_class(),
        style=NativeChatState.theme_style,
        background="var(--color-background)",
        color="var(--gray-12)",
        width="100%",
        height="100%",
        spacing="0",
        data_testid="native-chat",
        **props,
    )
