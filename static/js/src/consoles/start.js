/**
 * Start buttons of the consoles page: each one creates a console through the
 * API, then opens its page.
 *
 * `<button data-start data-executable="python3.11" data-arguments='["-q"]'>`
 * starts a program; `<button data-start data-launcher="<id>">` starts one of
 * the user's saved launchers.
 */
import { apiFetch } from "../lib/api.js";
import { showError } from "../lib/notice.js";
import { closestToTarget } from "../lib/dom.js";

/**
 * The JSON body for a start button.
 * @param {HTMLButtonElement} button
 * @param {string} workingDirectory the directory chosen on the page ("" for the default).
 * @returns {{launcher: string} | {executable: string, arguments: string[], working_directory?: string}}
 */
export function startRequest(button, workingDirectory) {
  const { launcher, executable, arguments: argumentsJson } = button.dataset;
  if (launcher) return { launcher };
  if (!executable) {
    throw new Error("This start button has neither data-executable nor data-launcher.");
  }
  const args = argumentsJson ? JSON.parse(argumentsJson) : [];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
    throw new Error("A start button's data-arguments must be a JSON array of strings.");
  }
  /** @type {{executable: string, arguments: string[], working_directory?: string}} */
  const body = { executable, arguments: args };
  if (workingDirectory) body.working_directory = workingDirectory;
  return body;
}

/**
 * Start buttons anywhere in `page`.
 * @param {HTMLElement} page
 * @param {string} apiBase `/api/v0/user/<u>/`
 * @param {() => string} workingDirectory
 */
export function wireStartButtons(page, apiBase, workingDirectory) {
  page.addEventListener("click", async (event) => {
    const button = closestToTarget(event, "button[data-start]", HTMLButtonElement);
    if (!button) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const created = await apiFetch("POST", `${apiBase}consoles/`, startRequest(button, workingDirectory()));
      window.location.assign(created.console_url);
    } catch (error) {
      showError(error);
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
}
