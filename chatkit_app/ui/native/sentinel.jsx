// The top of the native chat's message list: when the reader scrolls near it, the page
// asks the server for the previous page of messages (`onVisible`). An IntersectionObserver
// watches a 1px marker, so scrolling itself sends nothing over the websocket.
import React from "react";

export function EarlierSentinel({ onVisible, active }) {
  const marker = React.useRef(null);
  const callback = React.useRef(onVisible);
  callback.current = onVisible;
  React.useEffect(() => {
    if (!active || !marker.current) return undefined;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) callback.current?.();
      },
      { rootMargin: "300px 0px 0px 0px" },
    );
    observer.observe(marker.current);
    return () => observer.disconnect();
  }, [active]);
  return <div ref={marker} style={{ height: 1, flexShrink: 0 }} aria-hidden="true" />;
}
