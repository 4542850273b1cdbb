/**
 * The xterm.js terminal of a console page: look, links, copy and paste.
 *
 * Copy and paste follow what terminal users expect from a desktop terminal:
 * Ctrl-Shift-C copies, Ctrl-Shift-V pastes (through the browser's own paste, so
 * no clipboard permission is needed), and Ctrl-C copies only while text is
 * selected; without a selection it reaches the program as ^C.
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { WebLinksAddon } from "@xterm/addon-web-links";
import "@xterm/xterm/css/xterm.css";

const THEME = {
  background: "#1e1f22",
  foreground: "#e6e6e6",
  cursor: "#f0f0f0",
  cursorAccent: "#1e1f22",
  selectionBackground: "#4a6a9a",
  black: "#1e1f22",
  red: "#e06c75",
  green: "#98c379",
  yellow: "#e5c07b",
  blue: "#61afef",
  magenta: "#c678dd",
  cyan: "#56b6c2",
  white: "#dcdfe4",
  brightBlack: "#5c6370",
  brightRed: "#ef8891",
  brightGreen: "#b5e890",
  brightYellow: "#f0d197",
  brightBlue: "#8cc8ff",
  brightMagenta: "#de9bf0",
  brightCyan: "#7fd3dd",
  brightWhite: "#ffffff",
};

const FONT_FAMILY =
  'ui-monospace, "SFMono-Regular", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

/**
 * Open links in a new tab that cannot reach back into this page.
 * @param {MouseEvent} event
 * @param {string} uri
 */
function openLink(event, uri) {
  event.preventDefault();
  window.open(uri, "_blank", "noopener,noreferrer");
}

/**
 * Copy the terminal's selection to the clipboard. Uses the Clipboard API where
 * the page is a secure context, else the browser's copy command, whose `copy`
 * event xterm.js answers with its selection.
 * @param {Terminal} term
 */
function copySelection(term) {
  const text = term.getSelection();
  if (!text) return;
  if (window.isSecureContext && navigator.clipboard) {
    navigator.clipboard.writeText(text).catch(() => document.execCommand("copy"));
  } else {
    document.execCommand("copy");
  }
}

/**
 * Decide what xterm.js does with a key: returning false keeps the key from the
 * program and leaves the browser's default action (copy, paste) in place.
 * @param {Terminal} term
 * @returns {(event: KeyboardEvent) => boolean}
 */
function clipboardKeys(term) {
  return (event) => {
    if (!event.ctrlKey || event.altKey || event.metaKey) return true;
    const key = event.key.toLowerCase();
    if (event.shiftKey && key === "c") {
      if (event.type === "keydown") {
        event.preventDefault();
        copySelection(term);
      }
      return false;
    }
    if (event.shiftKey && key === "v") {
      return false;
    }
    if (!event.shiftKey && key === "c" && term.hasSelection()) {
      return false;
    }
    return true;
  };
}

/**
 * Create the terminal inside `element`.
 *
 * @param {HTMLElement} element
 * @param {{readonly: boolean}} options read-only viewers get no input at all.
 * @returns {{term: Terminal, fitAddon: FitAddon}}
 */
export function createTerminal(element, { readonly }) {
  const narrow = window.matchMedia("(max-width: 600px)").matches;
  const term = new Terminal({
    cursorBlink: !readonly,
    disableStdin: readonly,
    fontFamily: FONT_FAMILY,
    fontSize: narrow ? 12 : 14,
    lineHeight: 1.15,
    scrollback: 10000,
    theme: THEME,
  });
  const fitAddon = new FitAddon();
  term.loadAddon(fitAddon);
  term.loadAddon(new WebLinksAddon(openLink));
  term.attachCustomKeyEventHandler(clipboardKeys(term));
  term.open(element);
  return { term, fitAddon };
}

/**
 * The whole buffer (scrollback and screen) as plain text, one line per row,
 * rows that xterm.js wrapped joined back into the line they came from, and
 * the blank rows below the last text left out.
 *
 * @param {Terminal} term
 * @returns {string}
 */
export function terminalText(term) {
  const buffer = term.buffer.active;
  const lines = [];
  for (let row = 0; row < buffer.length; row++) {
    const line = buffer.getLine(row);
    if (!line) continue;
    const next = buffer.getLine(row + 1);
    const continues = Boolean(next && next.isWrapped);
    const text = line.translateToString(!continues);
    if (line.isWrapped && lines.length > 0) {
      lines[lines.length - 1] += text;
    } else {
      lines.push(text);
    }
  }
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.join("\n");
}
