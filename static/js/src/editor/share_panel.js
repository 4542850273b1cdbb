/**
 * Sharing a file by link from the editor: anyone with the link sees the
 * file's current content read-only (the `files/sharing/` API).
 */
import { apiFetch } from "../lib/api.js";
import { showError, showNotice } from "../lib/notice.js";
import { requireElement } from "../lib/dom.js";

/**
 * Put text on the clipboard: the Clipboard API where the page is a secure
 * context, else the browser's copy command on the selected input.
 * @param {HTMLInputElement} input holding the text.
 * @returns {Promise<boolean>} whether the text was copied.
 */
async function copyFromInput(input) {
  input.select();
  if (window.isSecureContext && navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(input.value);
      return true;
    } catch {
      // Permission refused: fall through to the copy command.
    }
  }
  return document.execCommand("copy");
}

export class SharePanel {
  /**
   * @param {HTMLElement} panel with `data-share-api`, `data-path`,
   *   `data-share-url` (the existing link's path, or empty), and inside it
   *   `input[data-share-link]`, `button[data-share-copy]`,
   *   `button[data-share-stop]`, `button[data-share-close]`.
   * @param {HTMLButtonElement} button the toolbar's Share button.
   */
  constructor(panel, button) {
    this._panel = panel;
    this._button = button;
    const { shareApi, path } = panel.dataset;
    if (!shareApi || !path) throw new Error("The share panel needs data-share-api and data-path.");
    this._api = shareApi;
    this._path = path;
    this._link = requireElement(panel, "input[data-share-link]", HTMLInputElement);
    this._url = panel.dataset.shareUrl || "";
    button.addEventListener("click", () => this._toggle());
    requireElement(panel, "button[data-share-copy]", HTMLButtonElement).addEventListener("click", () => this._copy());
    const stop = requireElement(panel, "button[data-share-stop]", HTMLButtonElement);
    stop.addEventListener("click", () => this._stop(stop));
    requireElement(panel, "button[data-share-close]", HTMLButtonElement).addEventListener("click", () => this._show(false));
    this._render();
  }

  async _toggle() {
    if (!this._panel.hidden) {
      this._show(false);
      return;
    }
    if (!this._url) {
      this._button.disabled = true;
      try {
        const shared = await apiFetch("POST", this._api, { path: this._path });
        this._url = shared.url;
      } catch (error) {
        showError(error);
        return;
      } finally {
        this._button.disabled = false;
      }
    }
    this._render();
    this._show(true);
    this._link.select();
  }

  async _copy() {
    const copied = await copyFromInput(this._link);
    showNotice(copied ? "Link copied." : "Select the link and copy it.", { level: copied ? "success" : "info" });
  }

  /** @param {HTMLButtonElement} button */
  async _stop(button) {
    button.disabled = true;
    try {
      await apiFetch("DELETE", `${this._api}?path=${encodeURIComponent(this._path)}`);
      this._url = "";
      this._render();
      this._show(false);
      showNotice("Sharing stopped: the link no longer works.", { level: "success" });
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  }

  _render() {
    this._link.value = this._url ? new URL(this._url, window.location.origin).href : "";
    this._button.textContent = this._url ? "Shared" : "Share";
  }

  /** @param {boolean} visible */
  _show(visible) {
    this._panel.hidden = !visible;
    this._button.setAttribute("aria-expanded", String(visible));
  }
}
