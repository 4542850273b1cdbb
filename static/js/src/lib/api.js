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
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await sendRequest(method, url, {
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = response.status === 204 ? "" : await response.text();
  if (!response.ok) throw failure(response, text, `${method} ${url}`);
  const data = parseJson(text);
  return text ? (data === undefined ? text : data) : null;
}

/**
 * Send a request with the page's session cookie and XSRF token, for the
 * calls whose body or headers are not JSON's (file contents, uploads,
 * ETags). API answers are never taken from the browser's cache.
 *
 * @param {string} method
 * @param {string} url
 * @param {{headers?: Record<string, string>, body?: BodyInit}} [request]
 * @returns {Promise<Response>} whatever its status.
 * @throws {ApiError} status 0 when the server could not be reached.
 */
export async function sendRequest(method, url, { headers = {}, body } = {}) {
  /** @type {Record<string, string>} */
  const sent = { ...headers };
  const xsrf = readCookie("_xsrf");
  if (xsrf) sent["X-XSRFToken"] = xsrf;
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", cache: "no-store", headers: sent };
  if (body !== undefined) init.body = body;
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ApiError(
      `Could not reach the server (${errorMessage(error)}). Check your connection and try again.`,
      0,
    );
  }
}

/**
 * The error for a failed response: the server's `{"detail"}`, else what
 * failed and the status line.
 *
 * @param {Response} response
 * @param {string} text the response's body.
 * @param {string} action what failed ("Saving", "GET /api/…").
 * @returns {ApiError}
 */
export function failure(response, text, action) {
  return new ApiError(
    detailIn(text) || `${action} failed: ${response.status} ${response.statusText}`.trim(),
    response.status,
  );
}

/**
 * The server's `{"detail": ...}` message in a response body, or "" for a
 * body without one (a proxy's HTML error page, say).
 * @param {string} text
 * @returns {string}
 */
export function detailIn(text) {
  const data = parseJson(text);
  return data && typeof data.detail === "string" ? data.detail : "";
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
