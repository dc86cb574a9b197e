// A job's live connection: snapshot first, then events; reconnects by itself.
// Channels delivers at most once, so every event carries the row's `version`:
// an older one is dropped, a gap asks the server for a fresh snapshot.
(function () {
  "use strict";
  const QUIET_MS = 10000;
  const DENIED = { 4401: "Log in to watch this job.", 4403: "This job is not yours, or does not exist." };

  class JobSocket {
    constructor(path, handlers) {
      this.path = path;
      this.handlers = handlers;
      this.version = -1;
      this.retry = 0;
      this.closedByUs = false;
      this.connect();
    }

    connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + this.path);
      this.ws = ws;
      ws.onopen = () => { this.retry = 0; this.handlers.onConnection?.("live"); };
      ws.onmessage = (msg) => { this.lastHeard = Date.now(); this.receive(JSON.parse(msg.data)); };
      // Quiet for a while? Ask again: events may be lost, and a Redis restart forgets
      // which sockets watch the job (the server re-joins the group on a resync).
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => {
        if (Date.now() - (this.lastHeard || 0) > QUIET_MS && this.active()) this.resync();
      }, QUIET_MS / 2);
      ws.onclose = (ev) => {
        if (this.closedByUs) return;
        if (DENIED[ev.code]) { this.handlers.onConnection?.("denied", DENIED[ev.code]); return; }
        this.handlers.onConnection?.("reconnecting");
        const delay = Math.min(10000, 500 * 2 ** this.retry++);
        setTimeout(() => this.connect(), delay);
      };
    }

    receive(ev) {
      if (ev.type === "snapshot") {
        this.version = ev.version;
        this.handlers.onSnapshot?.(ev.job);
        return;
      }
      if (typeof ev.version === "number") {
        if (ev.version <= this.version && !ev.job) return; // stale or repeated
        if (ev.version > this.version + 1 && !ev.job) this.resync();
        this.version = Math.max(this.version, ev.version);
      }
      if (ev.job) this.handlers.onSnapshot?.(ev.job);
      this.handlers.onEvent?.(ev);
    }

    active() {
      return this.handlers.isActive ? this.handlers.isActive() : true;
    }

    resync() {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "resync" }));
    }

    close() { this.closedByUs = true; clearInterval(this.watchdog); this.ws?.close(); }
  }

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function postJSON(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json", "Content-Type": "application/json" },
      body: body === undefined ? "" : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || `The server answered ${resp.status}.`);
    return data;
  }

  window.Studio = Object.assign(window.Studio || {}, { JobSocket, postJSON, csrfToken });
})();
