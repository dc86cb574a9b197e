// A job's live connection: a snapshot first, then events.
// Channels delivers at most once, so every event carries the row's `version`: an older
// one is dropped, a gap asks the server for a fresh snapshot (docs/websocket-protocol.md).
import { LiveSocket } from "./livesocket.js";

const QUIET_MS = 10000;

/**
 * What to do with message `msg` when the page has seen version `have` (-1: nothing yet).
 * Returns {use, resync, version}: hand it on?, ask for a snapshot?, the version now held.
 */
export function versionStep(have, msg) {
  if (msg.type === "snapshot") return { use: true, resync: false, version: msg.version };
  if (typeof msg.version !== "number") return { use: true, resync: false, version: have };
  if (msg.version <= have) return { use: false, resync: false, version: have }; // stale or repeated
  // A gap means lost events; one that carries the whole job (`status`, `result`) fills it.
  return { use: true, resync: !msg.job && msg.version > have + 1, version: msg.version };
}

/**
 * True when `answer` (a job as an action's request returned it) is older than the job the
 * page already holds from its socket: drawing it would turn the page back in time.
 */
export function answerIsStale(answer, held) {
  return typeof answer?.version === "number" && typeof held?.version === "number" && answer.version < held.version;
}

/** True when a watched job has been quiet long enough to ask again. */
export function shouldAskAgain({ now, lastHeard, active }) {
  return active && now - lastHeard > QUIET_MS;
}

export class JobSocket extends LiveSocket {
  /** Handlers: `onSnapshot(job)`, `onEvent(event)`, `isActive()`, `onState(state, why)`. */
  constructor(path, { onSnapshot, onEvent, isActive = () => true, onState }) {
    super(path, {
      onState,
      reasons: { 4403: "This job is not yours, or does not exist.", 4401: "Log in to watch this job." },
    });
    Object.assign(this, { onSnapshot, onEvent, isActive });
    this.version = -1;
    this.lastHeard = 0;
  }

  opened() {
    // Quiet for a while? Ask again: events may be lost, and a Redis restart forgets which
    // sockets watch the job (the server joins the group again on a resync).
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (shouldAskAgain({ now: Date.now(), lastHeard: this.lastHeard, active: this.isActive() })) this.resync();
    }, QUIET_MS / 2);
  }

  received(msg) {
    this.lastHeard = Date.now();
    const step = versionStep(this.version, msg);
    this.version = step.version;
    if (step.resync) this.resync();
    if (!step.use) return;
    if (msg.job) this.onSnapshot?.(msg.job);
    if (msg.type !== "snapshot") this.onEvent?.(msg);
  }

  resync() { this.send({ type: "resync" }); }

  stop() { clearInterval(this.watchdog); super.stop(); }
}
