/**
 * New file, new directory and rename on the Files page, through the files
 * API. Deleting uses app.js's shared `button[data-api-delete]` behaviour.
 */
import { ApiError, apiFetch, failure, sendRequest } from "../lib/api.js";
import { editorPageUrl, fileApiUrl, resolveName } from "./paths.js";

export class EntryActions {
  /**
   * @param {{owner: string, apiBase: string, directory: string}} place
   *   `directory` is the visible path shown, ending in "/".
   */
  constructor({ owner, apiBase, directory }) {
    this._owner = owner;
    this._apiBase = apiBase;
    this._directory = directory;
  }

  /**
   * The names in the directory now, asked of the server rather than read off
   * the page, which may be out of date.
   * @returns {Promise<Set<string>>}
   */
  async existingNames() {
    const listing = await apiFetch("GET", fileApiUrl(this._apiBase, this._directory));
    return new Set(Object.keys(listing || {}));
  }

  /**
   * Create an empty file and open it in the editor.
   * @param {string} typed the name (or a path) the user typed.
   */
  async newFile(typed) {
    const path = resolveName(this._directory, typed);
    if (path.endsWith("/")) throw new Error("A file name cannot end with “/”.");
    if (await this._exists(path)) {
      throw new Error(`${path} already exists; pick another name, or open it from the list.`);
    }
    const form = new FormData();
    form.append("content", new Blob([], { type: "text/plain" }), path.slice(path.lastIndexOf("/") + 1));
    await this._postForm(fileApiUrl(this._apiBase, path), form);
    window.location.assign(editorPageUrl(this._owner, path));
  }

  /**
   * Create a directory (and any missing parents), then show the listing again.
   * @param {string} typed
   */
  async newDirectory(typed) {
    const path = resolveName(this._directory, typed).replace(/\/+$/, "");
    await apiFetch("POST", `${this._apiBase}files/mkdir/`, { path });
    window.location.reload();
  }

  /**
   * Rename or move an entry; a new name with a "/" in it moves it (relative
   * to this directory, or absolute).
   * @param {string} name the entry's current name in this directory.
   * @returns {Promise<boolean>} false when the user cancelled.
   */
  async rename(name) {
    const typed = window.prompt(`New name for ${name} (a path moves it):`, name);
    if (typed === null || typed.trim() === name) return false;
    const to = resolveName(this._directory, typed).replace(/\/+$/, "");
    await apiFetch("POST", `${this._apiBase}files/rename/`, { from: this._directory + name, to });
    window.location.reload();
    return true;
  }

  /**
   * Whether a path exists, from its parent's listing (a missing parent means no).
   * @param {string} path
   * @returns {Promise<boolean>}
   */
  async _exists(path) {
    const slash = path.lastIndexOf("/");
    try {
      const listing = await apiFetch("GET", fileApiUrl(this._apiBase, path.slice(0, slash + 1)));
      // Not Object.hasOwn: the browsers supported include Chrome 90 and Safari 15, which lack it.
      return Object.prototype.hasOwnProperty.call(listing || {}, path.slice(slash + 1));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * @param {string} url
   * @param {FormData} form
   */
  async _postForm(url, form) {
    const response = await sendRequest("POST", url, { headers: { Accept: "application/json" }, body: form });
    if (!response.ok) throw failure(response, await response.text(), "Creating the file");
  }
}
