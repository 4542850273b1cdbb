/**
 * A row of keys that phone keyboards lack (Esc, Tab, Ctrl, arrows), shown
 * under the terminal on touch screens.
 *
 * The buttons must not take the focus from the terminal, or the phone's
 * keyboard would close on every tap.
 */
import { closestToTarget, requireElement } from "../lib/dom.js";

/**
 * Fixed sequences; the arrows depend on the terminal's cursor-key mode.
 * @type {Record<string, string>}
 */
const SEQUENCES = {
  esc: "\x1b",
  tab: "\t",
  "ctrl-c": "\x03",
  "ctrl-d": "\x04",
};
/** @type {Record<string, string>} */
const ARROWS = { up: "A", down: "B", right: "C", left: "D" };
const KEYS = [
  ["esc", "Esc", "Escape"],
  ["tab", "Tab", "Tab"],
  ["ctrl", "Ctrl", "Control: the next letter is sent with Ctrl held"],
  ["ctrl-c", "^C", "Ctrl-C: interrupt"],
  ["ctrl-d", "^D", "Ctrl-D: end of input"],
  ["left", "←", "Left"],
  ["up", "↑", "Up"],
  ["down", "↓", "Down"],
  ["right", "→", "Right"],
];

export class KeyBar {
  /**
   * @param {HTMLElement} container an empty element under the terminal.
   * @param {import("@xterm/xterm").Terminal} term
   * @param {(text: string) => void} sendInput
   */
  constructor(container, term, sendInput) {
    this._container = container;
    this._term = term;
    this._sendInput = sendInput;
    this._ctrlArmed = false;
    container.replaceChildren();
    container.setAttribute("role", "toolbar");
    container.setAttribute("aria-label", "Extra keys");
    for (const [name, label, title] of KEYS) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "console-key";
      button.dataset.key = name;
      button.textContent = label;
      button.title = title;
      button.setAttribute("aria-label", title);
      container.append(button);
    }
    this._ctrlButton = requireElement(container, '[data-key="ctrl"]', HTMLButtonElement);
    container.addEventListener("pointerdown", (event) => event.preventDefault());
    container.addEventListener("click", (event) => {
      const button = closestToTarget(event, "button[data-key]", HTMLButtonElement);
      if (button) this._press(button.dataset.key || "");
    });
  }

  /**
   * Show the keys (for viewers who may type) or hide them.
   * @param {boolean} visible
   */
  set visible(visible) {
    this._container.hidden = !visible;
  }

  /**
   * Turn typed text into what is sent: after a tap on Ctrl, the next letter
   * becomes its control character (Ctrl then "c" sends ^C).
   * @param {string} data
   */
  transform(data) {
    if (!this._ctrlArmed) return data;
    this._setCtrl(false);
    if (data.length !== 1) return data;
    const code = data.toUpperCase().charCodeAt(0);
    if (code >= 64 && code <= 95) return String.fromCharCode(code - 64);
    if (data === " ") return "\x00";
    return data;
  }

  /** @param {string} name the key's `data-key`. */
  _press(name) {
    if (name === "ctrl") {
      this._setCtrl(!this._ctrlArmed);
      this._term.focus();
      return;
    }
    this._setCtrl(false);
    if (name in ARROWS) {
      const prefix = this._term.modes.applicationCursorKeysMode ? "\x1bO" : "\x1b[";
      this._sendInput(prefix + ARROWS[name]);
    } else {
      this._sendInput(SEQUENCES[name]);
    }
    this._term.focus();
  }

  /** @param {boolean} armed */
  _setCtrl(armed) {
    this._ctrlArmed = armed;
    this._ctrlButton.setAttribute("aria-pressed", String(armed));
  }
}
