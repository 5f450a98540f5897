// The WebSocket to the gateway: reconnects with exponential backoff (1 s, 2 s, 4 s, then every
// 5 s, each shortened by up to 20 % at random so that many pages do not come back in step),
// reports its state, and matches each command to its COMMAND_RESULT by id. A gateway restarted
// by its supervisor is found again within 5 s of it listening; a tab brought back to the
// front, or a machine back online, tries at once.
//
// One user command has one id until its COMMAND_RESULT arrives: a command whose connection
// dropped before the answer is sent again, with the same id, when the socket reopens. The
// gateway namespaces ids by token, not by connection, so the engine recognises the retry and
// answers the first outcome ("order.replayed") instead of trading twice.

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 5000;
export const BACKOFF_JITTER = 0.2;
const COMMAND_TIMEOUT_MS = 15000; // the gateway answers within 5 s (property 39)
export const RETRY_WINDOW_MS = 60000; // how long a command waits for its socket to come back
const UNAUTHORIZED_CLOSE = 4401;
// The token travels as a subprotocol, not in the URL (which proxies log on every reconnection);
// the gateway answers with PROTOCOL alone. docs/protocol.md, "WebSocket".
export const PROTOCOL = "dne.v1";
const TOKEN_PROTOCOL_PREFIX = "dne.token.";
// What a subprotocol may hold (an HTTP token, RFC 9110 section 5.6.2).
const PROTOCOL_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The URL and subprotocols that carry `token`: as a subprotocol when it can be one (any
 * generated token can), else in the query string as scripts send it. */
export function socketTarget(url, token) {
  if (PROTOCOL_CHARS.test(token)) return { url, protocols: [PROTOCOL, TOKEN_PROTOCOL_PREFIX + token] };
  const separator = url.includes("?") ? "&" : "?";
  return { url: `${url}${separator}token=${encodeURIComponent(token)}`, protocols: [PROTOCOL] };
}

/** A fresh command id: a UUID (crypto.randomUUID needs a secure context; fall back to random bytes). */
export function newCommandId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The wait before reconnection attempt `attempt` (0-based): `random` in [0, 1) takes up to
 * BACKOFF_JITTER of it off, so it is never longer than the cap. */
export function backoffDelay(attempt, random = Math.random()) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(base * (1 - BACKOFF_JITTER * random));
}

export class Socket {
  /**
   * @param {string} url ws://host/ws
   * @param {string} token the API token
   * @param {{onMessage: Function, onState: Function}} handlers
   */
  constructor(url, token, { onMessage, onState }) {
    this.target = socketTarget(url, token);
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pending = new Map(); // id -> {resolve, timer, action, frame, giveUpAt}
    this.stopped = false;
    // Waiting out a long backoff is pointless once the user looks again or the network is back.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retrySoon();
    });
    window.addEventListener("online", () => this.retrySoon());
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.onState({ state: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.target.url, this.target.protocols);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState({ state: "open" });
      this.resendPending();
    });
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === UNAUTHORIZED_CLOSE) {
        this.stopped = true;
        this.failPending("UNAUTHORIZED", "The gateway refused the API token; the command's outcome is unknown: check the positions.");
        this.onState({ state: "unauthorized", reason: event.reason });
        return;
      }
      this.holdPending();
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

  /** Reconnect now when a reconnection is waiting out its backoff. */
  retrySoon() {
    if (this.ws || this.stopped || this.retryTimer === null) return;
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
    const id = newCommandId();
    return new Promise((resolve) => {
      if (!this.isOpen) {
        resolve(localFailure(action, "NOT_CONNECTED", "Not connected to the gateway; the command was not sent."));
        return;
      }
      const entry = { resolve, timer: null, action, frame: JSON.stringify({ action, id, payload }), giveUpAt: Date.now() + RETRY_WINDOW_MS };
      this.pending.set(id, entry);
      this.send(id, entry);
    });
  }

  /** (Re)sends one pending command, always under its own id, and waits for its answer. */
  send(id, entry) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.giveUp(id, "NO_ANSWER", `No answer within ${COMMAND_TIMEOUT_MS / 1000} s; the command may have run: check the positions before sending it again.`), COMMAND_TIMEOUT_MS);
    this.ws.send(entry.frame);
  }

  resendPending() {
    for (const [id, entry] of this.pending) this.send(id, entry);
  }

  /** The socket dropped: each pending command waits for the next one, up to its retry window. */
  holdPending() {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => this.giveUp(id, "CONNECTION_LOST", `The connection did not come back within ${RETRY_WINDOW_MS / 1000} s; the command may have run: check the positions before sending it again.`), Math.max(0, entry.giveUpAt - Date.now()));
    }
  }

  giveUp(id, code, message) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.resolve(localFailure(entry.action, code, message));
  }

  failPending(code, message) {
    for (const id of [...this.pending.keys()]) this.giveUp(id, code, message);
  }
}

function localFailure(action, code, message) {
  return { ok: false, action, message, error: { code, message, details: {} }, order: null, local: true };
}
