// The WebSocket to the gateway: reconnects with exponential backoff (1 s, 2 s, 4 s ... 30 s),
// reports its state, and matches each command to its COMMAND_RESULT by id.

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
const COMMAND_TIMEOUT_MS = 15000; // the gateway answers within 5 s (property 39)
const UNAUTHORIZED_CLOSE = 4401;

export function backoffDelay(attempt) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
}

export class Socket {
  /**
   * @param {string} url ws://host/ws?token=...
   * @param {{onMessage: Function, onState: Function}} handlers
   */
  constructor(url, { onMessage, onState }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pending = new Map(); // id -> {resolve, timer, action}
    this.sequence = 0;
    this.stopped = false;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.onState({ state: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState({ state: "open" });
    });
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending("CONNECTION_LOST", "The connection closed before the answer arrived; check the positions before retrying.");
      if (event.code === UNAUTHORIZED_CLOSE) {
        this.stopped = true;
        this.onState({ state: "unauthorized", reason: event.reason });
        return;
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    const until = Date.now() + delay;
    this.onState({ state: "reconnecting", attempt: this.attempt, delayMs: delay, until });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect now (the user clicked "retry"). */
  retryNow() {
    if (this.ws) return;
    this.stopped = false;
    this.connect();
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    let matched = false;
    if (message.type === "COMMAND_RESULT" && message.id && this.pending.has(message.id)) {
      const entry = this.pending.get(message.id);
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      entry.resolve(message.payload || {});
      matched = true;
    }
    this.onMessage(message, { matched });
  }

  /** Sends a command; resolves with its COMMAND_RESULT payload (never rejects). */
  command(action, payload = {}) {
    this.sequence += 1;
    const id = `c-${Date.now().toString(36)}-${this.sequence}`;
    return new Promise((resolve) => {
      if (!this.isOpen) {
        resolve(localFailure(action, "NOT_CONNECTED", "Not connected to the gateway; the command was not sent."));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(localFailure(action, "NO_ANSWER", `No answer within ${COMMAND_TIMEOUT_MS / 1000} s; check the positions before retrying.`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, timer, action });
      this.ws.send(JSON.stringify({ action, id, payload }));
    });
  }

  failPending(code, message) {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.resolve(localFailure(entry.action, code, message));
      this.pending.delete(id);
    }
  }
}

function localFailure(action, code, message) {
  return { ok: false, action, message, error: { code, message, details: {} }, order: null, local: true };
}
