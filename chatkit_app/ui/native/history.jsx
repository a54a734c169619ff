// The history's two browser-side parts, bundled (no eval: the strict CSP holds).
//
// ThreadUrl: the address bar follows the thread shown (`/c/{id}`) without a reload, by
// history.pushState; React Router is not told (its route, and so the mounted chat, stay).
// Back/forward report the address (`onVisit`) so the chat shows what it names. A tab's
// state outlives a reload, so a page claims the address bar when it mounts (`onClaim`,
// with a fresh id) and moves it only while `owner` is that id: a reloaded tab's old
// `path` never overwrites the address that was typed or pasted.
//
// SearchInput: the history's search box; tells the server the query once typing pauses
// (a search reads every page of the history), not at each key.
//
// TitleInput: the inline rename. Enter (or leaving the field) saves, Escape or the cross
// cancels; the buttons keep the focus on press, so a tap is not a blur-save first.
import React from "react";
import { IconButton, TextField } from "@radix-ui/themes";
import { Check, Search, X } from "lucide-react";

export function ThreadUrl({ path, owner, onClaim, onVisit }) {
  const id = React.useRef(null);
  if (id.current === null) id.current = Math.random().toString(36).slice(2, 12);
  const visit = React.useRef(onVisit);
  visit.current = onVisit;
  const claim = React.useRef(onClaim);
  claim.current = onClaim;

  React.useEffect(() => {
    claim.current?.(id.current, window.location.pathname, new Date().getTimezoneOffset());
    const popped = () => visit.current?.(window.location.pathname);
    window.addEventListener("popstate", popped);
    return () => window.removeEventListener("popstate", popped);
  }, []);

  React.useEffect(() => {
    if (owner !== id.current || !path || window.location.pathname === path) return;
    // React Router's entry state is kept, so its own back/forward bookkeeping holds.
    window.history.pushState(window.history.state, "", path);
  }, [path, owner]);
  return null;
}

export function TitleInput({ value, label, maxLength, onSave, onCancel }) {
  const input = React.useRef(null);
  const done = React.useRef(false);
  React.useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  const finish = (save) => {
    if (done.current) return;
    done.current = true;
    if (save) onSave?.(input.current?.value ?? "");
    else onCancel?.();
  };
  const keepFocus = (event) => event.preventDefault();
  return (
    <form
      style={{ display: "flex", gap: 4, alignItems: "center", width: "100%", minWidth: 0 }}
      onSubmit={(event) => {
        event.preventDefault();
        finish(true);
      }}
    >
      <TextField.Root
        ref={input}
        size="2"
        defaultValue={value}
        aria-label={label}
        maxLength={maxLength}
        onKeyDown={(event) => {
          if (event.key === "Escape") {
            event.preventDefault();
            finish(false);
          }
        }}
        onBlur={() => finish(true)}
        style={{ flex: 1, minWidth: 0 }}
      />
      <IconButton type="submit" size="1" variant="soft" aria-label="Save title" onMouseDown={keepFocus}>
        <Check size={14} />
      </IconButton>
      <IconButton
        type="button"
        size="1"
        variant="ghost"
        color="gray"
        aria-label="Cancel rename"
        onMouseDown={keepFocus}
        onClick={() => finish(false)}
      >
        <X size={14} />
      </IconButton>
    </form>
  );
}

export function SearchInput({ value, label, placeholder, delayMs, onSearch, ...rest }) {
  const timer = React.useRef(null);
  // Starts from the server's query (the drawer's box opens with it); after that the text
  // is the visitor's, so a reply to an earlier query never overwrites newer typing.
  const [text, setText] = React.useState(value ?? "");
  React.useEffect(() => () => clearTimeout(timer.current), []);
  return (
    <TextField.Root
      type="search"
      size="2"
      value={text}
      aria-label={label}
      placeholder={placeholder}
      onChange={(event) => {
        const next = event.target.value;
        setText(next);
        clearTimeout(timer.current);
        timer.current = setTimeout(() => onSearch?.(next), delayMs ?? 300);
      }}
      style={{ width: "100%" }}
      {...rest}
    >
      <TextField.Slot>
        <Search size={14} />
      </TextField.Slot>
    </TextField.Root>
  );
}
