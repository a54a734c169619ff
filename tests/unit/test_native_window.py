"""What a tab keeps of a thread: messages cut at MAX_CHARS, and the window bounded again
after a reply (the message shown whole stays whole)."""

from __future__ import annotations

from typing import Any

from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.window import MAX_CHARS, WINDOW, MessageWindow, cut, shown


def _item(index: int, text: str, kind: str = "assistant_message") -> dict[str, Any]:
    return {"id": f"msg_{index}", "type": kind, "content": [{"type": "output_text", "text": text}]}


def test_long_texts_are_cut_and_say_so() -> None:
    long = cut(ChatMessage(id="a", role="assistant", text="x" * (MAX_CHARS + 5)))
    short = cut(ChatMessage(id="b", role="assistant", text="hi"))
    assert (len(long.text), long.truncated) == (MAX_CHARS, True)
    assert short == ChatMessage(id="b", role="assistant", text="hi", truncated=False)
    assert cut(long) == long  # cutting again keeps the flag


def test_items_that_are_not_messages_are_not_shown() -> None:
    items = [_item(0, "hello", "user_message"), {"id": "t", "type": "client_tool_call"}, _item(1, "y" * 30_000)]
    messages = shown(items)
    assert [m.id for m in messages] == ["msg_0", "msg_1"]
    assert messages[0].role == "user" and messages[1].truncated is True


def test_the_window_is_bounded_after_a_reply_and_the_whole_one_stays_whole() -> None:
    class Window:  # MessageWindow's logic on a plain object (a Reflex state needs an app)
        _bound_window = MessageWindow._bound_window

    window: Any = Window()
    whole = ChatMessage(id="msg_79", role="assistant", text="w" * (MAX_CHARS * 2), truncated=False)
    window.messages = [*shown(_item(i, "m") for i in range(79)), whole]
    window.messages.append(ChatMessage(id="msg_80", role="assistant", text="r" * (MAX_CHARS + 1)))
    window.whole_id, window.has_earlier = "msg_79", False
    window._bound_window()
    assert len(window.messages) == WINDOW and window.has_earlier
    assert window.messages[-1].id == "msg_80" and window.messages[-1].truncated is True
    assert window.messages[-2] == whole


def test_typed_messages_survive_the_state_store_and_reach_the_page_as_json() -> None:
    """A tab's state is pickled into Redis and sent to the browser as JSON: the frozen
    dataclasses go through both unchanged, with the field names the views read."""
    import json
    import pickle

    from reflex_base.utils.format import json_dumps

    from chatkit_app.ui.native.message_model import Attachment
    from chatkit_app.ui.native.workflow_items import workflow_message

    user = ChatMessage(id="u", role="user", text="hi", attachments=[Attachment(id="a", name="x.png", preview="/p")])
    flow = workflow_message({"id": "w", "workflow": {"tasks": [{"type": "custom", "title": "Used lookup"}]}})
    messages = [user, flow]
    assert pickle.loads(pickle.dumps(messages)) == messages  # noqa: S301 (our own bytes)
    sent = json.loads(json_dumps(messages))
    assert sent[0]["role"] == "user" and sent[0]["attachments"] == [
        {"id": "a", "name": "x.png", "mime": "", "preview": "/p"}
    ]
    assert sent[1]["tasks"][0] == {"kind": "custom", "title": "Used lookup", "content": "", "status": "none"}
    assert sent[1]["header"] == "Used 1 tool" and sent[1]["done"] is True
