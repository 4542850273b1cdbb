/**
 * The editor's "Reload <domain>" button, shown when the open file is a web
 * app's WSGI file or lies in its source directory: save, reload the app
 * through the API, then say whether it runs, with its last start error and a
 * link to its error log when it does not.
 */
import { apiFetch } from "../lib/api.js";
import { errorMessage } from "../lib/notice.js";

/**
 * @typedef {{domain: string, url: string, reload_url: string, error_log: string}} EditorWebapp
 * @typedef {(text: string, level: "info" | "success" | "error") => void} ShowStatus
 */

/**
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} result where the outcome is written (the error log link too).
 * @param {EditorWebapp} webapp
 * @param {() => Promise<boolean>} save saves the file first; false when that failed.
 * @param {ShowStatus} showStatus
 */
export function wireWebappReload(button, result, webapp, save, showStatus) {
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    result.hidden = true;
    showStatus(`Reloading ${webapp.domain}…`, "info");
    try {
      if (!(await save())) return;
      await apiFetch("POST", webapp.reload_url);
      const state = await apiFetch("GET", webapp.url);
      if (state.state === "running") {
        showStatus(`Reloaded ${webapp.domain}: it is running.`, "success");
      } else {
        showStatus(`${webapp.domain} did not start.`, "error");
        showFailure(result, webapp, state.last_error || `It is ${state.state}.`);
      }
    } catch (error) {
      showStatus(`Reloading ${webapp.domain} failed: ${errorMessage(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}

/**
 * @param {HTMLElement} result
 * @param {EditorWebapp} webapp
 * @param {string} error
 */
function showFailure(result, webapp, error) {
  result.replaceChildren();
  const message = document.createElement("pre");
  message.className = "webapp-reload-error";
  message.textContent = error;
  const link = document.createElement("a");
  link.href = webapp.error_log;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = `Open ${webapp.domain}'s error log`;
  result.append(message, link);
  result.hidden = false;
}
