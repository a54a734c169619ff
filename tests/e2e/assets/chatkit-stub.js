// A local stand-in for OpenAI's <openai-chatkit> element (the real one loads an iframe
// from OpenAI's CDN, which tests cannot reach). It keeps the element's public surface:
// setOptions, the imperative methods and the chatkit.* DOM events, and it really talks
// to the server through the options it was given (api.fetch or api.getClientSecret),
// like ChatKit does. Tests read what happened from window.__chatkitStub.
(() => {
  const stub = (window.__chatkitStub = {
    options: null,
    setOptionsCalls: 0,
    calls: [],
    events: [],
    replies: [],
    // Workflow tasks as they streamed: {title, status} per task added or updated, in order.
    taskUpdates: [],
    progress: [], // the texts of progress_update events
  });

  async function* sseEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = frame
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .map((line) => line.slice(6))
          .join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  }

  class ChatKitStub extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this.threadId = null;
    }

    emit(name, detail) {
      stub.events.push({ name, detail: detail ?? null });
      this.dispatchEvent(new CustomEvent(name, { detail, bubbles: false }));
    }

    render(lines) {
      const theme = this.options?.theme;
      const scheme = typeof theme === "string" ? theme : theme?.colorScheme ?? "light";
      const dark = scheme === "dark";
      this.shadowRoot.innerHTML = "";
      const box = document.createElement("div");
      box.setAttribute("data-scheme", scheme);
      box.style.cssText = `font:15px system-ui;padding:24px;height:100%;box-sizing:border-box;border-radius:12px;background:${dark ? "#18181b" : "#fafafa"};color:${dark ? "#fafafa" : "#18181b"}`;
      for (const text of lines) {
        const p = document.createElement("p");
        p.textContent = text;
        box.appendChild(p);
      }
      this.shadowRoot.appendChild(box);
    }

    setOptions(options) {
      this.options = options;
      stub.options = options;
      stub.setOptionsCalls += 1;
      const start = options.startScreen ?? {};
      this.render([
        "ChatKit stub",
        start.greeting ?? "",
        ...(start.prompts ?? []).map((p) => `• ${p.label}`),
        options.composer?.placeholder ?? "",
        ...stub.replies,
      ]);
      if (stub.setOptionsCalls === 1) setTimeout(() => this.emit("chatkit.ready"), 0);
    }

    // The self-hosted protocol call, made the way ChatKit makes it: through api.fetch.
    async request(body) {
      const api = this.options.api;
      return api.fetch(api.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    }

    async sendUserMessage(params) {
      stub.calls.push({ method: "sendUserMessage", params });
      const options = params.model ? { model: params.model } : {};
      const input = { content: [{ type: "input_text", text: params.text ?? "" }], attachments: [], inference_options: options };
      const body =
        this.threadId && !params.newThread
          ? { type: "threads.add_user_message", params: { thread_id: this.threadId, input } }
          : { type: "threads.create", params: { input } };
      await this.stream(body);
    }

    task(task) {
      stub.taskUpdates.push({ title: task.title ?? "", status: task.status_indicator ?? "none" });
      this.render(["ChatKit stub", ...stub.replies, ...stub.taskUpdates.map((t) => `[${t.status}] ${t.title}`)]);
    }

    async stream(body) {
      this.emit("chatkit.response.start");
      let reply = "";
      let toolCall = null;
      try {
        const response = await this.request(body);
        stub.lastStatus = response.status;
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        for await (const event of sseEvents(response)) {
          if (event.type === "thread.created") {
            this.threadId = event.thread.id;
            this.emit("chatkit.thread.change", { threadId: this.threadId });
          } else if (event.type === "thread.item.updated" && event.update?.type === "assistant_message.content_part.text_delta") {
            reply += event.update.delta;
          } else if (event.type === "thread.item.added" && event.item?.type === "workflow") {
            for (const task of event.item.workflow.tasks) this.task(task);
          } else if (event.type === "thread.item.updated" && event.update?.type?.startsWith("workflow.task.")) {
            this.task(event.update.task);
          } else if (event.type === "progress_update") {
            stub.progress.push(event.text);
          } else if (event.type === "thread.item.done" && event.item?.type === "client_tool_call") {
            toolCall = event.item;
          } else if (event.type === "error") {
            this.emit("chatkit.error", { error: new Error(event.message ?? "error") });
          }
        }
      } catch (error) {
        this.emit("chatkit.error", { error });
      }
      if (reply) {
        stub.replies.push(reply);
        this.render(["ChatKit stub", ...stub.replies]);
      }
      this.emit("chatkit.response.end");
      if (toolCall) {
        const result = await this.options.onClientTool({ name: toolCall.name, params: toolCall.arguments });
        stub.toolResults = (stub.toolResults ?? []).concat([result]);
        await this.stream({
          type: "threads.add_client_tool_output",
          params: { thread_id: this.threadId, result },
        });
      }
    }

    // The hosted integration: ChatKit asks for a client secret, then for a fresh one.
    async getClientSecret(current) {
      const secret = await this.options.api.getClientSecret(current ?? null);
      stub.secrets = (stub.secrets ?? []).concat([secret]);
      return secret;
    }

    async setThreadId(threadId) {
      stub.calls.push({ method: "setThreadId", params: threadId });
      this.threadId = threadId;
      this.emit("chatkit.thread.change", { threadId });
    }

    async focusComposer() {
      stub.calls.push({ method: "focusComposer" });
    }

    async setComposerValue(params) {
      stub.calls.push({ method: "setComposerValue", params });
    }

    async fetchUpdates() {
      stub.calls.push({ method: "fetchUpdates" });
    }

    async sendCustomAction(action, itemId) {
      stub.calls.push({ method: "sendCustomAction", params: { action, itemId } });
    }

    // ChatKit's callbacks, called as ChatKit calls them; what they answered is recorded.
    async searchCommands(query) {
      const result = await this.options.commands.onSearch(query);
      stub.commandSearches = (stub.commandSearches ?? []).concat([{ query, result }]);
      return result;
    }

    async selectCommand(command) {
      const result = (await this.options.commands.onSelect(command)) ?? null;
      stub.commandSelections = (stub.commandSelections ?? []).concat([{ command, result }]);
      return result;
    }

    async searchTags(query) {
      const result = await this.options.entities.onTagSearch(query);
      stub.tagSearches = (stub.tagSearches ?? []).concat([{ query, result }]);
      return result;
    }

    async previewEntity(entity) {
      const result = await this.options.entities.onRequestPreview(entity);
      stub.previews = (stub.previews ?? []).concat([{ entity, result }]);
      return result;
    }

    async showHistory() {
      stub.calls.push({ method: "showHistory" });
    }

    async hideHistory() {
      stub.calls.push({ method: "hideHistory" });
    }
  }

  customElements.define("openai-chatkit", ChatKitStub);
})();
