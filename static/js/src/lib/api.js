/**
 * Calls to the IDE's JSON API from the pages.
 *
 * The pages use the same API v0 endpoints as scripts do, authenticated by the
 * session cookie; Tornado then insists on the XSRF token on every write, which
 * it reads from the `X-XSRFToken` header.
 */
import { errorMessage } from "./notice.js";

/** An API call that failed; `message` is the server's `detail`, fit to show a user. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status HTTP status, or 0 when the server was not reached.
   */
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * The value of a cookie, or "" when the page has none of that name.
 * @param {string} name
 * @returns {string}
 */
export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const separator = part.indexOf("=");
    if (separator < 0) continue;
    if (part.slice(0, separator).trim() === name) {
      return decodeURIComponent(part.slice(separator + 1).trim());
    }
  }
  return "";
}

/**
 * Send a JSON request and return the decoded JSON answer (null for 204).
 *
 * @param {string} method GET, POST, PUT or DELETE.
 * @param {string} url
 * @param {unknown} [body] sent as JSON when given.
 * @returns {Promise<any>}
 * @throws {ApiError} carrying the server's `{"detail": ...}` message.
 */
export async function apiFetch(method, url, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const xsrf = readCookie("_xsrf");
  if (xsrf) headers["X-XSRFToken"] = xsrf;

  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(
      `Could not reach the server (${errorMessage(error)}). Check your connection and try again.`,
      0,
    );
  }
  const text = response.status === 204 ? "" : await response.text();
  const data = parseJson(text);
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : "";
    throw new ApiError(
      detail || `${method} ${url} failed: ${response.status} ${response.statusText}`.trim(),
      response.status,
    );
  }
  return text ? (data === undefined ? text : data) : null;
}

/**
 * JSON.parse that gives undefined for text that is not JSON (an HTML error page, say).
 * @param {string} text
 * @returns {any}
 */
function parseJson(text) {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
