// Markdown for the native chat: react-markdown with GitHub tables/lists (remark-gfm) and
// highlighted code (Prism, each language's grammar fetched when first needed). No raw
// HTML plugin: HTML in an answer stays text. Loaded lazily, so the start page does not
// pay for it.
import React from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import SyntaxHighlighter from "react-syntax-highlighter/dist/esm/prism-async-light";
import oneLight from "react-syntax-highlighter/dist/esm/styles/prism/one-light";
import oneDark from "react-syntax-highlighter/dist/esm/styles/prism/one-dark";

const PLUGINS = [remarkGfm];

function isDark(node) {
  return Boolean(node?.closest?.(".dark-theme, .dark"));
}

function Code({ className, children, node, ...rest }) {
  const language = /language-([\w-]+)/.exec(className || "")?.[1];
  const text = String(children ?? "").replace(/\n$/, "");
  const ref = React.useRef(null);
  const [dark, setDark] = React.useState(false);
  React.useEffect(() => setDark(isDark(ref.current)), []);
  if (!language && !text.includes("\n")) {
    return (
      <code className="chat-inline-code" {...rest}>
        {children}
      </code>
    );
  }
  return (
    <span ref={ref} style={{ display: "block" }}>
      <SyntaxHighlighter language={language || "text"} style={dark ? oneDark : oneLight} PreTag="div" wrapLongLines>
        {text}
      </SyntaxHighlighter>
    </span>
  );
}

const COMPONENTS = { code: Code };

export function ChatMarkdown({ text = "" }) {
  return (
    <div className="chat-markdown">
      <ReactMarkdown remarkPlugins={PLUGINS} components={COMPONENTS}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
