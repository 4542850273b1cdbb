/**
 * Behaviours shared by every page, driven by data attributes in the templates:
 *
 * - `<form data-api="/api/v0/..." data-method="POST">` sends its fields as a
 *   JSON object to that URL, then reloads the page; with
 *   `data-result-target="#selector"` it shows the answer in that element
 *   instead (for a value shown once, such as a new API token; pick the
 *   answer's field with `data-result-field`).
 * - `<button data-api-delete="/api/v0/..." data-confirm="Really?">` asks,
 *   sends DELETE, then reloads.
 * - `<time datetime="..." data-local>` (a UTC time) gets the viewer's local
 *   time beside it.
 *
 * Failures are shown with the server's own `detail` message.
 */
import { apiFetch, ApiError, readCookie } from "./lib/api.js";
import { showError, showNotice } from "./lib/notice.js";
import { closestToTarget, submitterOf } from "./lib/dom.js";

export { apiFetch, ApiError, readCookie, showError, showNotice };

/**
 * A form's fields as a JSON object: checkboxes become booleans, number inputs
 * numbers (null when empty), multiple selects arrays. Tornado's `_xsrf` field
 * is left out: the token travels in a header.
 * @param {HTMLFormElement} form
 * @returns {Record<string, unknown>}
 */
export function formToJson(form) {
  /** @type {Record<string, unknown>} */
  const data = {};
  for (const field of form.elements) {
    const isControl =
      field instanceof HTMLInputElement || field instanceof HTMLSelectElement || field instanceof HTMLTextAreaElement;
    if (!isControl) continue;
    const name = field.name;
    if (!name || name === "_xsrf" || field.disabled) continue;
    if (field instanceof HTMLInputElement && field.type === "checkbox") {
      data[name] = field.checked;
    } else if (field instanceof HTMLInputElement && field.type === "radio") {
      if (field.checked) data[name] = field.value;
    } else if (field.type === "number" || field.type === "range") {
      data[name] = field.value === "" ? null : Number(field.value);
    } else if (field instanceof HTMLSelectElement && field.type === "select-multiple") {
      data[name] = Array.from(field.selectedOptions, (option) => option.value);
    } else if (field.type !== "submit" && field.type !== "button" && field.type !== "file") {
      data[name] = field.value;
    }
  }
  return data;
}

/**
 * The part of an API answer to show in a result element: the named field,
 * a bare string, the only value of a one-field object, or else the JSON.
 * @param {unknown} result
 * @param {string | undefined} field
 * @returns {string}
 */
function resultText(result, field) {
  if (field) {
    const value = result && typeof result === "object" ? /** @type {Record<string, unknown>} */ (result)[field] : undefined;
    return String(value ?? "");
  }
  if (typeof result === "string") return result;
  if (result && typeof result === "object") {
    const values = Object.values(result);
    if (values.length === 1 && typeof values[0] === "string") return values[0];
  }
  return JSON.stringify(result, null, 2);
}

/**
 * @param {HTMLFormElement} form a `form[data-api]`.
 * @param {HTMLButtonElement | HTMLInputElement | null} submitter
 */
async function submitApiForm(form, submitter) {
  const method = (form.dataset.method || "POST").toUpperCase();
  /** @type {(HTMLButtonElement | HTMLInputElement)[]} */
  const buttons = submitter
    ? [submitter]
    : Array.from(form.querySelectorAll("button, input[type=submit]")).filter(
        (element) => element instanceof HTMLButtonElement || element instanceof HTMLInputElement,
      );
  buttons.forEach((button) => (button.disabled = true));
  try {
    const result = await apiFetch(method, form.dataset.api || "", formToJson(form));
    const targetSelector = form.dataset.resultTarget;
    if (!targetSelector) {
      window.location.reload();
      return;
    }
    const target = document.querySelector(targetSelector);
    if (!(target instanceof HTMLElement)) throw new Error(`This page has no element ${targetSelector} to show the result in.`);
    target.textContent = resultText(result, form.dataset.resultField);
    target.hidden = false;
  } catch (error) {
    showError(error);
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

/** @param {HTMLButtonElement} button a `button[data-api-delete]`. */
async function deleteFromButton(button) {
  const question = button.dataset.confirm;
  if (question && !window.confirm(question)) return;
  button.disabled = true;
  try {
    await apiFetch("DELETE", button.dataset.apiDelete || "");
    window.location.reload();
  } catch (error) {
    showError(error);
    button.disabled = false;
  }
}

document.addEventListener("submit", (event) => {
  const form = closestToTarget(event, "form[data-api]", HTMLFormElement);
  if (!form) return;
  event.preventDefault();
  submitApiForm(form, submitterOf(event));
});

document.addEventListener("click", (event) => {
  const button = closestToTarget(event, "button[data-api-delete]", HTMLButtonElement);
  if (!button) return;
  event.preventDefault();
  deleteFromButton(button);
});

/**
 * The viewer's local time beside a UTC time, e.g. "(07:05 your time)", with
 * the day when it differs.
 * @param {HTMLTimeElement} element
 */
function addLocalTime(element) {
  const moment = new Date(element.dateTime);
  if (Number.isNaN(moment.getTime())) return;
  const sameDay = moment.toDateString() === new Date(element.dateTime.slice(0, 10) + "T12:00:00").toDateString();
  const options = /** @type {Intl.DateTimeFormatOptions} */ (
    sameDay ? { hour: "2-digit", minute: "2-digit" } : { weekday: "short", hour: "2-digit", minute: "2-digit" }
  );
  const local = document.createElement("span");
  local.className = "muted local-time";
  local.textContent = ` (${moment.toLocaleString(undefined, options)} your time)`;
  element.after(local);
}

document.querySelectorAll("time[data-local]").forEach((element) => {
  if (element instanceof HTMLTimeElement) addLocalTime(element);
});
