/**
 * Joins a terminal to its console's stream: the protocol of docs/protocol.md's
 * "Console stream" (terminado-compatible JSON arrays) as seen from a page.
 */
import { OutputFlow } from "./flow.js";
import { ConsoleStream } from "./stream.js";

/** How long resizing must settle before we refit or tell the server. */
const FIT_DELAY_MS = 80;
const SIZE_DELAY_MS = 150;
/** ESC c (RIS): a full reset, queued in order with the output. */
const FULL_RESET = "\x1bc";

/**
 * @param {() => void} action
 * @param {number} delayMs
 * @returns {() => void} runs `action` once calls have stopped for `delayMs`.
 */
function debounce(action, delayMs) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, delayMs);
  };
}

/**
 * A valid terminal dimension from the server, or null.
 * @param {unknown} value
 * @returns {number | null}
 */
function dimension(value) {
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value <= 1000 ? value : null;
}

export class ConsoleSession {
  /**
   * @param {{
   *   url: string,
   *   term: import("@xterm/xterm").Terminal,
   *   fitAddon: import("@xterm/addon-fit").FitAddon,
   *   bar: import("./status.js").ConsoleBar,
   *   keyBar: import("./keybar.js").KeyBar,
   *   readonly: boolean,
   *   box: HTMLElement,
   *   titlesPage?: boolean,
   * }} parts `box` is the element whose size the terminal fills; `titlesPage`
   *   (default true) lets a title the program sets become the page's title,
   *   which a page showing the terminal beside other things turns off.
   */
  constructor({ url, term, fitAddon, bar, keyBar, readonly, box, titlesPage = true }) {
    this._term = term;
    this._fitAddon = fitAddon;
    this._bar = bar;
    this._keyBar = keyBar;
    this._ended = false;
    this._closed = false;
    this._box = box;
    /** @type {[unknown, unknown] | null} The console's size as the server last reported it: [rows, cols]. */
    this._consoleSize = null;
    /** @type {OutputFlow | null} */
    this._flow = null;
    this._sentSize = "";
    this._stream = new ConsoleStream(url, {
      onOpen: () => this._startConnection(),
      onMessage: (message) => this._dispatch(message),
      onState: (state, detail) => bar.setConnection(state, detail),
    });
    this._setReadonly(readonly);

    term.onData((data) => this._sendInput(keyBar.transform(data)));
    // A title the program sets (an OSC sequence) names the tab, as in a desktop terminal.
    term.onTitleChange((title) => {
      bar.setTitle(title);
      if (title && titlesPage) document.title = title;
    });
    term.onResize(debounce(() => this._sendSize(), SIZE_DELAY_MS));
    this._refit = debounce(() => this._fit(), FIT_DELAY_MS);
    this._boxObserver = new ResizeObserver(this._refit);
    this._boxObserver.observe(box);
    window.addEventListener("resize", this._refit);
  }

  /** Connect to the server and keep connected until the console ends. */
  start() {
    this._fit();
    this._stream.connect();
  }

  /**
   * Disconnect for good and stop following the page's size, for a terminal
   * whose element is about to be replaced (the console itself lives on).
   */
  close() {
    this._closed = true;
    this._ended = true;
    this._stream.end("Closed.");
    this._boxObserver.disconnect();
    window.removeEventListener("resize", this._refit);
  }

  /** Retry a lost connection at once. */
  reconnectNow() {
    this._stream.reconnectNow();
  }

  _startConnection() {
    const flow = new OutputFlow(
      (text, parsed) => this._term.write(text, parsed),
      (message) => {
        if (this._flow === flow) this._stream.send(message);
      },
    );
    this._flow = flow;
    this._sentSize = "";
  }

  /**
   * Act on one protocol message from the server.
   * @param {unknown[]} message `[type, ...args]`
   */
  _dispatch([type, ...args]) {
    switch (type) {
      case "setup":
        this._setup(asRecord(args[0]));
        break;
      case "stdout":
        if (typeof args[0] === "string") this._flow?.push(args[0]);
        break;
      case "status":
        this._applyStatus(asRecord(args[0]));
        break;
      case "disconnect":
        this._disconnect(args[0]);
        break;
      default:
        break;
    }
  }

  /** @param {Record<string, unknown>} setup */
  _setup(setup) {
    // The server replays its scrollback after `setup`: clear what an earlier
    // connection showed so the text is not doubled. Queued behind any output
    // of that connection that xterm.js has not parsed yet.
    this._flow?.push(FULL_RESET);
    this._setReadonly(Boolean(setup.readonly));
    if (typeof setup.title === "string" && setup.title) this._bar.setTitle(setup.title);
    this._consoleSize = [setup.rows, setup.cols];
    this._followMode();
  }

  /**
   * The server's notices: the console's size (read-only viewers follow it,
   * letterboxed), and this connection's mode when its share changed.
   * @param {Record<string, unknown>} status
   */
  _applyStatus(status) {
    this._bar.applyStatus(status);
    if (Array.isArray(status.size) && status.size.length === 2) {
      const [rows, cols] = status.size;
      this._consoleSize = [rows, cols];
      if (this._readonly) this._resizeTo(rows, cols);
    }
    if (typeof status.readonly === "boolean" && status.readonly !== this._readonly) {
      this._setReadonly(status.readonly);
      this._sentSize = "";
      this._followMode();
    }
  }

  /** Read-only: keep the console's size; read-write: fill the box and tell the server. */
  _followMode() {
    if (this._readonly) {
      if (this._consoleSize) this._resizeTo(...this._consoleSize);
    } else {
      this._fit();
      this._sendSize();
    }
  }

  /** @param {unknown} reason the server's explanation, shown when it is text. */
  _disconnect(reason) {
    this._ended = true;
    const text = typeof reason === "string" && reason ? reason : "The console has ended.";
    this._stream.end(text);
    this._bar.showMessage(text, "warning");
    this._term.options.disableStdin = true;
    this._term.options.cursorBlink = false;
    this._keyBar.visible = false;
  }

  /** @param {boolean} readonly */
  _setReadonly(readonly) {
    this._readonly = readonly;
    // The stylesheet letterboxes a read-only terminal inside its box.
    this._box.dataset.readonly = readonly ? "1" : "0";
    this._term.options.disableStdin = readonly || this._ended;
    this._bar.setReadonly(readonly);
    this._keyBar.visible = !readonly && !this._ended;
  }

  /** @param {string} data */
  _sendInput(data) {
    if (this._readonly || this._ended || !data) return;
    this._stream.send(["stdin", data]);
  }

  /** Fill the box; read-only viewers keep the owner's size instead. */
  _fit() {
    if (this._readonly || this._closed) return;
    this._fitAddon.fit();
  }

  /** Tell the server our size, once per change; read-only viewers never do. */
  _sendSize() {
    if (this._readonly || this._ended || !this._stream.open) return;
    const { rows, cols } = this._term;
    const size = `${rows}x${cols}`;
    if (size === this._sentSize) return;
    if (this._stream.send(["set_size", rows, cols])) this._sentSize = size;
  }

  /**
   * @param {unknown} rows
   * @param {unknown} cols
   */
  _resizeTo(rows, cols) {
    const validRows = dimension(rows);
    const validCols = dimension(cols);
    if (validRows && validCols) this._term.resize(validCols, validRows);
  }
}

/**
 * A message's object argument, or an empty one when the server sent something else.
 * @param {unknown} value
 * @returns {Record<string, unknown>}
 */
function asRecord(value) {
  return value && typeof value === "object" ? /** @type {Record<string, unknown>} */ (value) : {};
}
