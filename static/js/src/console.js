/**
 * The console page (console.html, in the site layout) and the console frame
 * (frame.html, the terminal alone filling the screen).
 *
 * Configuration comes from the terminal element:
 * `<div id="terminal" data-console-id data-sockjs-url data-readonly="0|1" data-owner>`
 * (the server's `setup` message has the last word on read-only).
 * Browser tests read the screen through `window.ideTerminal.text()`.
 */
import { createTerminal, terminalText } from "./console/terminal.js";
import { ConsoleBar } from "./console/status.js";
import { KeyBar } from "./console/keybar.js";
import { ConsoleSession } from "./console/session.js";
import { SharingPanel } from "./console/sharing.js";
import { followVisualViewport } from "./lib/viewport.js";
import "../../css/console.css";

/**
 * The page's console settings, checked so a broken template fails clearly.
 * @param {HTMLElement} element the `#terminal` element.
 * @returns {{url: string, readonly: boolean}}
 */
function readConfig(element) {
  const { consoleId, sockjsUrl, readonly } = element.dataset;
  if (!consoleId || !sockjsUrl) {
    throw new Error("The #terminal element needs data-console-id and data-sockjs-url.");
  }
  const separator = sockjsUrl.includes("?") ? "&" : "?";
  return {
    url: `${sockjsUrl}${separator}id=${encodeURIComponent(consoleId)}`,
    readonly: readonly === "1" || readonly === "true",
  };
}

/**
 * An element the page provides, or one made right after `anchor`.
 * @param {HTMLElement} anchor
 * @param {string} id
 * @param {string} className
 * @returns {HTMLElement}
 */
function elementAfter(anchor, id, className) {
  let element = document.getElementById(id);
  if (!element) {
    element = document.createElement("div");
    element.id = id;
    element.className = className;
    anchor.after(element);
  }
  return element;
}

function main() {
  const element = document.getElementById("terminal");
  if (!element) return;
  const config = readConfig(element);
  // The frame is the terminal alone: it keeps to the visible area.
  if (document.body.classList.contains("console-frame")) followVisualViewport();
  const { term, fitAddon } = createTerminal(element, { readonly: config.readonly });
  window.ideTerminal = { text: () => terminalText(term), term };

  /** @type {ConsoleSession | null} */
  let session = null;
  const bar = new ConsoleBar(elementAfter(element, "console-bar", "console-bar"), {
    onReconnectNow: () => session?.reconnectNow(),
  });
  const keyBar = new KeyBar(elementAfter(element, "console-keys", "console-keys"), term, (text) =>
    term.input(text, true),
  );
  session = new ConsoleSession({
    url: config.url,
    term,
    fitAddon,
    bar,
    keyBar,
    readonly: config.readonly,
    box: element,
  });
  session.start();
  if (!config.readonly) term.focus();

  const sharing = document.getElementById("console-sharing");
  if (sharing) new SharingPanel(sharing).load();
}

main();
