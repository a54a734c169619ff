// Copy to the clipboard, saying "Copied" for a moment: the Copy button of code blocks and
// of finished answers. Runs in the browser only (no event to the server per click).
// navigator.clipboard needs a secure context (https, or localhost); on plain http the
// older execCommand("copy") path still works.
import React from "react";

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // refused (no permission, page not focused): try the old way
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

const ICON = { width: 14, height: 14, viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", strokeWidth: 2, strokeLinecap: "round", strokeLinejoin: "round", "aria-hidden": "true" };

function CopyIcon() {
  return (
    <svg {...ICON}>
      <rect x="9" y="9" width="13" height="13" rx="2" />
      <path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1" />
    </svg>
  );
}

function CheckIcon() {
  return (
    <svg {...ICON}>
      <path d="M20 6 9 17l-5-5" />
    </svg>
  );
}

// `showLabel`: the word beside the icon (code blocks); otherwise the icon alone, the
// word in its accessible name and tooltip (answers' actions).
export function CopyButton({ text = "", label = "Copy", copiedLabel = "Copied", showLabel = false, className = "", ...rest }) {
  const [copied, setCopied] = React.useState(false);
  const timer = React.useRef(null);
  React.useEffect(() => () => clearTimeout(timer.current), []);
  const onClick = async () => {
    if (!(await copyText(text))) return;
    setCopied(true);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setCopied(false), 2000);
  };
  const now = copied ? copiedLabel : label;
  return (
    <button
      type="button"
      className={`chat-copy-button ${className}`}
      onClick={onClick}
      title={now}
      aria-label={showLabel ? undefined : now}
      data-copied={copied ? "true" : "false"}
      {...rest}
    >
      {copied ? <CheckIcon /> : <CopyIcon />}
      {showLabel ? <span aria-live="polite">{now}</span> : null}
    </button>
  );
}
