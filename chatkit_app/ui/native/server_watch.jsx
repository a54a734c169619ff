// When the socket is up but the server cannot act (its Redis, database or file storage is
// gone), Reflex's events fail on the server and nothing comes back: a message stays in
// the box and a first load keeps its skeleton, silently. This watches for exactly that —
// a submitted message still in the box, or a load still waiting, after a few seconds —
// asks the backend's /readyz what is wrong, and says so in plain words. It keeps asking;
// once the server is ready again, the message still in the box is sent (the draft id
// makes a second delivery a no-op) and a page stuck loading is loaded again: what was in
// its box comes back into it, and a message that had been sent from it (the server never
// took it: it clears the box when it does) is sent again, to the same thread (the page's
// address), once the page has loaded.
import React from "react";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";

const AFTER_MS = 5000;
const POLL_MS = 3000;
const UNSENT_KEY = "chatkit_unsent_message";
const REFLEX_TOKEN_KEY = "token"; // where Reflex's state.js keeps this tab's token (checked by a test)
const NAMES = { redis: "session store (Redis)", database: "database", storage: "file storage" };

function readyUrl() {
  const url = getBackendURL(env.PING);
  url.pathname = url.pathname.replace(/\/ping$/, "/readyz");
  return url.href;
}

async function failedServices() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 4000);
  try {
    const response = await fetch(readyUrl(), { cache: "no-store", signal: abort.signal });
    if (response.ok) return [];
    const body = await response.json().catch(() => ({}));
    return Array.isArray(body.failed) && body.failed.length ? body.failed : ["server"];
  } catch (error) {
    return null; // the backend itself is unreachable: the connection banner says that
  } finally {
    clearTimeout(timer);
  }
}

// Whether the thread's last user message is this text (the server took it after all, just
// before the page reloaded): shown with the tags picked for it in front, and cut after
// 20,000 characters.
function alreadyShown(text) {
  const users = document.querySelectorAll('[data-testid="user-message"]');
  if (!users.length) return false;
  const shown = users[users.length - 1].textContent.trim();
  const sent = text.trim();
  return shown === sent || shown.endsWith(` ${sent}`) || (sent.length > 20000 && shown.startsWith(sent.slice(0, 20000)));
}

export function ServerWatch({ connected, waiting, composerId }) {
  const [failed, setFailed] = React.useState([]);
  const pending = React.useRef(null); // {form, text} of the last submitted message
  const stuck = React.useRef(false); // a load that never finished, seen during an outage
  const failing = React.useRef(false); // an outage is going on

  const check = React.useCallback(async () => {
    const found = await failedServices();
    if (found === null) return;
    failing.current = found.length > 0;
    setFailed(found);
  }, []);

  const resend = React.useRef(false); // the restored text was a sent message: send it again

  // Text that was in the box when the page loaded itself again (below) goes back into it.
  React.useEffect(() => {
    const stored = sessionStorage.getItem(UNSENT_KEY);
    const box = document.getElementById(composerId);
    if (stored === null || !box) return;
    sessionStorage.removeItem(UNSENT_KEY);
    let unsent = null;
    try {
      unsent = JSON.parse(stored);
    } catch (error) {
      unsent = null;
    }
    if (!unsent || typeof unsent !== "object") unsent = { text: stored, send: false }; // an older plain value
    if (!box.value && typeof unsent.text === "string") {
      const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
      setValue.call(box, unsent.text); // as typing does, so React and the auto height see it
      box.dispatchEvent(new Event("input", { bubbles: true }));
      resend.current = unsent.send === true;
    }
  }, [composerId]);

  // ...and once the page has loaded (with the thread its address names open), a message
  // that had been sent goes out.
  React.useEffect(() => {
    if (!resend.current || !connected || waiting) return undefined;
    const named = window.location.pathname.match(/\/c\/([^/]+)\/?$/);
    let wanted = "";
    try {
      wanted = named ? decodeURIComponent(named[1]) : "";
    } catch (error) {
      wanted = named[1]; // a malformed address: compared as it is (and never matched)
    }
    const deadline = Date.now() + 30000;
    const timer = setInterval(() => {
      const box = document.getElementById(composerId);
      const form = box && box.form;
      const open = form && form.elements.thread_id ? form.elements.thread_id.value : "";
      if (wanted && open !== wanted && Date.now() < deadline) return;
      clearInterval(timer);
      resend.current = false;
      if (!form || !box.value.trim() || (wanted && open !== wanted)) return;
      if (!alreadyShown(box.value)) form.requestSubmit();
    }, 100);
    return () => clearInterval(timer);
  }, [connected, waiting, composerId]);

  // A submitted message that the server did not take (it clears the box when it has it).
  React.useEffect(() => {
    const onSubmit = (event) => {
      const box = event.target.querySelector && event.target.querySelector(`#${composerId}`);
      // The address bar goes with the message (a page whose thread has not opened yet
      // still knows which one it is for; the app's router does not see pushState).
      const page = event.target.querySelector && event.target.querySelector('input[name="page_path"]');
      if (page) page.value = window.location.pathname;
      if (!box || !box.value.trim()) return;
      pending.current = { form: event.target, text: box.value };
      setTimeout(() => {
        const still = document.getElementById(composerId);
        if (pending.current && still && still.value === pending.current.text && navigator.onLine !== false) check();
      }, AFTER_MS);
    };
    document.addEventListener("submit", onSubmit, true);
    return () => document.removeEventListener("submit", onSubmit, true);
  }, [composerId, check]);

  // A load (history, a thread) still waiting after a while.
  React.useEffect(() => {
    // A load that ends during an outage may have ended half-way (a page whose thread's
    // load was lost): the page is loaded again once the server is back.
    if (!waiting && !failing.current) stuck.current = false;
    if (!waiting || !connected) return undefined;
    const timer = setTimeout(() => {
      stuck.current = true;
      check();
    }, AFTER_MS);
    return () => clearTimeout(timer);
  }, [waiting, connected, check]);

  // While something is wrong: ask again; when it is fixed, finish what was waiting.
  React.useEffect(() => {
    if (!failed.length) return undefined;
    const timer = setInterval(async () => {
      const found = await failedServices();
      if (found === null || found.length) return;
      failing.current = false;
      setFailed([]);
      const box = document.getElementById(composerId);
      const waitingMessage = pending.current;
      pending.current = null;
      if (stuck.current) {
        // The page loads again; what is in the box comes back into it afterwards.
        if (box && box.value.trim()) {
          const sent = waitingMessage !== null && box.value === waitingMessage.text;
          sessionStorage.setItem(UNSENT_KEY, JSON.stringify({ text: box.value, send: sent }));
        }
        // ...with a new Reflex token (`REFLEX_TOKEN_KEY`), so a fresh state on the server
        // rather than the old token's, which the outage may have left half-done (its
        // events and its record of this tab's connection). Who the visitor is comes from
        // the cookie; the thread comes back from the page's address and this tab's storage.
        sessionStorage.removeItem(REFLEX_TOKEN_KEY);
        window.location.reload();
        return;
      }
      if (waitingMessage && box && box.value === waitingMessage.text && waitingMessage.form.isConnected) {
        waitingMessage.form.requestSubmit();
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [failed, composerId]);

  if (!failed.length) return null;
  const names = failed.map((name) => NAMES[name] || name).join(", ");
  return (
    <div role="status" data-testid="service-status" className="native-service-status">
      {`The server cannot reach its ${names} right now. What you write stays in the box and is sent once it is back.`}
    </div>
  );
}
