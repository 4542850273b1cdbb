/**
 * Saving the editor's text: unsaved-changes tracking, one save at a time,
 * and conflicts with changes made to the file elsewhere (another tab, a
 * console, the API), which the user settles by reloading or overwriting.
 */
import { loadFile, saveFile } from "./file_api.js";
import { ApiError } from "../lib/api.js";
import { errorMessage } from "../lib/notice.js";

const LOSSY_QUESTION =
  "This file contains bytes that are not valid UTF-8; the editor shows them as \uFFFD. " +
  "Saving writes \uFFFD in their place, so the original bytes are lost. Save anyway?";

export class FileSaver {
  /**
   * @param {import("@codemirror/view").EditorView} view
   * @param {{
   *   url: string,
   *   etag: string | null,
   *   lossy: boolean,
   *   onDirty: (dirty: boolean) => void,
   *   onStatus: (text: string, level: "info" | "success" | "error") => void,
   *   onConflict: (detail: string) => void,
   * }} options `url` is the file's `files/path…` API URL, `etag` the
   *   version the page loaded.
   */
  constructor(view, { url, etag, lossy, onDirty, onStatus, onConflict }) {
    this._view = view;
    this._url = url;
    this._etag = etag;
    this._lossy = lossy;
    this._savedDoc = view.state.doc;
    this._dirty = false;
    this._onDirty = onDirty;
    this._onStatus = onStatus;
    this._onConflict = onConflict;
    /** @type {Promise<unknown>} the last save or reload asked for, which the next one waits for. */
    this._queue = Promise.resolve();
  }

  /** Whether the text differs from what was last loaded or saved. */
  get dirty() {
    return this._dirty;
  }

  /** Recompute `dirty` after the document changed (call from an update listener). */
  documentChanged() {
    this._setDirty(!this._view.state.doc.eq(this._savedDoc));
  }

  /**
   * Save the current text; saves asked for while one runs wait their turn.
   *
   * @param {{overwrite?: boolean, quiet?: boolean}} [options] `overwrite`
   *   saves even if the file changed on disk (the answer to a conflict);
   *   `quiet` says nothing when there was nothing to save.
   * @returns {Promise<boolean>} whether the file on disk now holds the text.
   */
  save(options = {}) {
    const result = this._queue.then(() => this._saveNow(options));
    this._queue = result.catch(() => {});
    return result;
  }

  /** Throw away local changes and show the file as it is on disk now. */
  reload() {
    const result = this._queue.then(() => this._reloadNow());
    this._queue = result.catch(() => {});
    return result;
  }

  /**
   * @param {{overwrite?: boolean, quiet?: boolean}} options as for `save`.
   * @returns {Promise<boolean>}
   */
  async _saveNow({ overwrite = false, quiet = false }) {
    const doc = this._view.state.doc;
    if (!overwrite && doc.eq(this._savedDoc)) {
      if (!quiet) this._onStatus("No changes to save.", "info");
      return true;
    }
    if (this._lossy && !window.confirm(LOSSY_QUESTION)) {
      this._onStatus("Not saved.", "info");
      return false;
    }
    this._onStatus("Saving…", "info");
    try {
      this._etag = await saveFile(this._url, doc.toString(), overwrite ? null : this._etag);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this._onStatus("Not saved: the file changed on disk.", "error");
        this._onConflict(error.message);
      } else {
        this._onStatus(`Not saved: ${errorMessage(error)}`, "error");
      }
      return false;
    }
    this._lossy = false;
    this._savedDoc = doc;
    this.documentChanged();
    this._onStatus(`Saved at ${new Date().toLocaleTimeString()}.`, "success");
    return true;
  }

  /** @returns {Promise<boolean>} whether the editor now shows the file on disk. */
  async _reloadNow() {
    this._onStatus("Reloading…", "info");
    let file;
    try {
      file = await loadFile(this._url);
    } catch (error) {
      this._onStatus(`Could not reload: ${errorMessage(error)}`, "error");
      return false;
    }
    if (file.binary) {
      // The editor cannot show it any more; the page explains what can be done.
      window.location.reload();
      return false;
    }
    const view = this._view;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: file.content } });
    this._savedDoc = view.state.doc;
    this._etag = file.etag;
    this._lossy = file.lossy;
    this.documentChanged();
    this._onStatus("Reloaded from disk; Undo brings your changes back.", "success");
    return true;
  }

  /** @param {boolean} dirty */
  _setDirty(dirty) {
    if (dirty === this._dirty) return;
    this._dirty = dirty;
    this._onDirty(dirty);
  }
}
