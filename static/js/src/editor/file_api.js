/**
 * The editor's two file requests, which need HTTP headers that `apiFetch`
 * does not expose: the file's version travels as an ETag, sent back in
 * `If-Match` so a save never silently replaces changes made elsewhere.
 */
import { failure, sendRequest } from "../lib/api.js";

/** Bytes of a file looked at to decide that it is binary (as the server does). */
const BINARY_SNIFF_BYTES = 8192;

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
  const response = await sendRequest("PUT", url, { headers, body: JSON.stringify({ content }) });
  if (!response.ok) throw failure(response, await response.text(), "Saving");
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
  const response = await sendRequest("GET", url);
  if (!response.ok) throw failure(response, await response.text(), "Reading the file");
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
