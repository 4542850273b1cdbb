/**
 * The status line of a console page: connection state, title, badges and
 * the server's notices.
 *
 * Notices live here, beside the terminal, never inside it: text injected into
 * the terminal would mix with the program's output, end up in copies of the
 * screen, and disturb full-screen programs.
 */

/** Notices that inform and can go away by themselves after this long. */
const INFO_LIFETIME_MS = 10_000;
/** How many watchers the status line names before "and N more". */
const WATCHERS_SHOWN = 5;

const CONNECTION_LABELS = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  ended: "Ended",
};

/**
 * Whether a status message moves the user into (true) or out of (false) the
 * CPU tarpit, or null when it says nothing about it. Understood forms:
 * `{"tarpit": true|false, ...}` and `{"notice": "tarpit", ...}` (entering).
 * @param {Record<string, unknown>} status
 * @returns {boolean | null}
 */
function tarpitIn(status) {
  if (typeof status.tarpit === "boolean") return status.tarpit;
  return status.notice === "tarpit" ? true : null;
}

/**
 * What to tell the user about a `["status", {...}]` message, or null when the
 * message only updates a badge (such as the viewers count).
 *
 * @param {Record<string, unknown>} status
 * @returns {{text: string, level: "info" | "warning" | "error"} | null}
 */
function describeStatus(status) {
  const message = typeof status.message === "string" ? status.message : "";
  const notice = typeof status.notice === "string" ? status.notice : "";
  if (typeof status.error === "string" && status.error) {
    return { text: status.error, level: "error" };
  }
  const tarpit = tarpitIn(status);
  if (tarpit === true) {
    return {
      text: message || "Your CPU allowance for today is used up: your processes run slower until it resets.",
      level: "warning",
    };
  }
  if (tarpit === false) {
    return { text: message || "Your processes run at full speed again.", level: "info" };
  }
  if (notice === "readonly") {
    return { text: message || "This console is read-only for you: what you type is not sent.", level: "warning" };
  }
  if (notice === "skipped") {
    return { text: message || "Some output was skipped because this page fell behind.", level: "warning" };
  }
  if (message) return { text: message, level: "info" };
  return notice ? { text: notice, level: "info" } : null;
}

/**
 * One person watching, as the server lists them in `status.watchers`.
 * @typedef {{username: string, readonly?: unknown, connections?: unknown}} Watcher
 */

/**
 * @param {unknown} value an entry of `status.watchers`.
 * @returns {value is Watcher}
 */
function isWatcher(value) {
  return typeof value === "object" && value !== null && typeof (/** @type {Watcher} */ (value).username) === "string";
}

/**
 * @param {string} className
 * @param {HTMLElement} parent
 * @returns {HTMLSpanElement} a new span appended to `parent`.
 */
function span(className, parent) {
  const element = document.createElement("span");
  element.className = className;
  parent.append(element);
  return element;
}

export class ConsoleBar {
  /**
   * Build the status line inside `container` (an empty element in the page).
   * @param {HTMLElement} container
   * @param {{onReconnectNow: () => void}} actions
   */
  constructor(container, { onReconnectNow }) {
    container.replaceChildren();
    this._connection = span("console-connection", container);
    this._connection.dataset.state = "connecting";
    span("console-connection-dot", this._connection).setAttribute("aria-hidden", "true");
    this._connectionLabel = span("console-connection-label", this._connection);
    this._reconnectButton = document.createElement("button");
    this._reconnectButton.type = "button";
    this._reconnectButton.className = "console-reconnect";
    this._reconnectButton.textContent = "Retry now";
    this._reconnectButton.hidden = true;
    this._reconnectButton.addEventListener("click", onReconnectNow);
    this._connection.append(this._reconnectButton);

    this._title = span("console-title", container);
    this._readonly = span("console-badge console-badge-readonly", container);
    this._readonly.textContent = "read-only";
    this._readonly.title = "You can watch this console but not type into it.";
    this._readonly.hidden = true;
    this._tarpit = span("console-badge console-badge-tarpit", container);
    this._tarpit.textContent = "slowed";
    this._tarpit.title = "Your CPU allowance for today is used up; processes run slower until it resets.";
    this._tarpit.hidden = true;
    this._viewers = span("console-viewers", container);
    this._viewers.hidden = true;
    this._watchersKnown = false;
    this._message = span("console-message", container);
    this._message.setAttribute("role", "status");
    this._message.setAttribute("aria-live", "polite");
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._messageTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this._retryTimer = undefined;
    this.setConnection("connecting", {});
  }

