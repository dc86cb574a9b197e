// A websocket to our own server that stays connected: it reconnects by itself with a
// growing delay, and gives up only when the server refused the page (close codes
// 4400-4499, see docs/websocket-protocol.md), saying why.

const REASONS = {
  4401: "Log in to see this live.",
  4403: "This is not yours to watch, or it does not exist.",
  4429: "Too many live pages are open: this one stopped updating. Reload it to follow again.",
};

/** Milliseconds to wait before reconnect attempt `retry` (0, 1, ...): 0.5 s doubling to 10 s. */
export function reconnectDelay(retry, { first = 500, most = 10000 } = {}) {
  return Math.min(most, first * 2 ** retry);
}

/** A close code by which the server refuses this page: reconnecting would not help. */
export function isRefusal(code) {
  return code >= 4400 && code < 4500;
}

/** `ws://host/path` or `wss://host/path` for a path on the page's own host. */
export function socketURL(path, where = globalThis.location) {
  return (where.protocol === "https:" ? "wss://" : "ws://") + where.host + path;
}

export class LiveSocket {
  /**
   * `path`: the socket's path. Options: `onMessage(msg)`, `onState(state, why)` with state
   * "live", "reconnecting" or "denied", `reasons`: {close code: text} for this socket's refusals.
   */
  constructor(path, { onMessage, onState, reasons = {} } = {}) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState;
    this.reasons = { ...REASONS, ...reasons };
    this.retry = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    const ws = new WebSocket(socketURL(this.path));
    this.ws = ws;
    ws.onopen = () => { this.retry = 0; this.opened(); this.onState?.("live"); };
    ws.onmessage = (m) => this.received(JSON.parse(m.data));
    ws.onclose = (ev) => {
      if (this.stopped || ws !== this.ws) return;
      if (isRefusal(ev.code)) {
        this.onState?.("denied", this.reasons[ev.code] || ev.reason || `The server closed the live view (${ev.code}).`);
        return;
      }
      this.onState?.("reconnecting");
      this.timer = setTimeout(() => this.start(), reconnectDelay(this.retry++));
    };
    return this;
  }

  /** Called on every (re)connection; subclasses ask for what they may have missed. */
  opened() {}

  /** Called with each message; subclasses filter before handing it on. */
  received(msg) { this.onMessage?.(msg); }

  get open() { return this.ws?.readyState === WebSocket.OPEN; }

  send(msg) {
    if (this.open) this.ws.send(JSON.stringify(msg));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }
}
