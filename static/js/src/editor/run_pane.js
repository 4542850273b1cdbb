/**
 * The Save & Run pane under the editor: the file runs in a real console
 * (started through the consoles API), shown with the same terminal, status
 * line and extra keys as the console page, so it can be popped out and
 * found later on the Consoles page.
 *
 * Running again restarts: the pane's previous console is closed first. Its
 * id is remembered for the tab, so a reloaded page still closes it instead
 * of leaving it running and using up the account's consoles.
 */
import { ApiError, apiFetch } from "../lib/api.js";
import { createTerminal, terminalText } from "../console/terminal.js";
import { ConsoleBar } from "../console/status.js";
import { KeyBar } from "../console/keybar.js";
import { ConsoleSession } from "../console/session.js";
import { requireElement } from "../lib/dom.js";

/**
 * How to name an interpreter next to the Run button: "Python 3.11" for
 * `python3.11` or `/usr/bin/python3.11`, else the program's file name.
 * @param {string} executable
 */
export function interpreterLabel(executable) {
  const name = executable.split("/").pop() || executable;
  const version = /^python(\d+(?:\.\d+)?)?$/.exec(name);
  if (!version) return name;
  return version[1] ? `Python ${version[1]}` : "Python";
}

/**
 * A console the API created, as its answer describes it.
 * @typedef {{id: string, console_url: string, stream_url: string}} CreatedConsole
 */

/**
 * @param {string} className
 * @returns {HTMLDivElement}
 */
function div(className) {
  const element = document.createElement("div");
  element.className = className;
  return element;
}

export class RunPane {
  /**
   * @param {HTMLElement} pane the `#run-pane` element, with
   *   `[data-run-console]`, `[data-run-title]`, `a[data-run-popout]` and
   *   `button[data-run-close]` inside.
   * @param {{
   *   apiBase: string,
   *   run: {executable: string, arguments: string[], working_directory: string},
   *   storageKey: string,
   * }} options `storageKey` names this file's pane in the tab's sessionStorage.
   */
  constructor(pane, { apiBase, run, storageKey }) {
    this._pane = pane;
    this._apiBase = apiBase;
    this._run = run;
    this._storageKey = storageKey;
    this._holder = requireElement(pane, "[data-run-console]", HTMLElement);
    this._title = requireElement(pane, "[data-run-title]", HTMLElement);
    this._popout = requireElement(pane, "a[data-run-popout]", HTMLAnchorElement);
    /** @type {{id: string, term: import("@xterm/xterm").Terminal, session: ConsoleSession} | null} */
    this._mounted = null;
    requireElement(pane, "button[data-run-close]", HTMLButtonElement).addEventListener("click", () => this.close());
  }

  /** Start the file in a new console (closing the pane's previous one) and show it. */
  async start() {
    await this._closeConsole();
    /** @type {CreatedConsole} */
    const created = await apiFetch("POST", `${this._apiBase}consoles/`, this._run);
    this._remember(created.id);
    this._mount(created);
  }

  /** Close the pane's console and hide the pane. */
  async close() {
    try {
      await this._closeConsole();
    } finally {
      this._pane.hidden = true;
    }
  }

  /** @param {CreatedConsole} created */
  _mount(created) {
    this._pane.hidden = false;
    const box = div("terminal-box");
    const keys = div("console-keys");
    const barElement = div("console-bar");
    this._holder.replaceChildren(box, keys, barElement);
    this._title.textContent = [this._run.executable, ...this._run.arguments].join(" ");
    this._popout.href = created.console_url;
    this._popout.hidden = false;

    const { term, fitAddon } = createTerminal(box, { readonly: false });
    /** @type {ConsoleSession | null} */
    let session = null;
    const bar = new ConsoleBar(barElement, { onReconnectNow: () => session?.reconnectNow() });
    const keyBar = new KeyBar(keys, term, (text) => term.input(text, true));
    // The stream of the node that runs the console (see docs/deploy.md).
    session = new ConsoleSession({
      url: `${created.stream_url}?id=${encodeURIComponent(created.id)}`,
      term,
      fitAddon,
      bar,
      keyBar,
      readonly: false,
      box,
      titlesPage: false,
    });
    session.start();
    term.focus();
    this._mounted = { id: created.id, term, session };
    window.ideTerminal = { text: () => terminalText(term), term };
  }

  /** Close the console this pane (or this tab, before a reload) last started. */
  async _closeConsole() {
    const mounted = this._mounted;
    const id = mounted ? mounted.id : this._remembered();
    if (mounted) {
      this._mounted = null;
      mounted.session.close();
      mounted.term.dispose();
      this._holder.replaceChildren();
      this._popout.hidden = true;
    }
    if (!id) return;
    try {
      await apiFetch("DELETE", `${this._apiBase}consoles/${encodeURIComponent(id)}/`);
    } catch (error) {
      // Already gone (ended and cleaned up, or closed elsewhere): nothing to close.
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    this._remember(null);
  }

  _remembered() {
    try {
      return window.sessionStorage.getItem(this._storageKey);
    } catch {
      return null;
    }
  }

  /** @param {string | null} id the console to close after a reload, or null for none. */
  _remember(id) {
    try {
      if (id) window.sessionStorage.setItem(this._storageKey, id);
      else window.sessionStorage.removeItem(this._storageKey);
    } catch {
      // Storage refused (private mode, quota): only the reload case loses out.
    }
  }
}
