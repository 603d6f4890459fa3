// Live updates from the server: server-sent events (GET /api/events) when signed in with
// the session cookie; a slow poll otherwise (an EventSource cannot send an API key, and an
// older server has no event stream). `onChange(kind, data)` is called for each update.
import { usingApiKey } from "./api.js";

const POLL_MS = 10000;

export function subscribe(onChange) {
  let source = null;
  let timer = null;
  let closed = false;

  const poll = () => {
    if (closed || timer) return;
    timer = setInterval(() => onChange("poll", null), POLL_MS);
  };

  if (!usingApiKey() && "EventSource" in window) {
    source = new EventSource("/api/events", { withCredentials: true });
    for (const kind of ["message", "status", "conversation"]) {
      source.addEventListener(kind, (event) => {
        let data = null;
        try { data = JSON.parse(event.data); } catch { /* a bare notice */ }
        onChange(kind, data);
      });
    }
    // Events are not replayed: whatever happened before the stream opened (the page's first
    // load racing the subscription) or while it reconnected is fetched again on each open.
    source.addEventListener("open", () => onChange("open", null));
    // A stream that cannot open (404, signed out) closes for good: poll instead. A stream
    // that broke after opening reconnects by itself.
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) poll();
    });
  } else {
    poll();
  }

  return () => {
    closed = true;
    source?.close();
    clearInterval(timer);
  };
}
