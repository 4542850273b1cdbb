/**
 * The editor's two file requests, which need HTTP headers that `apiFetch`
 * does not expose: the file's version travels as an ETag, sent back in
 * `If-Match` so a save never silently replaces changes made elsewhere.
 */
import { ApiError, readCookie } from "../lib/api.js";
import { errorMessage } from "../lib/notice.js";

/** Bytes of a file looked at to decide that it is binary (as the server does). */
const BINARY_SNIFF_BYTES = 8192;

/**
 * @param {string} method
 * @param {string} url
 * @param {{headers?: Record<string, string>, body?: string}} [request]
 * @returns {Promise<Response>}
 */
async function send(method, url, { headers = {}, body } = {}) {
  const xsrf = readCookie("_xsrf");
  /** @type {Record<string, string>} */
  const sent = { ...headers };
  if (xsrf) sent["X-XSRFToken"] = xsrf;
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", cache: "no-store", headers: sent };
  if (body !== undefined) init.body = body;
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ApiError(`Could not reach the server (${errorMessage(error)}). Check your connection and try again.`, 0);
  }
}

/**
 * An ApiError carrying the server's `{"detail"}` for a failed response.
 * @param {Response} response
 * @param {string} action what failed, for the message without a detail.
 * @returns {Promise<ApiError>}
 */
async function failure(response, action) {
  let detail = "";
  try {
    const data = JSON.parse(await response.text());
    if (data && typeof data.detail === "string") detail = data.detail;
  } catch {
    // Not JSON (a proxy's error page, say): fall back to the status line.
  }
  return new ApiError(detail || `${action} failed: ${response.status} ${response.statusText}`.trim(), response.status);
}

/**
 * Save text to a file.
 *
 * @param {string} url the file's `files/path…` API URL.
 * @param {string} content
 * @param {string | null} etag the version the text was based on; null
 *   overwrites whatever is on disk.
 * @returns {Promise<string | null>} the saved version's ETag.
 * @throws {ApiError} status 409 when the file changed on disk since `etag`.
 */
export async function saveFile(url, content, etag) {
  /** @type {Record<string, string>} */
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (etag) headers["If-Match"] = etag;
  const response = await send("PUT", url, { headers, body: JSON.stringify({ content }) });
  if (!response.ok) throw await failure(response, "Saving");
  const header = response.headers.get("ETag");
  if (header) return header;
  try {
    const data = JSON.parse(await response.text());
    return typeof data?.etag === "string" ? data.etag : null;
  } catch {
    return null;
  }
}

/**
 * Read a file as the editor shows it: UTF-8, with invalid bytes replaced
 * (`lossy` says whether any were) and a byte-order mark kept, so saving
 * gives back the same bytes.
 *
 * @param {string} url the file's `files/path…` API URL.
 * @returns {Promise<{content: string, etag: string | null, lossy: boolean, binary: boolean}>}
 */
export async function loadFile(url) {
  const response = await send("GET", url);
  if (!response.ok) throw await failure(response, "Reading the file");
  const bytes = new Uint8Array(await response.arrayBuffer());
  const binary = bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0);
  let content;
  let lossy = false;
  try {
    content = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    content = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    lossy = true;
  }
  return { content, etag: response.headers.get("ETag"), lossy, binary };
}
