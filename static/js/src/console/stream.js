/**
 * The SockJS connection of a console page, with automatic reconnection.
 *
 * A network drop should not cost the user their terminal: while the console
 * lives, we reconnect with exponential backoff (and at once when the browser
 * says it is back online). Only the server's `disconnect` message, or `end()`,
 * stops that.
 */
import SockJS from "sockjs-client";

/**
 * The server serves only these: the iframe-based transports (and the
 * iframe page they load from a CDN) are off, like JSONP and EventSource.
 */
const TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling"];

/**
 * A lost connection is retried every QUICK_RETRY_MS for QUICK_RETRIES tries:
 * a server restarting (an upgrade) is back within a second or two and the
 * console with it, so the page must not be waiting out a long backoff then.
 * After that the delay doubles up to LONGEST_RETRY_MS.
 */
const QUICK_RETRY_MS = 250;
const QUICK_RETRIES = 12;
const LONGEST_RETRY_MS = 30_000;

/**
 * @typedef {"connecting" | "connected" | "reconnecting" | "ended"} ConnectionState
 */

export class ConsoleStream {
  /**
   * @param {string} url the SockJS endpoint with the console's `?id=`.
   * @param {{
   *   onOpen?: () => void,
   *   onMessage: (message: unknown[]) => void,
   *   onState: (state: ConnectionState, detail: {retryInMs?: number, reason?: string}) => void,
   * }} handlers
   */
  constructor(url, handlers) {
    this._url = url;
    this._handlers = handlers;
    /** @type {WebSocket | null} SockJS's socket, which has WebSocket's interface. */
    this._socket = null;
    this._failures = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._retryTimer = undefined;
    this._ended = false;
    window.addEventListener("online", () => this.reconnectNow());
  }

  /** Open the connection over one of the transports the server serves. */
  connect() {
    if (this._ended) return;
    this._handlers.onState(this._failures === 0 ? "connecting" : "reconnecting", {});
    const socket = new SockJS(this._url, null, { transports: TRANSPORTS });
    this._socket = socket;
    let received = false;
    socket.onopen = () => {
      if (socket !== this._socket) return;
      this._handlers.onState("connected", {});
      this._handlers.onOpen?.();
    };
    socket.onmessage = (event) => {
      if (socket !== this._socket) return;
      if (!received) {
        received = true;
        this._failures = 0;
      }
      const message = decode(event.data);
      if (message) this._handlers.onMessage(message);
    };
    socket.onclose = (event) => {
      if (socket !== this._socket) return;
      this._socket = null;
      if (this._ended) return;
      this._scheduleRetry(event.reason || `connection closed (${event.code})`);
    };
  }

  /** Whether messages can be sent right now. */
  get open() {
    return this._socket !== null && this._socket.readyState === SockJS.OPEN;
  }

  /**
   * Send one protocol message; dropped (returning false) while disconnected,
   * since keystrokes typed into a dead connection must not arrive later.
   * @param {unknown[]} message
   */
  send(message) {
    if (!this.open || !this._socket) return false;
    this._socket.send(JSON.stringify(message));
    return true;
  }

  /** Retry at once instead of waiting out the backoff. */
  reconnectNow() {
    if (this._ended || this._retryTimer === undefined) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = undefined;
    this.connect();
  }

  /**
   * Close for good: the console ended or access was withdrawn.
   * @param {string} reason
   */
  end(reason) {
    this._ended = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = undefined;
    const socket = this._socket;
    this._socket = null;
    socket?.close();
    this._handlers.onState("ended", { reason });
  }

  /** @param {string} reason why the connection was lost. */
  _scheduleRetry(reason) {
    const backoff = this._failures < QUICK_RETRIES ? QUICK_RETRY_MS
      : Math.min(LONGEST_RETRY_MS, QUICK_RETRY_MS * 2 ** (this._failures - QUICK_RETRIES + 1));
    const delay = Math.round(backoff * (0.75 + Math.random() * 0.5));
    this._failures += 1;
    this._handlers.onState("reconnecting", { retryInMs: delay, reason });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = undefined;
      this.connect();
    }, delay);
  }
}

/**
 * A protocol message (a JSON array with a string tag), or null for anything else.
 * @param {unknown} data
 * @returns {unknown[] | null}
 */
function decode(data) {
  let message;
  try {
    message = typeof data === "string" ? JSON.parse(data) : data;
  } catch {
    return null;
  }
  return Array.isArray(message) && typeof message[0] === "string" ? message : null;
}
