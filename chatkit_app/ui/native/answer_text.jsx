// An answer's Markdown. The renderer (markdown.jsx: react-markdown, GFM, Prism) is a chunk
// of its own, fetched the first time a message needs it, so the start page does not pay
// for it. Until it is in, the text is shown as it is (wrapped, unformatted) rather than an
// empty bubble while the first answer streams; if it cannot be fetched (the network went
// away), the text stays that way for this page instead of breaking it.
import React from "react";

function Plain({ text }) {
  return (
    <div className="chat-markdown chat-markdown-plain" data-testid="markdown-plain">
      {text}
    </div>
  );
}

const Renderer = React.lazy(() =>
  import("./markdown.jsx").then(
    (mod) => ({ default: mod.ChatMarkdown }),
    () => ({ default: Plain }),
  ),
);

export function ChatMarkdown({ text = "", allowedImageSources = [] }) {
  return (
    <React.Suspense fallback={<Plain text={text} />}>
      <Renderer text={text} allowedImageSources={allowedImageSources} />
    </React.Suspense>
  );
}
