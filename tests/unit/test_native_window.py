"""What a tab keeps of a thread: messages cut at MAX_CHARS, and the window bounded again
after a reply (the message shown whole stays whole)."""

from __future__ import annotations

from typing import Any

from chatkit_app.ui.native.window import MAX_CHARS, WINDOW, MessageWindow, cut, shown


def _item(index: int, text: str, kind: str = "assistant_message") -> dict[str, Any]:
    return {"id": f"msg_{index}", "type": kind, "content": [{"type": "output_text", "text": text}]}


def test_long_texts_are_cut_and_say_so() -> None:
    long, short = cut({"id": "a", "text": "x" * (MAX_CHARS + 5)}), cut({"id": "b", "text": "hi"})
    assert (len(long["text"]), long["truncated"]) == (MAX_CHARS, True)
    assert short == {"id": "b", "text": "hi", "truncated": False}
    assert cut(long) == long  # cutting again keeps the flag


def test_items_that_are_not_messages_are_not_shown() -> None:
    items = [_item(0, "hello", "user_message"), {"id": "t", "type": "client_tool_call"}, _item(1, "y" * 30_000)]
    messages = shown(items)
    assert [m["id"] for m in messages] == ["msg_0", "msg_1"]
    assert messages[0]["role"] == "user" and messages[1]["truncated"] is True


def test_the_window_is_bounded_after_a_reply_and_the_whole_one_stays_whole() -> None:
    class Window:  # MessageWindow's logic on a plain object (a Reflex state needs an app)
        _bound_window = MessageWindow._bound_window

    window: Any = Window()
    whole = {"id": "msg_79", "role": "assistant", "text": "w" * (MAX_CHARS * 2), "truncated": False}
    window.messages = [*shown(_item(i, "m") for i in range(79)), whole]
    window.messages.append({"id": "msg_80", "role": "assistant", "text": "r" * (MAX_CHARS + 1)})
    window.whole_id, window.has_earlier = "msg_79", False
    window._bound_window()
    assert len(window.messages) == WINDOW and window.has_earlier
    assert window.messages[-1]["id"] == "msg_80" and window.messages[-1]["truncated"] is True
    assert window.messages[-2] == whole
