// The composer's "/" menu for the native chat: the workflow's configured commands
// (ChatKit 1.9's `commands`), all in the browser, no round trip per key.
//
// It sits inside the composer's <form> and watches that form's message box: a "/" typed at
// the start opens the menu, the text after it filters the commands (label, id, description,
// group), arrow keys move, Enter or Tab picks, Escape closes, a click or tap picks. Picking
// does what ChatKit does with the command's outcome: a sub-menu opens, an entity becomes a
// tag on the message (sent as ChatKit's `input_tag` content through the hidden `tags`
// field), a prompt is sent as the message.
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";

const MAX_SHOWN = 8;

function matches(command, needle) {
  if (!needle) return true;
  return [command.label, command.id, command.description, command.group]
    .some((text) => String(text ?? "").toLowerCase().includes(needle));
}

// Native setter + input event: React (and Reflex) see the change as typing.
function setBoxValue(box, text) {
  const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
  setter.call(box, text);
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

export function CommandMenu({ commands = [], inputName = "message", tagsName = "tags" }) {
  const root = useRef(null);
  const [query, setQuery] = useState(null); // null: closed; "" or text: open, filtering
  const [stack, setStack] = useState([]); // the sub-menus opened, innermost last
  const [active, setActive] = useState(0);
  const [tags, setTags] = useState([]);
  const state = useRef({});

  const level = stack.length ? stack[stack.length - 1].commands : commands ?? [];
  const shown = useMemo(() => {
    const needle = (query ?? "").trim().toLowerCase();
    return (level ?? []).filter((c) => matches(c, needle)).slice(0, MAX_SHOWN);
  }, [level, query]);
  const open = query !== null && shown.length > 0;
  state.current = { open, shown, active, query };

  const box = useCallback(() => root.current?.closest("form")?.querySelector(`[name="${inputName}"]`), [inputName]);

  const close = useCallback(() => {
    setQuery(null);
    setStack([]);
    setActive(0);
  }, []);

  const pick = useCallback(
    (command) => {
      const input = box();
      if (!command || !input) return;
      if (command.commands) {
        setStack((opened) => [...opened, command]);
        setActive(0);
        setQuery("");
        setBoxValue(input, "/");
        input.focus();
        return;
      }
      if (command.entity) {
        setTags((chosen) => (chosen.some((t) => t.id === command.entity.id) ? chosen : [...chosen, command.entity]));
        setBoxValue(input, "");
        input.focus();
      } else if (command.prompt) {
        setBoxValue(input, command.prompt);
        input.form?.requestSubmit();
      }
      close(); // after the text changed: a prompt starting with "/" does not reopen it
    },
    [box, close],
  );

  useEffect(() => {
    const input = box();
    const form = root.current?.closest("form");
    if (!input || !form) return undefined;
    const onInput = () => {
      const text = input.value;
      if (text.startsWith("/") && !/\s/.test(text.slice(1, 2)) && !text.includes("\n")) {
        setQuery(text.slice(1));
        setActive(0);
      } else if (state.current.query !== null) {
        close();
      }
    };
    // Capture on the form: runs before the box's own Enter-to-send handler.
    const onKey = (event) => {
      const { open: isOpen, shown: list, active: at } = state.current;
      if (!isOpen || event.target !== input || event.isComposing) return;
      const stop = () => {
        event.preventDefault();
        event.stopPropagation();
      };
      if (event.key === "ArrowDown") {
        stop();
        setActive((at + 1) % list.length);
      } else if (event.key === "ArrowUp") {
        stop();
        setActive((at - 1 + list.length) % list.length);
      } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
        stop();
        pick(list[at]);
      } else if (event.key === "Escape") {
        stop();
        close();
      }
    };
    // After the form's data is read: the tags went with this message, the menu closes.
    const onSubmit = () =>
      setTimeout(() => {
        setTags([]);
        close();
      }, 0);
    input.addEventListener("input", onInput);
    form.addEventListener("keydown", onKey, true);
    form.addEventListener("submit", onSubmit);
    // This component loads after the box: a "/" typed before it came opens the menu now.
    if (input.value.startsWith("/")) onInput();
    return () => {
      input.removeEventListener("input", onInput);
      form.removeEventListener("keydown", onKey, true);
      form.removeEventListener("submit", onSubmit);
    };
  }, [box, close, pick]);

  // The box points a screen reader at the highlighted command while the menu is open.
  useEffect(() => {
    const input = box();
    if (!input) return;
    if (open && shown[active]) {
      input.setAttribute("aria-controls", "native-command-menu");
      input.setAttribute("aria-activedescendant", `native-command-${shown[active].id}`);
    } else {
      input.removeAttribute("aria-controls");
      input.removeAttribute("aria-activedescendant");
    }
  }, [box, open, shown, active]);

  return (
    <div ref={root} className="native-command-menu" data-testid="command-menu-root">
      <input type="hidden" name={tagsName} value={tags.length ? JSON.stringify(tags) : ""} />
      {tags.length > 0 && (
        <div className="native-command-tags" data-testid="command-tags">
          {tags.map((tag) => (
            <span key={tag.id} className="native-command-tag" data-testid="command-tag">
              @{tag.title}
              <button
                type="button"
                aria-label={`Remove ${tag.title}`}
                onClick={() => setTags((chosen) => chosen.filter((t) => t.id !== tag.id))}
              >
                ×
              </button>
            </span>
          ))}
        </div>
      )}
      {open && (
        <ul id="native-command-menu" role="listbox" aria-label="Commands" className="native-command-list" data-testid="command-menu">
          {stack.length > 0 && <li className="native-command-crumb" aria-hidden="true">{stack.map((c) => c.label).join(" › ")}</li>}
          {shown.map((command, index) => (
            <li
              key={command.id}
              id={`native-command-${command.id}`}
              role="option"
              aria-selected={index === active}
              data-testid="command-option"
              data-command={command.id}
              className="native-command-option"
              onMouseDown={(event) => event.preventDefault()} // keep the focus in the box
              onMouseEnter={() => setActive(index)}
              onClick={() => pick(command)}
            >
              <span className="native-command-label">{command.label}</span>
              {command.description && <span className="native-command-description">{command.description}</span>}
              {command.commands && <span className="native-command-more" aria-hidden="true">›</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