  /**
   * @param {"connecting" | "connected" | "reconnecting" | "ended"} state
   * @param {{retryInMs?: number, reason?: string}} detail
   */
  setConnection(state, { retryInMs, reason }) {
    clearInterval(this._retryTimer);
    this._retryTimer = undefined;
    this._connection.dataset.state = state;
    this._reconnectButton.hidden = !(state === "reconnecting" && retryInMs);
    const label = CONNECTION_LABELS[state];
    if (state === "reconnecting" && retryInMs) {
      const retryAt = Date.now() + retryInMs;
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        this._connectionLabel.textContent = `Connection lost, retrying in ${seconds} s`;
      };
      tick();
      this._retryTimer = setInterval(tick, 1000);
      this._connection.title = reason || "";
    } else {
      this._connectionLabel.textContent = label;
      this._connection.title = "";
    }
  }

  /** @param {string} title */
  setTitle(title) {
    this._title.textContent = title;
    this._title.title = title;
  }

  /** @param {boolean} readonly */
  setReadonly(readonly) {
    this._readonly.hidden = !readonly;
  }

  /**
   * Apply a `status` message: badges, who is watching, and its notice.
   * @param {Record<string, unknown>} status
   */
  applyStatus(status) {
    const viewers = status.viewers;
    if (typeof viewers === "number" && !this._watchersKnown) {
      this._viewers.hidden = viewers < 2;
      this._viewers.textContent = `${viewers} viewers`;
      this._viewers.title = `${viewers} browser connections are watching this console.`;
    }
    if (Array.isArray(status.watchers)) this._showWatchers(status.watchers, status.watchers_total);
    const tarpit = tarpitIn(status);
    if (tarpit !== null) this._tarpit.hidden = !tarpit;
    const described = describeStatus(status);
    if (described) this.showMessage(described.text, described.level);
  }

  /**
   * Name the people watching (the server lists the owner and typists first);
   * hidden while you are alone with the console.
   * @param {unknown[]} watchers `{username, readonly, connections}` objects.
   * @param {unknown} total how many people in all, when the list was cut.
   */
  _showWatchers(watchers, total) {
    this._watchersKnown = true;
    const people = watchers.filter(isWatcher);
    const count = typeof total === "number" && Number.isInteger(total) ? total : people.length;
    const connections = people.reduce((sum, w) => sum + (Number(w.connections) || 1), 0);
    this._viewers.hidden = count < 2 && connections < 2;
    /** @param {Watcher} w */
    const label = (w) => (w.readonly ? w.username : `${w.username} (can type)`);
    const shown = people.slice(0, WATCHERS_SHOWN).map(label);
    const more = count - shown.length;
    this._viewers.textContent = `Watching: ${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
    this._viewers.title = people.map(label).join("\n") + (count > people.length ? `\n… ${count} in all` : "");
    this._viewers.dataset.watchers = people.map((w) => w.username).join(" ");
  }

  /**
   * Show a message in the status line; info messages fade after a while,
   * warnings and errors stay until replaced.
   * @param {string} text
   * @param {"info" | "warning" | "error"} level
   */
  showMessage(text, level) {
    clearTimeout(this._messageTimer);
    this._message.textContent = text;
    this._message.dataset.level = level;
    if (level === "info") {
      this._messageTimer = setTimeout(() => {
        this._message.textContent = "";
        delete this._message.dataset.level;
      }, INFO_LIFETIME_MS);
    }
  }
}
