// Calls `onReconnect` each time the event socket connects again, never for the page's
// first connection: the chat's own mount loads the page then, and a second load at the
// same moment would only cost the page another round trip and render while it starts.
// Reflex gives each connection a new session id; the first one this page sees is its own.
import React from "react";

export function ReconnectWatch({ sessionId, onReconnect }) {
  const seen = React.useRef("");
  React.useEffect(() => {
    if (!sessionId || sessionId === seen.current) return;
    const first = seen.current === "";
    seen.current = sessionId;
    if (!first) onReconnect();
  }, [sessionId, onReconnect]);
  return null;
}
